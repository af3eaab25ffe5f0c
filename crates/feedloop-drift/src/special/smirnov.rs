//! The one-sided Smirnov distribution: `P(D_n^+ ≥ x)`
//! (`scipy.special.smirnov`, xsf's Birnbaum–Tingey lower sum evaluated in
//! log space), and the `[0, 1]` clip every KS probability goes through.

use crate::summation::fsum;

const MINLOG: f64 = -7.083_964_185_322_641e2;

/// A probability clipped to `[0, 1]` (NaN stays NaN), as scipy's `np.clip`.
pub(super) fn clip01(p: f64) -> f64 {
    if p.is_nan() { p } else { p.clamp(0.0, 1.0) }
}

/// Survival function of the one-sided Smirnov statistic, `P(D_n^+ ≥ x)`
/// (`scipy.special.smirnov`), via the Birnbaum–Tingey lower sum
/// `x · Σ_{v=0}^{⌊n(1−x)⌋} C(n,v) (1−x−v/n)^{n−v} (x+v/n)^{v−1}`
/// evaluated term by term in log space with compensated summation.
///
/// Only called (by [`kstwo_sf`](crate::special::kstwo_sf)) in the regimes where xsf also uses the
/// lower sum (`x ≥ 0.5` or `n·x² > 2.2`); the special cases of xsf
/// (`x ≤ 1/n`, `x ≥ 1 − 1/n`, underflow, `n > 10^6`) are reproduced.
pub fn smirnov_sf(n: u64, x: f64) -> f64 {
    if n == 0 || x.is_nan() || !(0.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    // Exact floor(n*x) and remainder using an error-free product.
    let p = nf * x;
    let perr = nf.mul_add(x, -p);
    let mut nxfl = p.floor();
    let mut alpha = (p - nxfl) + perr;
    if alpha < 0.0 {
        nxfl -= 1.0;
        alpha += 1.0;
    }
    if alpha >= 1.0 {
        nxfl += 1.0;
        alpha = 0.0;
    }
    if nxfl == 0.0 || (nxfl == 1.0 && alpha == 0.0) {
        let cdf = x * (1.0 + x).powf(nf - 1.0);
        return 1.0 - cdf;
    }
    if -2.0 * nf * x * x < MINLOG {
        return 0.0;
    }
    if nxfl >= nf - 1.0 {
        return (1.0 - x).powf(nf);
    }
    if n > 1_000_000 {
        let logp = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        return if logp < -std::f64::consts::LN_2 {
            logp.exp()
        } else {
            1.0 + logp.exp_m1()
        };
    }
    // Last term index: v with 1 - x - v/n > 0.
    // (When n·x is an integer the term v = n − n·x has a zero factor and is skipped by `a > 0`.)
    let last = n as i64 - nxfl as i64 - if alpha == 0.0 { 0 } else { 1 };
    let mut log_c = 0.0_f64; // ln C(n, v)
    let terms = (0..=last.max(0)).filter_map(|v| {
        let vf = v as f64;
        // 1 - x - v/n = ((n - v) - n x) / n, x + v/n = (v + n x) / n
        let a = ((nf - vf) - p) - perr;
        let b = (vf + p) + perr;
        let term = (a > 0.0).then(|| {
            let lt = log_c + (nf - vf) * (a / nf).ln() + (vf - 1.0) * (b / nf).ln();
            lt.exp()
        });
        log_c += ((nf - vf) / (vf + 1.0)).ln();
        term
    });
    // The terms are positive and sum to `P(D_n^+ ≥ x)/x < n`: the sum stays
    // finite, so `fsum` returns its compensated `sum + comp`.
    clip01(x * fsum(terms))
}
