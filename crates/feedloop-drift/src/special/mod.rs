//! Special functions: log-gamma, regularized incomplete gamma (chi-squared
//! survival function), the normal CDF, and the two-sided one-sample
//! Kolmogorov–Smirnov distribution `kstwo` used by scipy's asymptotic
//! `ks_2samp` p-value.
//!
//! Sources of truth:
//! * incomplete gamma: Cephes `igam.c` / `igamc.c` (power series for
//!   `x < max(1, a)`, continued fraction otherwise), as historically shipped
//!   in `scipy.special.gammaincc`;
//! * normal CDF: Cephes `ndtr.c` branch structure (`scipy.special.ndtr`);
//! * `kstwo`: `scipy/stats/_ksstats.py::_kolmogn` (Simard & L'Ecuyer 2011)
//!   with its Ruben–Gambino, Durbin/Marsaglia–Tsang–Wang, Pomeranz and
//!   Pelz–Good branches, and `xsf::cephes::smirnov` for the one-sided
//!   Smirnov distribution (evaluated in log space here instead of
//!   double-double arithmetic).
//!
//! One module per family: `gamma` (`ln Γ`, `P`, `Q`, `chi2_sf`), `normal`
//! (`ndtr`), `smirnov` (one-sided KS), `kolmogorov` (two-sided `kstwo`
//! branch selection and Pelz–Good) and `kolmogorov_exact` (its Durbin and
//! Pomeranz finite-`n` algorithms). Every public function is re-exported
//! here, at `feedloop_drift::special::*`.

mod gamma;
mod kolmogorov;
mod kolmogorov_exact;
mod normal;
mod smirnov;

pub use gamma::{chi2_sf, gamma_p, gamma_q, ln_gamma};
pub use kolmogorov::kstwo_sf;
pub use normal::ndtr;
pub use smirnov::smirnov_sf;
