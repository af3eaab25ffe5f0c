//! Streaming reference profiles: drift of a window from exact integer counts
//! on bins frozen once from the reference (no I/O).
//!
//! Recomputing drift from raw reference rows for every window is what
//! offline tools do. Here a [`ReferenceProfile`] is computed **once** from
//! the reference columns ([`ReferenceProfile::from_columns`]) and stored by
//! the caller (it is `serde` Serialize/Deserialize, with a `format_version`;
//! [`ReferenceProfile::to_json`] / [`ReferenceProfile::from_json`] are
//! conveniences). A window is summarised as [`WindowCounts`]: exact `u64`
//! counts on the profile's frozen bins, which [`WindowCounts::merge`] adds
//! across partitions and instances (ship them with
//! [`WindowCounts::snapshot`] / [`WindowCounts::from_snapshot`]).
//! [`profile_drift`] then computes every statistic from those counts, plus
//! KS and Wasserstein when the window's raw numeric values are supplied.
//!
//! ## What a profile holds
//! * **Numeric feature**: interior bin edges = the reference quantiles at
//!   `k / bins`, `k = 1 … bins−1` (default 10 bins: deciles), computed as
//!   `numpy.quantile(x, numpy.arange(1, bins) / bins)` with numpy's default
//!   `method='linear'` (Hyndman–Fan R‑7, numpy's `_lerp`). Equal edges
//!   (ties) are collapsed, so there are at most `bins` bins. Bins are
//!   right-closed with open ends: `(-inf, e₁], (e₁, e₂], …, (e_last, +inf)`;
//!   a value `x` falls in bin `#{edges < x}`. Also: reference counts per
//!   bin, `n`, null count (null, NaN and ±inf), mean, std (ddof 0), min,
//!   max, the number of distinct values, and the reference sample KS and
//!   Wasserstein need (see *Exact and sketch mode*).
//! * **Categorical feature**: the `max_categories` (default 100) most
//!   frequent categories (ties broken by the smaller value), kept in value
//!   order, with their counts; every other reference value is pooled in an
//!   `__other__` bucket ([`OTHER_BUCKET`]); `n`, null count, number of
//!   distinct reference categories.
//!
//! ## Window counts and unseen categories
//! A window counts, per feature, its values on the same bins plus its nulls.
//! For a categorical feature the last bucket is `__other__`: every value that
//! is not one of the profile's categories — a reference tail category or a
//! category **never seen in the reference**. There is deliberately no
//! separate "unseen" bucket: telling them apart would need the full,
//! unbounded reference category set. When the reference had at most
//! `max_categories` categories ([`CategoricalProfile::is_complete`]) the
//! reference `__other__` count is 0, so the window's `__other__` count is
//! exactly its mass of new categories; its drift shows up as an infinite
//! chi-squared statistic and a large PSI/KL, as in Evidently.
//! [`FeatureDrift::window_other_count`] reports it.
//!
//! ## Exact and sketch mode (KS, Wasserstein)
//! When the reference has `n ≤ exact_limit` (default 100 000) non-null
//! values the profile keeps the **exact sorted reference**, and KS and
//! Wasserstein equal [`ks_2samp`](crate::ks_2samp) and
//! [`wasserstein_distance`](crate::wasserstein_distance) on the raw data
//! bit for bit. Otherwise it keeps a deterministic **quantile sketch** of
//! `m = exact_limit` order statistics, `s_i = x_(⌈(i+1)·n/m⌉)` (1-based,
//! `i = 0 … m−1`), each weighted `1/m`. With `F` the reference ECDF and `G`
//! the sketch ECDF, `G(t) = ⌊m·F(t)⌋/m`, hence `0 ≤ F − G < 1/m`
//! everywhere, and by the triangle inequality for any window ECDF:
//! * `|D_sketch − D| ≤ sup|F − G| < 1/m` for the KS statistic (plus
//!   scipy's exact-mode rounding, `≤ 1/(2·lcm(n, n_window))`, when
//!   `max(n, n_window) ≤ 10000`);
//! * `|W_sketch − W| ≤ ∫|F − G| ≤ (max − min)/m` for Wasserstein-1.
//!
//! The profile stores the two exact values `sup|F − G|` and `∫|F − G|`
//! ([`ReferenceSample::Sketch`]), and [`FeatureDrift::sketch_bounds`] reports
//! the resulting bounds for each result. In sketch mode the KS **p-value is
//! approximate**: scipy's p-value function (exact or `kstwo` asymptotic)
//! evaluated with the true sizes `(n, n_window)` at the approximate
//! statistic. The binned statistics (PSI, JS, KL, Hellinger, chi-squared, Z),
//! mean, std, min and max are always exact.
//!
//! ## Differences from the offline, Evidently-compatible path
//! [`column_drift`](crate::column_drift) bins like Evidently: for a numeric
//! column whose reference has more than 20 distinct values the edges are
//! `numpy.histogram_bin_edges(reference ∪ current, "sturges")`, *recomputed
//! for every comparison*; otherwise (and for categorical columns) one bin
//! per distinct value of `reference ∪ current`. A profile differs exactly so:
//! 1. **Numeric bins** are the frozen reference quantile bins above, with
//!    open ends, whatever the number of distinct values. The binned
//!    statistics coincide with the offline ones exactly when every frozen
//!    bin that is non-empty on some side holds a single distinct value of
//!    `reference ∪ window` (e.g. ≤ 10 distinct values, equally frequent, the
//!    window drawn from them). **Categorical bins** coincide with
//!    Evidently's when the reference has ≤ `max_categories` categories and
//!    the window at most one category outside them (Evidently gives every
//!    new category its own bin; here they share `__other__`).
//! 2. **Bins empty on both sides are skipped** by PSI, KL, JS, Hellinger and
//!    chi-squared (Evidently's value bins are never empty on both sides, and
//!    [`chisquare_counts`](crate::chisquare_counts) drops them anyway; for
//!    PSI/KL they would otherwise add a spurious term through the per-array
//!    zero filling). [`ColumnStats::bins`](crate::ColumnStats::bins) still lists every frozen bin, in
//!    profile order (numeric bins ascending; categories in value order, then
//!    `__other__`).
//! 3. **Hellinger** of a numeric feature is the proportion Hellinger on the
//!    frozen bins, not Evidently's Sturges density histogram over distinct
//!    values ([`hellinger_numeric`](crate::hellinger_numeric)).
//! 4. **Z-test** is computed from bin counts: the first non-empty bin (in
//!    profile order, `__other__` last) against the rest. It equals
//!    Evidently's when the bins are one value each.
//! 5. **Default test** is [`default_test`](crate::default_test) with the *reference's* `n` and
//!    number of distinct values (Evidently uses `reference ∪ current`), so a
//!    feature's test does not change from window to window. When it is KS or
//!    Wasserstein and no raw values are supplied, the binned test of the same
//!    size regime is used instead: KS → chi-squared, Wasserstein →
//!    Jensen–Shannon. Integer columns are categorical when the
//!    *reference* has ≤ 10 distinct values (Evidently looks at the current
//!    data).
//!
//! **Why.** Only bins fixed in advance make window counts mergeable: Sturges
//! edges depend on the pooled range and size of each comparison, so counts
//! of two partitions (or two windows) are on different bins and cannot be
//! added. Quantile bins are robust to outliers: one reference value at `1e9`
//! stretches Sturges bins so that all ordinary data share one bin, whereas
//! decile bins keep ~10 % of the reference each, which also keeps PSI's
//! `ln(r/c)` terms away from near-empty reference bins. Open ends catch
//! out-of-range window values (Sturges edges are recomputed to cover them;
//! frozen edges would otherwise drop them).
//!
//! ## Worked example
//! Reference `0, 1, …, 999`: the deciles are `99.9, 199.8, …, 899.1`
//! (`(n−1)·k/10` interpolated), ten bins of 100 values each. A window of 200
//! values `1000 … 1199` lies entirely above the reference: all 200 land in
//! the open last bin `(899.1, +inf)`. Window proportions are
//! `[0, …, 0, 1]` against `[0.1; 10]`; after Evidently's zero filling
//! (`1e-4`) PSI is `9·(0.1 − 1e-4)·ln(0.1/1e-4) + (0.1 − 1)·ln(0.1) ≈ 8.28`.
//! The offline path would instead build 12 Sturges bins over `0 … 1199` and
//! recompute them for the next window.
//!
//! ```
//! use feedloop_drift::ColumnData;
//! use feedloop_drift::profile::*;
//!
//! let reference: Vec<f64> = (0..1000).map(f64::from).collect();
//! let profile = ReferenceProfile::from_columns(
//!     &[("x", ColumnData::Float(&reference))],
//!     &ProfileConfig::default(),
//! )?;
//! let mut window = WindowCounts::new(&profile);
//! for v in 1000..1200 {
//!     window.observe_numeric("x", f64::from(v))?;
//! }
//! let drift = profile_drift(&profile, &window, &ProfileDriftOptions::default())?;
//! let x = &drift.features["x"];
//! assert_eq!(x.result.stats.bins.current, [0, 0, 0, 0, 0, 0, 0, 0, 0, 200]);
//! assert!((x.result.stats.psi - 8.28).abs() < 0.01);
//! // n = 1000 > 1000 is false: Evidently's default would be KS, which needs
//! // raw values; without them chi-squared is used.
//! assert_eq!(x.result.test, feedloop_drift::StatTest::ChiSquare);
//! assert!(x.result.drift);
//! # Ok::<(), ProfileError>(())
//! ```
//!
//! ## Layout
//! `format` holds the stored types (with `lenient_f64`, their serde of
//! non-finite floats) and `value` the value types and stored categories;
//! `build` makes a profile from columns through `numeric` (quantile bins,
//! exact sample or sketch) and `categorical` (top-K); `validate` reads one
//! back (JSON, consistency checks) and `fingerprint` names its bin layout;
//! `window` counts a window on the frozen bins; `compare` computes the drift
//! from those counts, with `sample` for KS and Wasserstein on raw values.
//! Every public item is re-exported here.

mod build;
mod categorical;
mod compare;
mod error;
mod fingerprint;
mod format;
mod lenient_f64;
mod numeric;
mod sample;
mod validate;
mod value;
mod window;

pub use compare::{
    FeatureDrift, FeatureDriftOptions, ProfileDrift, ProfileDriftOptions, profile_drift,
    profile_feature_drift,
};
pub use error::ProfileError;
pub use format::{
    CategoricalProfile, FeatureProfile, NumericProfile, OTHER_BUCKET, PROFILE_FORMAT_VERSION,
    ProfileConfig, ReferenceProfile, ReferenceSample,
};
pub use sample::SketchBounds;
pub use value::{Category, Value, ValueType};
pub use window::{CountsSnapshot, FeatureCounts, SortedValues, WindowCounts};
