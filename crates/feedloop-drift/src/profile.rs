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
//! Wasserstein equal [`ks_2samp`] and
//! [`wasserstein_distance`] on the raw data
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
//!    zero filling). [`ColumnStats::bins`] still lists every frozen bin, in
//!    profile order (numeric bins ascending; categories in value order, then
//!    `__other__`).
//! 3. **Hellinger** of a numeric feature is the proportion Hellinger on the
//!    frozen bins, not Evidently's Sturges density histogram over distinct
//!    values ([`hellinger_numeric`](crate::hellinger_numeric)).
//! 4. **Z-test** is computed from bin counts: the first non-empty bin (in
//!    profile order, `__other__` last) against the rest. It equals
//!    Evidently's when the bins are one value each.
//! 5. **Default test** is [`default_test`] with the *reference's* `n` and
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

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::column::{
    ColumnData, ColumnDriftResult, ColumnKind, ColumnStats, DatasetDrift, StatTest, binned_stats,
    dataset_drift, default_test,
};
use crate::distance::{
    BinnedCounts, FKey, ZTestResult, fsum, hellinger, n_distinct_f64, std_ddof0,
    wasserstein_distance,
};
use crate::error::{DriftError, Side};
use crate::ks::{KsResult, ks_2samp, ks_from_statistic, ks_statistic_sorted, sorted};
use crate::special::ndtr;

/// Serde for an `f64` that may be non-finite (JSON has no NaN/inf): finite
/// values are plain numbers (bit-exact round trip), others the strings
/// `"inf"`, `"-inf"`, `"nan"`.
mod lenient_f64 {
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_finite() {
            s.serialize_f64(*x)
        } else if x.is_nan() {
            s.serialize_str("nan")
        } else if *x > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }

    struct V;
    impl Visitor<'_> for V {
        type Value = f64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a number or one of \"inf\", \"-inf\", \"nan\"")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            match v {
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                "nan" => Ok(f64::NAN),
                _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
            }
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        d.deserialize_any(V)
    }
}

/// Version of the serialised profile layout written by this crate.
pub const PROFILE_FORMAT_VERSION: u32 = 1;

/// Name of the bucket pooling every category outside the profile's top-K.
pub const OTHER_BUCKET: &str = "__other__";

/// How a profile is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileConfig {
    /// Number of quantile bins of a numeric feature (≥ 1; default 10, deciles).
    pub bins: usize,
    /// Largest reference kept exactly for KS/Wasserstein; above it a sketch
    /// of `exact_limit` order statistics is kept (≥ 1; default 100 000).
    pub exact_limit: usize,
    /// Categories kept per categorical feature, the rest pooled in
    /// `__other__` (default 100).
    pub max_categories: usize,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            bins: 10,
            exact_limit: 100_000,
            max_categories: 100,
        }
    }
}

impl ProfileConfig {
    fn validate(&self) -> Result<(), ProfileError> {
        if self.bins == 0 {
            return Err(ProfileError::InvalidConfig("bins must be at least 1"));
        }
        if self.exact_limit == 0 {
            return Err(ProfileError::InvalidConfig(
                "exact_limit must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Value type of a feature's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// Floating point.
    Float,
    /// Integer.
    Int,
    /// Boolean.
    Bool,
    /// String.
    Str,
}

impl ValueType {
    /// Name as used in error messages ("float", "integer", "boolean", "string").
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Float => "float",
            ValueType::Int => "integer",
            ValueType::Bool => "boolean",
            ValueType::Str => "string",
        }
    }
}

/// One observed value (for [`WindowCounts::observe`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Null / missing.
    Null,
    /// Boolean.
    Bool(bool),
    /// Integer.
    Int(i64),
    /// Float (NaN and ±inf count as null).
    Float(f64),
    /// String.
    Str(&'a str),
}

impl Value<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
        }
    }
}

/// A stored category. Ordered (and compared) as the offline path orders
/// categories: by type (bool < int < float < string), then by value
/// (`-0.0 == 0.0`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Boolean category.
    Bool(bool),
    /// Integer category.
    Int(i64),
    /// Float category (a float column forced categorical).
    Float(f64),
    /// String category.
    Str(String),
}

/// Borrowed, orderable category key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key<'a> {
    Bool(bool),
    Int(i64),
    Float(FKey),
    Str(&'a str),
}

impl Key<'_> {
    fn to_category(self) -> Category {
        match self {
            Key::Bool(b) => Category::Bool(b),
            Key::Int(i) => Category::Int(i),
            Key::Float(f) => Category::Float(f.0 + 0.0),
            Key::Str(s) => Category::Str(s.to_owned()),
        }
    }
}

impl Category {
    fn key(&self) -> Key<'_> {
        match self {
            Category::Bool(b) => Key::Bool(*b),
            Category::Int(i) => Key::Int(*i),
            Category::Float(f) => Key::Float(FKey(*f)),
            Category::Str(s) => Key::Str(s),
        }
    }

    fn value_type(&self) -> ValueType {
        match self {
            Category::Bool(_) => ValueType::Bool,
            Category::Int(_) => ValueType::Int,
            Category::Float(_) => ValueType::Float,
            Category::Str(_) => ValueType::Str,
        }
    }
}

impl PartialEq for Category {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Category {}
impl PartialOrd for Category {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Category {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// The reference sample KS and Wasserstein are computed against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceSample {
    /// The whole non-null reference, sorted ascending (`n ≤ exact_limit`).
    Exact {
        /// Sorted reference values.
        sorted: Vec<f64>,
    },
    /// `m = exact_limit` order statistics `x_(⌈(i+1)·n/m⌉)`, each weighted `1/m`.
    Sketch {
        /// The sketch points, ascending.
        points: Vec<f64>,
        /// `sup_t |F(t) − G(t)|` between the reference and sketch ECDFs (`< 1/m`):
        /// the bound on the KS statistic's error.
        ks_error: f64,
        /// `∫ |F − G| dt` (`≤ (max − min)/m`): the bound on the Wasserstein error.
        #[serde(with = "lenient_f64")]
        wasserstein_error: f64,
    },
}

/// Profile of a numeric feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericProfile {
    /// Value type of the reference column (float, or integer treated as numeric).
    pub value_type: ValueType,
    /// Non-null reference values.
    pub n: u64,
    /// Null, NaN and ±inf reference values.
    pub null_count: u64,
    /// Mean (compensated sum over the sorted values; non-finite if the sum overflows).
    #[serde(with = "lenient_f64")]
    pub mean: f64,
    /// Standard deviation, ddof 0 ([`std_ddof0`] of the sorted values;
    /// non-finite if the sum of squares overflows).
    #[serde(with = "lenient_f64")]
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Distinct values (`-0.0 == 0.0`).
    pub n_distinct: u64,
    /// Interior bin edges, strictly increasing; `edges.len() + 1` bins.
    pub edges: Vec<f64>,
    /// Reference count per bin.
    pub counts: Vec<u64>,
    /// What KS and Wasserstein are computed against.
    pub reference: ReferenceSample,
}

impl NumericProfile {
    /// Bin of `x` on the frozen, right-closed edges: `#{edges < x}`.
    pub fn bin_index(&self, x: f64) -> usize {
        self.edges.partition_point(|&e| e < x)
    }

    /// Whether KS/Wasserstein use the exact reference.
    pub fn is_exact(&self) -> bool {
        matches!(self.reference, ReferenceSample::Exact { .. })
    }
}

/// Profile of a categorical feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalProfile {
    /// Value type of the categories.
    pub value_type: ValueType,
    /// Non-null reference values.
    pub n: u64,
    /// Null reference values (NaN/±inf for a float column).
    pub null_count: u64,
    /// Distinct reference categories (all of them, not only the kept ones).
    pub n_distinct: u64,
    /// Kept categories (the most frequent), in ascending value order.
    pub categories: Vec<Category>,
    /// Reference count per kept category.
    pub counts: Vec<u64>,
    /// Reference values of every other category (`__other__`).
    pub other_count: u64,
}

impl CategoricalProfile {
    /// Whether every reference category was kept (`__other__` is then
    /// exactly "never seen in the reference").
    pub fn is_complete(&self) -> bool {
        self.other_count == 0
    }

    fn index_of(&self, key: &Key<'_>) -> usize {
        self.categories
            .binary_search_by(|c| c.key().cmp(key))
            .unwrap_or(self.categories.len())
    }
}

/// Profile of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureProfile {
    /// Numeric feature.
    Numeric(NumericProfile),
    /// Categorical feature.
    Categorical(CategoricalProfile),
}

impl FeatureProfile {
    /// Kind of the feature.
    pub fn kind(&self) -> ColumnKind {
        match self {
            FeatureProfile::Numeric(_) => ColumnKind::Numeric,
            FeatureProfile::Categorical(_) => ColumnKind::Categorical,
        }
    }

    /// Non-null reference values.
    pub fn n(&self) -> u64 {
        match self {
            FeatureProfile::Numeric(p) => p.n,
            FeatureProfile::Categorical(p) => p.n,
        }
    }

    /// Null reference values.
    pub fn null_count(&self) -> u64 {
        match self {
            FeatureProfile::Numeric(p) => p.null_count,
            FeatureProfile::Categorical(p) => p.null_count,
        }
    }

    /// Number of frozen bins (categorical: kept categories + `__other__`).
    pub fn n_bins(&self) -> usize {
        match self {
            FeatureProfile::Numeric(p) => p.edges.len() + 1,
            FeatureProfile::Categorical(p) => p.categories.len() + 1,
        }
    }

    /// Reference counts on the frozen bins (categorical: `__other__` last).
    pub fn reference_counts(&self) -> Vec<u64> {
        match self {
            FeatureProfile::Numeric(p) => p.counts.clone(),
            FeatureProfile::Categorical(p) => {
                let mut c = p.counts.clone();
                c.push(p.other_count);
                c
            }
        }
    }

    fn n_distinct(&self) -> u64 {
        match self {
            FeatureProfile::Numeric(p) => p.n_distinct,
            FeatureProfile::Categorical(p) => p.n_distinct,
        }
    }
}

/// A reference profile of named features; serialise it with serde.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceProfile {
    /// Layout version ([`PROFILE_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Configuration the profile was built with.
    pub config: ProfileConfig,
    /// Per-feature profiles.
    pub features: BTreeMap<String, FeatureProfile>,
}

/// Errors of the profile API.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ProfileError {
    /// A statistic's error not tied to one feature (e.g. an invalid threshold).
    #[error(transparent)]
    Drift(#[from] DriftError),
    /// A statistic's error for one feature.
    #[error("feature `{feature}`: {source}")]
    Feature {
        /// The feature.
        feature: String,
        /// The underlying error.
        #[source]
        source: DriftError,
    },
    /// The feature is not in the profile.
    #[error("feature `{0}` is not in the reference profile")]
    UnknownFeature(String),
    /// The same feature was given twice.
    #[error("feature `{0}` was given twice")]
    DuplicateFeature(String),
    /// Invalid [`ProfileConfig`].
    #[error("invalid profile configuration: {0}")]
    InvalidConfig(&'static str),
    /// The serialised profile has an unknown `format_version`.
    #[error("unsupported profile format_version {found} (this build reads {supported})")]
    UnsupportedFormatVersion {
        /// Version found.
        found: u32,
        /// Version supported.
        supported: u32,
    },
    /// The profile is internally inconsistent.
    #[error("invalid profile for feature `{feature}`: {reason}")]
    InvalidProfile {
        /// The feature.
        feature: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The profile could not be (de)serialised.
    #[error("profile JSON: {0}")]
    Json(String),
    /// A value of the wrong type for the feature.
    #[error("feature `{feature}` holds {expected} values, got a {found} value")]
    ValueType {
        /// The feature.
        feature: String,
        /// What the feature accepts.
        expected: &'static str,
        /// What was given.
        found: &'static str,
    },
    /// Window counts belong to a different profile (or were tampered with).
    #[error("window counts were made for a different reference profile")]
    ProfileMismatch,
    /// Raw values were supplied for a categorical feature.
    #[error("raw values were supplied for categorical feature `{0}`")]
    RawValuesForCategorical(String),
    /// KS or Wasserstein was forced but the window's raw values were not supplied.
    #[error("the {test} test of feature `{feature}` needs the window's raw values")]
    RawValuesRequired {
        /// The feature.
        feature: String,
        /// The test.
        test: StatTest,
    },
}

fn feature_err(feature: &str) -> impl Fn(DriftError) -> ProfileError + '_ {
    move |source| ProfileError::Feature {
        feature: feature.to_owned(),
        source,
    }
}

fn invalid(feature: &str, reason: &'static str) -> ProfileError {
    ProfileError::InvalidProfile {
        feature: feature.to_owned(),
        reason,
    }
}

/// `numpy.quantile(sorted, q, method='linear')` on an ascending, non-empty slice.
fn quantile_linear(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let last = sorted[n - 1];
    let v = (n - 1) as f64 * q;
    if v >= (n - 1) as f64 {
        return last;
    }
    let prev = v.floor();
    let i = prev as usize;
    let g = v - prev;
    let (a, b) = (sorted[i], sorted[(i + 1).min(n - 1)]);
    let d = b - a;
    let r = if g >= 0.5 {
        b - d * (1.0 - g)
    } else {
        a + d * g
    };
    if r.is_finite() {
        r
    } else {
        a * (1.0 - g) + b * g
    }
}

fn build_numeric(
    values: Vec<f64>,
    null_count: u64,
    value_type: ValueType,
    config: &ProfileConfig,
) -> Result<NumericProfile, DriftError> {
    if values.is_empty() {
        return Err(DriftError::EmptyInput {
            side: Side::Reference,
        });
    }
    let sorted = sorted(&values);
    drop(values);
    let n = sorted.len();
    let mean = fsum(sorted.iter().copied()) / n as f64;
    let std = std_ddof0(&sorted)?;
    let mut edges: Vec<f64> = Vec::with_capacity(config.bins.saturating_sub(1));
    for k in 1..config.bins {
        let e = quantile_linear(&sorted, k as f64 / config.bins as f64) + 0.0;
        if edges.last().is_none_or(|&l| e > l) {
            edges.push(e);
        }
    }
    let mut counts = vec![0u64; edges.len() + 1];
    // `sorted` is ascending, so bins are filled left to right.
    let mut b = 0usize;
    for &x in &sorted {
        while b < edges.len() && edges[b] < x {
            b += 1;
        }
        counts[b] += 1;
    }
    let m = config.exact_limit;
    let reference = if n <= m {
        ReferenceSample::Exact {
            sorted: sorted.clone(),
        }
    } else {
        let (nn, mm) = (n as u128, m as u128);
        let points: Vec<f64> = (0..mm)
            .map(|i| {
                let k = ((i + 1) * nn).div_ceil(mm); // 1-based order statistic
                sorted[(k as usize).clamp(1, n) - 1]
            })
            .collect();
        let ks_error = ks_statistic_sorted(&sorted, &points);
        let wasserstein_error = wasserstein_distance(&sorted, &points)?;
        ReferenceSample::Sketch {
            points,
            ks_error,
            wasserstein_error,
        }
    };
    Ok(NumericProfile {
        value_type,
        n: n as u64,
        null_count,
        mean,
        std,
        min: sorted[0],
        max: sorted[n - 1],
        n_distinct: n_distinct_f64(&sorted) as u64,
        edges,
        counts,
        reference,
    })
}

fn build_categorical(
    keys: Vec<Key<'_>>,
    null_count: u64,
    value_type: ValueType,
    config: &ProfileConfig,
) -> Result<CategoricalProfile, DriftError> {
    if keys.is_empty() {
        return Err(DriftError::EmptyInput {
            side: Side::Reference,
        });
    }
    let n = keys.len() as u64;
    let mut map: BTreeMap<Key<'_>, u64> = BTreeMap::new();
    for k in keys {
        *map.entry(k).or_default() += 1;
    }
    let n_distinct = map.len() as u64;
    let mut by_freq: Vec<(Key<'_>, u64)> = map.into_iter().collect();
    by_freq.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    by_freq.truncate(config.max_categories);
    by_freq.sort_by(|a, b| a.0.cmp(&b.0));
    let kept: u64 = by_freq.iter().map(|e| e.1).sum();
    Ok(CategoricalProfile {
        value_type,
        n,
        null_count,
        n_distinct,
        categories: by_freq.iter().map(|e| e.0.to_category()).collect(),
        counts: by_freq.iter().map(|e| e.1).collect(),
        other_count: n - kept,
    })
}

fn build_feature(
    data: ColumnData<'_>,
    kind: Option<ColumnKind>,
    config: &ProfileConfig,
) -> Result<FeatureProfile, DriftError> {
    use ColumnKind::{Categorical, Numeric};
    Ok(match data {
        ColumnData::Float(v) => {
            let vals: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
            let nulls = (v.len() - vals.len()) as u64;
            if kind == Some(Categorical) {
                let keys = vals.iter().map(|&x| Key::Float(FKey(x))).collect();
                FeatureProfile::Categorical(build_categorical(
                    keys,
                    nulls,
                    ValueType::Float,
                    config,
                )?)
            } else {
                FeatureProfile::Numeric(build_numeric(vals, nulls, ValueType::Float, config)?)
            }
        }
        ColumnData::Int(v) => {
            let vals: Vec<i64> = v.iter().flatten().copied().collect();
            let nulls = (v.len() - vals.len()) as u64;
            let kind = kind.unwrap_or_else(|| {
                let mut d = vals.clone();
                d.sort_unstable();
                d.dedup();
                if d.len() <= 10 { Categorical } else { Numeric }
            });
            match kind {
                Numeric => FeatureProfile::Numeric(build_numeric(
                    vals.iter().map(|&x| x as f64).collect(),
                    nulls,
                    ValueType::Int,
                    config,
                )?),
                Categorical => FeatureProfile::Categorical(build_categorical(
                    vals.into_iter().map(Key::Int).collect(),
                    nulls,
                    ValueType::Int,
                    config,
                )?),
            }
        }
        ColumnData::Bool(v) => {
            if kind == Some(Numeric) {
                return Err(DriftError::NotNumeric {
                    value_type: "boolean",
                });
            }
            let keys: Vec<Key<'_>> = v.iter().flatten().map(|&b| Key::Bool(b)).collect();
            let nulls = (v.len() - keys.len()) as u64;
            FeatureProfile::Categorical(build_categorical(keys, nulls, ValueType::Bool, config)?)
        }
        ColumnData::Str(v) => {
            if kind == Some(Numeric) {
                return Err(DriftError::NotNumeric {
                    value_type: "string",
                });
            }
            let keys: Vec<Key<'_>> = v.iter().flatten().map(|&s| Key::Str(s)).collect();
            let nulls = (v.len() - keys.len()) as u64;
            FeatureProfile::Categorical(build_categorical(keys, nulls, ValueType::Str, config)?)
        }
    })
}

/// 64-bit FNV-1a.
struct Fnv(u64);
impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.bytes(s.as_bytes());
    }
}

impl ReferenceProfile {
    /// Builds a profile; kinds inferred as described in the module docs
    /// (floats numeric; integers categorical iff the reference has ≤ 10
    /// distinct values; booleans and strings categorical).
    pub fn from_columns(
        columns: &[(&str, ColumnData<'_>)],
        config: &ProfileConfig,
    ) -> Result<Self, ProfileError> {
        let with: Vec<(&str, ColumnData<'_>, Option<ColumnKind>)> =
            columns.iter().map(|&(n, d)| (n, d, None)).collect();
        Self::from_columns_with_kinds(&with, config)
    }

    /// Builds a profile with optional forced kinds per column (a float
    /// column forced categorical keeps one category per value; booleans and
    /// strings cannot be numeric).
    pub fn from_columns_with_kinds(
        columns: &[(&str, ColumnData<'_>, Option<ColumnKind>)],
        config: &ProfileConfig,
    ) -> Result<Self, ProfileError> {
        config.validate()?;
        let mut features = BTreeMap::new();
        for &(name, data, kind) in columns {
            if features.contains_key(name) {
                return Err(ProfileError::DuplicateFeature(name.to_owned()));
            }
            let f = build_feature(data, kind, config).map_err(feature_err(name))?;
            features.insert(name.to_owned(), f);
        }
        Ok(ReferenceProfile {
            format_version: PROFILE_FORMAT_VERSION,
            config: *config,
            features,
        })
    }

    /// Serialises to JSON (floats round-trip bit for bit).
    pub fn to_json(&self) -> Result<String, ProfileError> {
        serde_json::to_string(self).map_err(|e| ProfileError::Json(e.to_string()))
    }

    /// Deserialises from JSON and [`validate`](Self::validate)s.
    pub fn from_json(json: &str) -> Result<Self, ProfileError> {
        let p: ReferenceProfile =
            serde_json::from_str(json).map_err(|e| ProfileError::Json(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// Checks the format version and internal consistency (call it after
    /// deserialising through serde directly).
    pub fn validate(&self) -> Result<(), ProfileError> {
        if self.format_version != PROFILE_FORMAT_VERSION {
            return Err(ProfileError::UnsupportedFormatVersion {
                found: self.format_version,
                supported: PROFILE_FORMAT_VERSION,
            });
        }
        self.config.validate()?;
        let ascending =
            |v: &[f64]| v.iter().all(|x| x.is_finite()) && v.windows(2).all(|w| w[0] <= w[1]);
        for (name, f) in &self.features {
            match f {
                FeatureProfile::Numeric(p) => {
                    if p.n == 0 {
                        return Err(invalid(name, "no reference values"));
                    }
                    if !matches!(p.value_type, ValueType::Float | ValueType::Int) {
                        return Err(invalid(name, "numeric feature of a non-numeric type"));
                    }
                    if !ascending(&p.edges) || p.edges.windows(2).any(|w| w[0] == w[1]) {
                        return Err(invalid(
                            name,
                            "edges must be finite and strictly increasing",
                        ));
                    }
                    if p.counts.len() != p.edges.len() + 1 || p.counts.iter().sum::<u64>() != p.n {
                        return Err(invalid(name, "bin counts do not match the edges or n"));
                    }
                    match &p.reference {
                        ReferenceSample::Exact { sorted } => {
                            if sorted.len() as u64 != p.n || !ascending(sorted) {
                                return Err(invalid(
                                    name,
                                    "exact reference must hold n sorted finite values",
                                ));
                            }
                        }
                        ReferenceSample::Sketch { points, .. } => {
                            if points.is_empty() || !ascending(points) {
                                return Err(invalid(name, "sketch must hold sorted finite values"));
                            }
                        }
                    }
                }
                FeatureProfile::Categorical(p) => {
                    if p.n == 0 {
                        return Err(invalid(name, "no reference values"));
                    }
                    if p.categories.iter().any(|c| c.value_type() != p.value_type)
                        || p.categories.windows(2).any(|w| w[0] >= w[1])
                        || p.categories
                            .iter()
                            .any(|c| matches!(c, Category::Float(x) if !x.is_finite()))
                    {
                        return Err(invalid(
                            name,
                            "categories must be of the feature's type, distinct and sorted",
                        ));
                    }
                    if p.counts.len() != p.categories.len()
                        || p.counts.iter().sum::<u64>().checked_add(p.other_count) != Some(p.n)
                    {
                        return Err(invalid(name, "category counts do not match n"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Fingerprint of the bin layout (feature names, kinds, value types,
    /// edges, categories, reference counts): window counts are compatible
    /// with a profile iff fingerprints match. FNV-1a 64, stable across builds.
    pub fn fingerprint(&self) -> u64 {
        let mut h = Fnv::new();
        h.u64(u64::from(self.format_version));
        h.u64(self.features.len() as u64);
        for (name, f) in &self.features {
            h.str(name);
            match f {
                FeatureProfile::Numeric(p) => {
                    h.bytes(b"N");
                    h.str(p.value_type.name());
                    h.u64(p.edges.len() as u64);
                    for e in &p.edges {
                        h.u64(e.to_bits());
                    }
                }
                FeatureProfile::Categorical(p) => {
                    h.bytes(b"C");
                    h.str(p.value_type.name());
                    h.u64(p.categories.len() as u64);
                    for c in &p.categories {
                        match c {
                            Category::Bool(b) => h.u64(u64::from(*b)),
                            Category::Int(i) => h.u64(*i as u64),
                            Category::Float(x) => h.u64((x + 0.0).to_bits()),
                            Category::Str(s) => h.str(s),
                        }
                    }
                }
            }
            for c in f.reference_counts() {
                h.u64(c);
            }
        }
        h.0
    }
}

/// A window's counts of one feature on the profile's frozen bins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureCounts {
    /// Count per frozen bin (categorical: kept categories in profile order, then `__other__`).
    pub counts: Vec<u64>,
    /// Null values (and NaN/±inf).
    pub null_count: u64,
}

impl FeatureCounts {
    /// Non-null values counted.
    pub fn n(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Serialisable form of [`WindowCounts`], to ship counts between instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountsSnapshot {
    /// [`ReferenceProfile::fingerprint`] of the profile the counts are on.
    pub profile_fingerprint: u64,
    /// Per-feature counts.
    pub features: BTreeMap<String, FeatureCounts>,
}

/// Exact counts of one window on a profile's frozen bins. Counts add with
/// [`merge`](Self::merge) (associative and commutative: `u64` addition,
/// saturating at `u64::MAX`).
#[derive(Debug, Clone)]
pub struct WindowCounts<'p> {
    profile: &'p ReferenceProfile,
    fingerprint: u64,
    features: BTreeMap<String, FeatureCounts>,
}

impl PartialEq for WindowCounts<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint && self.features == other.features
    }
}

/// Counts one value into a feature's slot; `Err(found type)` on a type mismatch.
fn observe_into(
    f: &FeatureProfile,
    slot: &mut FeatureCounts,
    value: Value<'_>,
) -> Result<(), &'static str> {
    let idx = match f {
        FeatureProfile::Numeric(p) => match value {
            Value::Null => None,
            Value::Float(x) => x.is_finite().then(|| p.bin_index(x)),
            Value::Int(i) => Some(p.bin_index(i as f64)),
            v => return Err(v.type_name()),
        },
        FeatureProfile::Categorical(p) => {
            let key = match (p.value_type, value) {
                (_, Value::Null) => None,
                (ValueType::Float, Value::Float(x)) => x.is_finite().then_some(Key::Float(FKey(x))),
                (ValueType::Int, Value::Int(i)) => Some(Key::Int(i)),
                (ValueType::Bool, Value::Bool(b)) => Some(Key::Bool(b)),
                (ValueType::Str, Value::Str(s)) => Some(Key::Str(s)),
                (_, v) => return Err(v.type_name()),
            };
            key.map(|k| p.index_of(&k))
        }
    };
    match idx {
        None => slot.null_count = slot.null_count.saturating_add(1),
        Some(i) => {
            if let Some(c) = slot.counts.get_mut(i) {
                *c = c.saturating_add(1);
            }
        }
    }
    Ok(())
}

fn expected_name(f: &FeatureProfile) -> &'static str {
    match f {
        FeatureProfile::Numeric(_) => "numeric (float or integer)",
        FeatureProfile::Categorical(p) => p.value_type.name(),
    }
}

impl<'p> WindowCounts<'p> {
    /// Empty counts (all zero) for every feature of `profile`.
    pub fn new(profile: &'p ReferenceProfile) -> Self {
        let features = profile
            .features
            .iter()
            .map(|(k, f)| {
                (
                    k.clone(),
                    FeatureCounts {
                        counts: vec![0; f.n_bins()],
                        null_count: 0,
                    },
                )
            })
            .collect();
        WindowCounts {
            profile,
            fingerprint: profile.fingerprint(),
            features,
        }
    }

    /// Counts whole columns (bulk API). Profile features without a column
    /// stay at zero; a column that is not a profile feature is an error.
    pub fn from_columns(
        profile: &'p ReferenceProfile,
        columns: &[(&str, ColumnData<'_>)],
    ) -> Result<Self, ProfileError> {
        let mut w = Self::new(profile);
        w.add_columns(columns)?;
        Ok(w)
    }

    /// Adds whole columns to these counts.
    pub fn add_columns(&mut self, columns: &[(&str, ColumnData<'_>)]) -> Result<(), ProfileError> {
        for &(name, data) in columns {
            let (f, slot) = self.slot(name)?;
            let mismatch = |found: &'static str| ProfileError::ValueType {
                feature: name.to_owned(),
                expected: expected_name(f),
                found,
            };
            let res = match data {
                ColumnData::Float(v) => v
                    .iter()
                    .try_for_each(|&x| observe_into(f, slot, Value::Float(x))),
                ColumnData::Int(v) => v
                    .iter()
                    .try_for_each(|x| observe_into(f, slot, x.map_or(Value::Null, Value::Int))),
                ColumnData::Bool(v) => v
                    .iter()
                    .try_for_each(|x| observe_into(f, slot, x.map_or(Value::Null, Value::Bool))),
                ColumnData::Str(v) => v
                    .iter()
                    .try_for_each(|x| observe_into(f, slot, x.map_or(Value::Null, Value::Str))),
            };
            res.map_err(mismatch)?;
        }
        Ok(())
    }

    fn slot(
        &mut self,
        feature: &str,
    ) -> Result<(&'p FeatureProfile, &mut FeatureCounts), ProfileError> {
        let f = self
            .profile
            .features
            .get(feature)
            .ok_or_else(|| ProfileError::UnknownFeature(feature.to_owned()))?;
        let slot = self
            .features
            .get_mut(feature)
            .ok_or_else(|| ProfileError::UnknownFeature(feature.to_owned()))?;
        Ok((f, slot))
    }

    /// Counts one value of any type (numeric features take floats and
    /// integers; categorical features their own type; NaN/±inf are null).
    pub fn observe(&mut self, feature: &str, value: Value<'_>) -> Result<(), ProfileError> {
        let (f, slot) = self.slot(feature)?;
        observe_into(f, slot, value).map_err(|found| ProfileError::ValueType {
            feature: feature.to_owned(),
            expected: expected_name(f),
            found,
        })
    }

    /// Counts one numeric value (NaN/±inf count as null).
    pub fn observe_numeric(&mut self, feature: &str, value: f64) -> Result<(), ProfileError> {
        self.observe(feature, Value::Float(value))
    }

    /// Counts one categorical value (`Value::Null` counts as null).
    pub fn observe_category(
        &mut self,
        feature: &str,
        value: Value<'_>,
    ) -> Result<(), ProfileError> {
        self.observe(feature, value)
    }

    /// Counts one null.
    pub fn observe_null(&mut self, feature: &str) -> Result<(), ProfileError> {
        self.observe(feature, Value::Null)
    }

    /// Adds `other`'s counts (another partition, instance or sub-window of
    /// the same profile). Nothing is changed on error.
    pub fn merge(&mut self, other: &WindowCounts<'_>) -> Result<(), ProfileError> {
        self.merge_counts(other.fingerprint, &other.features)
    }

    fn merge_counts(
        &mut self,
        fingerprint: u64,
        other: &BTreeMap<String, FeatureCounts>,
    ) -> Result<(), ProfileError> {
        if fingerprint != self.fingerprint {
            return Err(ProfileError::ProfileMismatch);
        }
        for (name, oc) in other {
            match self.features.get(name) {
                Some(sc) if sc.counts.len() == oc.counts.len() => {}
                _ => return Err(ProfileError::ProfileMismatch),
            }
        }
        for (name, oc) in other {
            if let Some(sc) = self.features.get_mut(name) {
                for (a, b) in sc.counts.iter_mut().zip(&oc.counts) {
                    *a = a.saturating_add(*b);
                }
                sc.null_count = sc.null_count.saturating_add(oc.null_count);
            }
        }
        Ok(())
    }

    /// The profile these counts are on.
    pub fn profile(&self) -> &'p ReferenceProfile {
        self.profile
    }

    /// Counts of one feature.
    pub fn feature(&self, name: &str) -> Option<&FeatureCounts> {
        self.features.get(name)
    }

    /// Counts of every feature.
    pub fn features(&self) -> &BTreeMap<String, FeatureCounts> {
        &self.features
    }

    /// Serialisable copy of the counts.
    pub fn snapshot(&self) -> CountsSnapshot {
        CountsSnapshot {
            profile_fingerprint: self.fingerprint,
            features: self.features.clone(),
        }
    }

    /// Rebuilds counts from a snapshot; the fingerprint and every feature's
    /// number of bins must match `profile` (features missing from the
    /// snapshot are zero).
    pub fn from_snapshot(
        profile: &'p ReferenceProfile,
        snapshot: &CountsSnapshot,
    ) -> Result<Self, ProfileError> {
        let mut w = Self::new(profile);
        w.merge_counts(snapshot.profile_fingerprint, &snapshot.features)?;
        Ok(w)
    }
}

/// Overrides for one feature.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FeatureDriftOptions {
    /// Force the test.
    pub test: Option<StatTest>,
    /// Force the threshold.
    pub threshold: Option<f64>,
}

/// Options of [`profile_drift`].
#[derive(Debug, Clone, Default)]
pub struct ProfileDriftOptions<'a> {
    /// Applied to every feature (per-feature fields take precedence).
    pub default: FeatureDriftOptions,
    /// Per-feature overrides.
    pub features: BTreeMap<String, FeatureDriftOptions>,
    /// The window's raw values of numeric features, for KS and Wasserstein
    /// (NaN/±inf dropped). May be a sample of the window: the KS p-value
    /// uses its size.
    pub raw_values: BTreeMap<String, &'a [f64]>,
}

/// Error bounds of KS/Wasserstein computed against a sketch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SketchBounds {
    /// `|reported KS statistic − exact| ≤ this`.
    pub ks_statistic: f64,
    /// `|reported Wasserstein − exact| ≤ this`.
    pub wasserstein: f64,
    /// `|reported normed Wasserstein − exact| ≤ this`.
    pub wasserstein_normed: f64,
}

/// Drift of one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDrift {
    /// Verdict and statistics, in the offline result type
    /// (`stats.bins` = every frozen bin in profile order).
    pub result: ColumnDriftResult,
    /// Null values of the window.
    pub window_null_count: u64,
    /// Categorical only: window values outside the kept categories.
    pub window_other_count: Option<u64>,
    /// Set when KS/Wasserstein were computed against a sketch.
    pub sketch_bounds: Option<SketchBounds>,
}

/// Result of [`profile_drift`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileDrift {
    /// Features whose drift was computed.
    pub features: BTreeMap<String, FeatureDrift>,
    /// Features that could not be computed (e.g. no non-null window value).
    pub skipped: BTreeMap<String, ProfileError>,
}

impl ProfileDrift {
    /// Dataset-level summary of the computed features (row counts: the
    /// largest `non-null + null` over features).
    pub fn dataset(&self, drift_share: f64) -> DatasetDrift {
        let n_ref = self
            .features
            .values()
            .map(|f| f.result.n_reference)
            .max()
            .unwrap_or(0);
        let n_cur = self
            .features
            .values()
            .map(|f| f.result.n_current + f.window_null_count as usize)
            .max()
            .unwrap_or(0);
        let cols = self
            .features
            .iter()
            .map(|(k, v)| (k.clone(), v.result.clone()))
            .collect();
        dataset_drift(cols, n_ref, n_cur, drift_share)
    }
}

/// Evidently's Z-test on bin counts without bins empty on both sides: the
/// first bin is the "key" category, every other bin is the rest.
fn z_from_counts(r: &[u64], c: &[u64]) -> ZTestResult {
    let nz = |v: &[u64]| v.iter().filter(|&&x| x > 0).count();
    let single_same =
        nz(r) == 1 && nz(c) == 1 && r.iter().position(|&x| x > 0) == c.iter().position(|&x| x > 0);
    if single_same {
        return ZTestResult {
            statistic: 0.0,
            p_value: 1.0,
        };
    }
    let n1 = r.iter().sum::<u64>() as f64;
    let n2 = c.iter().sum::<u64>() as f64;
    let s1 = n1 - r.first().copied().unwrap_or(0) as f64;
    let s2 = n2 - c.first().copied().unwrap_or(0) as f64;
    let p1 = s1 / n1;
    let p2 = s2 / n2;
    let pp = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (pp * (1.0 - pp) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let p = 2.0 * (1.0 - ndtr(z.abs()));
    ZTestResult {
        statistic: z,
        p_value: p,
    }
}

struct SampleStats {
    ks: KsResult,
    wasserstein: f64,
    wasserstein_normed: f64,
    bounds: Option<SketchBounds>,
}

fn sample_stats(p: &NumericProfile, raw: &[f64]) -> Result<SampleStats, DriftError> {
    let w: Vec<f64> = raw.iter().copied().filter(|x| x.is_finite()).collect();
    if w.is_empty() {
        return Err(DriftError::EmptyInput {
            side: Side::Current,
        });
    }
    let norm = p.std.max(0.001);
    match &p.reference {
        ReferenceSample::Exact { sorted } => {
            let ks = ks_2samp(sorted, &w)?;
            let wd = wasserstein_distance(sorted, &w)?;
            Ok(SampleStats {
                ks,
                wasserstein: wd,
                wasserstein_normed: wd / norm,
                bounds: None,
            })
        }
        ReferenceSample::Sketch {
            points,
            ks_error,
            wasserstein_error,
        } => {
            let sw = sorted(&w);
            let d = ks_statistic_sorted(points, &sw);
            let nw = w.len() as u64;
            let ks = ks_from_statistic(d, p.n, nw);
            let rounding = if p.n.max(nw) as usize <= crate::KS_MAX_AUTO_N {
                let g = gcd(p.n, nw);
                0.5 / ((p.n / g) as f64 * nw as f64)
            } else {
                0.0
            };
            let wd = wasserstein_distance(points, &w)?;
            Ok(SampleStats {
                ks,
                wasserstein: wd,
                wasserstein_normed: wd / norm,
                bounds: Some(SketchBounds {
                    ks_statistic: ks_error + rounding,
                    wasserstein: *wasserstein_error,
                    wasserstein_normed: wasserstein_error / norm,
                }),
            })
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn feature_drift(
    name: &str,
    f: &FeatureProfile,
    window: &FeatureCounts,
    opts: FeatureDriftOptions,
    raw: Option<&[f64]>,
) -> Result<FeatureDrift, ProfileError> {
    let fe = feature_err(name);
    let kind = f.kind();
    let reference = f.reference_counts();
    if window.counts.len() != reference.len() {
        return Err(ProfileError::ProfileMismatch);
    }
    let n_cur = window.n();
    if n_cur == 0 {
        return Err(fe(DriftError::EmptyInput {
            side: Side::Current,
        }));
    }
    let default = default_test(kind, f.n() as usize, f.n_distinct() as usize);
    let test = match (opts.test, raw.is_some()) {
        (Some(t), _) => t,
        (None, true) => default,
        (None, false) => match default {
            StatTest::Ks => StatTest::ChiSquare,
            StatTest::Wasserstein => StatTest::JensenShannon,
            t => t,
        },
    };
    if kind == ColumnKind::Categorical && matches!(test, StatTest::Ks | StatTest::Wasserstein) {
        return Err(fe(DriftError::NumericTestOnCategorical { test }));
    }
    if raw.is_none() && matches!(test, StatTest::Ks | StatTest::Wasserstein) {
        return Err(ProfileError::RawValuesRequired {
            feature: name.to_owned(),
            test,
        });
    }
    // Binned statistics on the bins non-empty on some side.
    let (fr, fc): (Vec<u64>, Vec<u64>) = reference
        .iter()
        .zip(&window.counts)
        .filter(|(r, c)| **r > 0 || **c > 0)
        .map(|(r, c)| (*r, *c))
        .unzip();
    let filtered = BinnedCounts {
        reference: fr,
        current: fc,
    };
    let (psi, kl, js, chi) = binned_stats(&filtered).map_err(&fe)?;
    let (rp, cp) = filtered.proportions();
    let hel = hellinger(&rp, &cp).map_err(&fe)?;
    let z_all = z_from_counts(&filtered.reference, &filtered.current);
    let z = (filtered.reference.len() <= 2).then_some(z_all);
    let sample = match (f, raw) {
        (FeatureProfile::Numeric(p), Some(raw)) => Some(sample_stats(p, raw).map_err(&fe)?),
        _ => None,
    };
    let score = match test {
        StatTest::Ks => sample.as_ref().map(|s| s.ks.p_value),
        StatTest::Wasserstein => sample.as_ref().map(|s| s.wasserstein_normed),
        StatTest::JensenShannon => Some(js),
        StatTest::ChiSquare => Some(chi.p_value),
        StatTest::Z => Some(z_all.p_value),
        StatTest::Psi => Some(psi),
        StatTest::KlDiv => Some(kl),
        StatTest::Hellinger => Some(hel),
    }
    .ok_or(ProfileError::RawValuesRequired {
        feature: name.to_owned(),
        test,
    })?;
    let threshold = opts.threshold.unwrap_or_else(|| test.default_threshold());
    let stats = ColumnStats {
        ks: sample.as_ref().map(|s| s.ks),
        wasserstein: sample.as_ref().map(|s| s.wasserstein),
        wasserstein_normed: sample.as_ref().map(|s| s.wasserstein_normed),
        psi,
        jensenshannon: js,
        kl_div: kl,
        hellinger: hel,
        chisquare: chi,
        z,
        bins: BinnedCounts {
            reference,
            current: window.counts.clone(),
        },
    };
    let window_other_count = match f {
        FeatureProfile::Categorical(_) => window.counts.last().copied(),
        FeatureProfile::Numeric(_) => None,
    };
    Ok(FeatureDrift {
        result: ColumnDriftResult {
            kind,
            test,
            score,
            threshold,
            drift: test.is_drift(score, threshold),
            n_reference: f.n() as usize,
            n_current: n_cur as usize,
            stats,
        },
        window_null_count: window.null_count,
        window_other_count,
        sketch_bounds: sample.and_then(|s| s.bounds),
    })
}

/// Drift of every profile feature from a window's counts (and, optionally,
/// its raw numeric values for KS/Wasserstein).
///
/// Per feature: PSI and KL on Evidently-zero-filled proportions, JS,
/// Hellinger, chi-squared (Evidently's `f_exp = ref·n_cur/n_ref`) on the
/// frozen bins non-empty on some side; Z when at most two such bins; KS and
/// Wasserstein (raw and normed by the reference std, floored at 0.001) when
/// raw values are supplied. Test: forced, else [`default_test`] from the
/// reference `n` and distinct count, with KS → chi-squared and Wasserstein →
/// Jensen–Shannon without raw values (see the module docs).
///
/// Errors (whole call): window counts of another profile, unknown feature
/// names in the options, raw values for a categorical feature, a non-finite
/// threshold. Per-feature failures (no non-null window value, a forced test
/// that does not apply) land in [`ProfileDrift::skipped`].
pub fn profile_drift(
    profile: &ReferenceProfile,
    window: &WindowCounts<'_>,
    options: &ProfileDriftOptions<'_>,
) -> Result<ProfileDrift, ProfileError> {
    if window.fingerprint != profile.fingerprint() {
        return Err(ProfileError::ProfileMismatch);
    }
    let thresholds = std::iter::once(&options.default).chain(options.features.values());
    for t in thresholds.filter_map(|o| o.threshold) {
        if !t.is_finite() {
            return Err(DriftError::InvalidThreshold(t).into());
        }
    }
    for name in options.features.keys() {
        if !profile.features.contains_key(name) {
            return Err(ProfileError::UnknownFeature(name.clone()));
        }
    }
    for name in options.raw_values.keys() {
        match profile.features.get(name) {
            None => return Err(ProfileError::UnknownFeature(name.clone())),
            Some(FeatureProfile::Categorical(_)) => {
                return Err(ProfileError::RawValuesForCategorical(name.clone()));
            }
            Some(FeatureProfile::Numeric(_)) => {}
        }
    }
    let mut out = ProfileDrift {
        features: BTreeMap::new(),
        skipped: BTreeMap::new(),
    };
    for (name, f) in &profile.features {
        let per = options.features.get(name).copied().unwrap_or_default();
        let opts = FeatureDriftOptions {
            test: per.test.or(options.default.test),
            threshold: per.threshold.or(options.default.threshold),
        };
        let Some(counts) = window.features.get(name) else {
            out.skipped
                .insert(name.clone(), ProfileError::ProfileMismatch);
            continue;
        };
        let raw = options.raw_values.get(name).copied();
        match feature_drift(name, f, counts, opts, raw) {
            Ok(d) => {
                out.features.insert(name.clone(), d);
            }
            Err(e) => {
                out.skipped.insert(name.clone(), e);
            }
        }
    }
    Ok(out)
}
