//! Column-level drift: kind inference, Evidently's default test selection
//! (`DataDriftPreset`), and every applicable statistic for a column.

use std::collections::BTreeMap;

use crate::category::{CategoryKey, FKey, float_keys};
use crate::distance::{
    BinnedCounts, ChiSquareResult, ZTestResult, bin_by_value, bin_numeric, chisquare_counts,
    fill_zeroes, hellinger, hellinger_numeric, jensenshannon, kl_divergence, n_distinct_f64, psi,
    wasserstein_distance, wasserstein_normed, z_test,
};
use crate::error::{DriftError, Side, non_empty};
use crate::ks::{KsResult, ks_2samp};

/// One column's raw values. Nulls are `None`; for floats NaN and ±inf are nulls.
#[derive(Debug, Clone, Copy)]
pub enum ColumnData<'a> {
    /// Floating-point values (always numeric).
    Float(&'a [f64]),
    /// Integer values (categorical when the current sample has ≤ 10 distinct values).
    Int(&'a [Option<i64>]),
    /// Booleans (categorical).
    Bool(&'a [Option<bool>]),
    /// Strings (categorical).
    Str(&'a [Option<&'a str>]),
}

impl ColumnData<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            ColumnData::Float(_) => "float",
            ColumnData::Int(_) => "integer",
            ColumnData::Bool(_) => "boolean",
            ColumnData::Str(_) => "string",
        }
    }
}

/// Column kind as Evidently infers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ColumnKind {
    /// Numerical column.
    Numeric,
    /// Categorical column.
    Categorical,
}

/// A drift test; the `score` of each is what its threshold is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatTest {
    /// KS p-value; drift if `p ≤ threshold` (default 0.05). Numeric only.
    Ks,
    /// Normed Wasserstein distance; drift if `≥ threshold` (default 0.1). Numeric only.
    Wasserstein,
    /// Jensen–Shannon distance on Evidently bins; drift if `≥` (default 0.1).
    JensenShannon,
    /// Chi-squared p-value on Evidently bins; drift if `p < threshold` (default 0.05).
    ChiSquare,
    /// Two-proportion Z-test p-value; drift if `p < threshold` (default 0.05).
    Z,
    /// PSI on zero-filled Evidently bins; drift if `≥` (default 0.1).
    Psi,
    /// KL divergence on zero-filled Evidently bins; drift if `≥` (default 0.1).
    KlDiv,
    /// Evidently's Hellinger distance; drift if `≥` (default 0.1).
    Hellinger,
}

impl StatTest {
    /// Evidently's registered name of the test.
    pub fn name(self) -> &'static str {
        match self {
            StatTest::Ks => "ks",
            StatTest::Wasserstein => "wasserstein",
            StatTest::JensenShannon => "jensenshannon",
            StatTest::ChiSquare => "chisquare",
            StatTest::Z => "z",
            StatTest::Psi => "psi",
            StatTest::KlDiv => "kl_div",
            StatTest::Hellinger => "hellinger",
        }
    }

    /// Every test, in a fixed order.
    pub const ALL: [StatTest; 8] = [
        StatTest::Ks,
        StatTest::Wasserstein,
        StatTest::JensenShannon,
        StatTest::ChiSquare,
        StatTest::Z,
        StatTest::Psi,
        StatTest::KlDiv,
        StatTest::Hellinger,
    ];

    /// Evidently's default threshold of the test.
    pub fn default_threshold(self) -> f64 {
        match self {
            StatTest::Ks | StatTest::ChiSquare | StatTest::Z => 0.05,
            _ => 0.1,
        }
    }

    /// Whether `score` means drift at `threshold` (Evidently's comparison per test).
    pub fn is_drift(self, score: f64, threshold: f64) -> bool {
        match self {
            StatTest::Ks => score <= threshold,
            StatTest::ChiSquare | StatTest::Z => score < threshold,
            _ => score >= threshold,
        }
    }
}

impl std::fmt::Display for StatTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Per-column overrides; `Default` means "as Evidently's DataDriftPreset".
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ColumnOptions {
    /// Force the column kind.
    pub kind: Option<ColumnKind>,
    /// Force the test.
    pub test: Option<StatTest>,
    /// Force the threshold.
    pub threshold: Option<f64>,
}

/// Every statistic that applies to a column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnStats {
    /// KS test (numeric only).
    pub ks: Option<KsResult>,
    /// Raw Wasserstein-1 distance (numeric only).
    pub wasserstein: Option<f64>,
    /// Evidently's normed Wasserstein distance (numeric only).
    pub wasserstein_normed: Option<f64>,
    /// PSI on zero-filled Evidently bins.
    pub psi: f64,
    /// Jensen–Shannon distance on Evidently bins.
    pub jensenshannon: f64,
    /// KL divergence on zero-filled Evidently bins.
    pub kl_div: f64,
    /// Evidently's Hellinger distance.
    pub hellinger: f64,
    /// Chi-squared goodness of fit on Evidently bins.
    pub chisquare: ChiSquareResult,
    /// Two-proportion Z-test (only when `reference ∪ current` has ≤ 2 distinct values).
    pub z: Option<ZTestResult>,
    /// Evidently's bins (counts) the binned statistics were computed on.
    pub bins: BinnedCounts,
}

/// Drift verdict and statistics of one column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDriftResult {
    /// Column kind used.
    pub kind: ColumnKind,
    /// Test used for the verdict.
    pub test: StatTest,
    /// What is compared with the threshold (p-value for ks/chisquare/z, the distance otherwise).
    pub score: f64,
    /// Threshold used.
    pub threshold: f64,
    /// Drift verdict.
    pub drift: bool,
    /// Non-null reference rows.
    pub n_reference: usize,
    /// Non-null current rows.
    pub n_current: usize,
    /// All statistics.
    pub stats: ColumnStats,
}

/// Dataset-level summary.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetDrift {
    /// `share_drifted ≥ drift_share`.
    pub dataset_drift: bool,
    /// Drifted columns / columns (0 when there are no columns).
    pub share_drifted: f64,
    /// Number of drifted columns.
    pub n_drifted: usize,
    /// Reference rows of the dataset.
    pub n_reference: usize,
    /// Current rows of the dataset.
    pub n_current: usize,
    /// Per-column results.
    pub columns: BTreeMap<String, ColumnDriftResult>,
}

/// Evidently's default dataset-drift share.
pub const DEFAULT_DRIFT_SHARE: f64 = 0.5;

/// Summarises per-column results: dataset drift when the share of drifted
/// columns is `≥ drift_share` (Evidently default [`DEFAULT_DRIFT_SHARE`]).
pub fn dataset_drift(
    columns: BTreeMap<String, ColumnDriftResult>,
    n_reference: usize,
    n_current: usize,
    drift_share: f64,
) -> DatasetDrift {
    let n_drifted = columns.values().filter(|c| c.drift).count();
    let share = if columns.is_empty() {
        0.0
    } else {
        n_drifted as f64 / columns.len() as f64
    };
    DatasetDrift {
        dataset_drift: !columns.is_empty() && share >= drift_share,
        share_drifted: share,
        n_drifted,
        n_reference,
        n_current,
        columns,
    }
}

enum Clean<'a> {
    Num(Vec<f64>, Vec<f64>),
    Cat(Vec<CategoryKey<'a>>, Vec<CategoryKey<'a>>),
}

fn nonempty<T>(v: Vec<T>, side: Side) -> Result<Vec<T>, DriftError> {
    non_empty(&v, side)?;
    Ok(v)
}

fn distinct<K: Ord + Clone>(a: &[K], b: &[K]) -> usize {
    let mut v: Vec<&K> = a.iter().chain(b).collect();
    v.sort();
    v.dedup();
    v.len()
}

/// Evidently's default test (`_get_default_stattest`), `n_distinct` over
/// `reference ∪ current`.
pub fn default_test(kind: ColumnKind, n_reference: usize, n_distinct: usize) -> StatTest {
    match (kind, n_reference <= 1000) {
        (ColumnKind::Numeric, true) if n_distinct > 5 => StatTest::Ks,
        (_, true) if n_distinct > 2 => StatTest::ChiSquare,
        (_, true) => StatTest::Z,
        (ColumnKind::Numeric, false) if n_distinct > 5 => StatTest::Wasserstein,
        (_, false) => StatTest::JensenShannon,
    }
}

/// Computes the drift of one column. Pure: call it from as many threads as
/// there are columns.
///
/// Steps: drop nulls (and NaN/±inf) per side; infer the kind unless forced
/// (floats numeric; integers categorical iff the current sample has ≤ 10
/// distinct values; strings and booleans categorical); choose the test with
/// [`default_test`] unless forced; compute every applicable statistic.
pub fn column_drift(
    reference: ColumnData<'_>,
    current: ColumnData<'_>,
    options: &ColumnOptions,
) -> Result<ColumnDriftResult, DriftError> {
    if let Some(t) = options.threshold
        && !t.is_finite()
    {
        return Err(DriftError::InvalidThreshold(t));
    }
    let clean = clean(reference, current, options.kind)?;
    let (kind, n_ref, n_cur) = match &clean {
        Clean::Num(r, c) => (ColumnKind::Numeric, r.len(), c.len()),
        Clean::Cat(r, c) => (ColumnKind::Categorical, r.len(), c.len()),
    };
    let n_distinct = match &clean {
        Clean::Num(r, c) => {
            let mut all = r.clone();
            all.extend_from_slice(c);
            n_distinct_f64(&all)
        }
        Clean::Cat(r, c) => distinct(r, c),
    };
    let test = options
        .test
        .unwrap_or_else(|| default_test(kind, n_ref, n_distinct));
    if kind == ColumnKind::Categorical && matches!(test, StatTest::Ks | StatTest::Wasserstein) {
        return Err(DriftError::NumericTestOnCategorical { test });
    }
    let stats = match &clean {
        Clean::Num(r, c) => numeric_stats(r, c, n_distinct)?,
        Clean::Cat(r, c) => categorical_stats(r, c, n_distinct)?,
    };
    let score = match test {
        StatTest::Ks => stats.ks.map(|k| k.p_value),
        StatTest::Wasserstein => stats.wasserstein_normed,
        StatTest::JensenShannon => Some(stats.jensenshannon),
        StatTest::ChiSquare => Some(stats.chisquare.p_value),
        StatTest::Z => match stats.z {
            Some(z) => Some(z.p_value),
            None => Some(match &clean {
                Clean::Num(r, c) => z_test(&float_keys(r), &float_keys(c))?.p_value,
                Clean::Cat(r, c) => z_test(r, c)?.p_value,
            }),
        },
        StatTest::Psi => Some(stats.psi),
        StatTest::KlDiv => Some(stats.kl_div),
        StatTest::Hellinger => Some(stats.hellinger),
    }
    .ok_or(DriftError::NumericTestOnCategorical { test })?;
    let threshold = options
        .threshold
        .unwrap_or_else(|| test.default_threshold());
    Ok(ColumnDriftResult {
        kind,
        test,
        score,
        threshold,
        drift: test.is_drift(score, threshold),
        n_reference: n_ref,
        n_current: n_cur,
        stats,
    })
}

fn clean<'a>(
    reference: ColumnData<'a>,
    current: ColumnData<'a>,
    forced: Option<ColumnKind>,
) -> Result<Clean<'a>, DriftError> {
    use ColumnData as D;
    match (reference, current) {
        (D::Float(r), D::Float(c)) => {
            let r = nonempty(
                r.iter().copied().filter(|x| x.is_finite()).collect(),
                Side::Reference,
            )?;
            let c = nonempty(
                c.iter().copied().filter(|x| x.is_finite()).collect(),
                Side::Current,
            )?;
            if forced == Some(ColumnKind::Categorical) {
                Ok(Clean::Cat(
                    r.into_iter().map(|x| CategoryKey::Float(FKey(x))).collect(),
                    c.into_iter().map(|x| CategoryKey::Float(FKey(x))).collect(),
                ))
            } else {
                Ok(Clean::Num(r, c))
            }
        }
        (D::Int(r), D::Int(c)) => {
            let r: Vec<i64> = nonempty(r.iter().flatten().copied().collect(), Side::Reference)?;
            let c: Vec<i64> = nonempty(c.iter().flatten().copied().collect(), Side::Current)?;
            let kind = forced.unwrap_or_else(|| int_kind(&c));
            Ok(match kind {
                ColumnKind::Numeric => Clean::Num(
                    r.iter().map(|&x| x as f64).collect(),
                    c.iter().map(|&x| x as f64).collect(),
                ),
                ColumnKind::Categorical => Clean::Cat(
                    r.into_iter().map(CategoryKey::Int).collect(),
                    c.into_iter().map(CategoryKey::Int).collect(),
                ),
            })
        }
        (D::Bool(r), D::Bool(c)) => categorical_only(r, c, forced, "boolean", CategoryKey::Bool),
        (D::Str(r), D::Str(c)) => categorical_only(r, c, forced, "string", CategoryKey::Str),
        (r, c) => Err(DriftError::TypeMismatch {
            reference: r.type_name(),
            current: c.type_name(),
        }),
    }
}

/// Evidently's kind of an integer column: categorical iff `values` hold at
/// most 10 distinct values (the offline path asks the current sample, a
/// profile its reference).
pub(crate) fn int_kind(values: &[i64]) -> ColumnKind {
    let mut d = values.to_vec();
    d.sort_unstable();
    d.dedup();
    if d.len() <= 10 {
        ColumnKind::Categorical
    } else {
        ColumnKind::Numeric
    }
}

/// Cleans a column of a categorical-only type (booleans, strings): a forced
/// numeric kind is an error, nulls are dropped, every value becomes a key.
fn categorical_only<'a, T: Copy>(
    r: &[Option<T>],
    c: &[Option<T>],
    forced: Option<ColumnKind>,
    value_type: &'static str,
    key: fn(T) -> CategoryKey<'a>,
) -> Result<Clean<'a>, DriftError> {
    if forced == Some(ColumnKind::Numeric) {
        return Err(DriftError::NotNumeric { value_type });
    }
    let r = nonempty(
        r.iter().flatten().map(|&x| key(x)).collect(),
        Side::Reference,
    )?;
    let c = nonempty(c.iter().flatten().map(|&x| key(x)).collect(), Side::Current)?;
    Ok(Clean::Cat(r, c))
}

pub(crate) fn binned_stats(
    bins: &BinnedCounts,
) -> Result<(f64, f64, f64, ChiSquareResult), DriftError> {
    let (rp, cp) = bins.proportions();
    let (rf, cf) = (fill_zeroes(&rp), fill_zeroes(&cp));
    Ok((
        psi(&rf, &cf)?,
        kl_divergence(&rf, &cf)?,
        jensenshannon(&rp, &cp)?,
        chisquare_counts(bins)?,
    ))
}

fn numeric_stats(r: &[f64], c: &[f64], n_distinct: usize) -> Result<ColumnStats, DriftError> {
    let bins = bin_numeric(r, c)?;
    let (psi, kl, js, chi) = binned_stats(&bins)?;
    let z = if n_distinct <= 2 {
        Some(z_test(&float_keys(r), &float_keys(c))?)
    } else {
        None
    };
    Ok(ColumnStats {
        ks: Some(ks_2samp(r, c)?),
        wasserstein: Some(wasserstein_distance(r, c)?),
        wasserstein_normed: Some(wasserstein_normed(r, c)?),
        psi,
        jensenshannon: js,
        kl_div: kl,
        hellinger: hellinger_numeric(r, c)?,
        chisquare: chi,
        z,
        bins,
    })
}

fn categorical_stats(
    r: &[CategoryKey<'_>],
    c: &[CategoryKey<'_>],
    n_distinct: usize,
) -> Result<ColumnStats, DriftError> {
    let bins = bin_by_value(r, c)?;
    let (psi, kl, js, chi) = binned_stats(&bins)?;
    let (rp, cp) = bins.proportions();
    Ok(ColumnStats {
        ks: None,
        wasserstein: None,
        wasserstein_normed: None,
        psi,
        jensenshannon: js,
        kl_div: kl,
        hellinger: hellinger(&rp, &cp)?,
        chisquare: chi,
        z: if n_distinct <= 2 {
            Some(z_test(r, c)?)
        } else {
            None
        },
        bins,
    })
}

impl std::str::FromStr for StatTest {
    type Err = String;

    /// Parses a test name as [`StatTest::name`] prints it (also `js`, `chi2`, `kl`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let alias = match lower.as_str() {
            "js" | "jensen_shannon" => "jensenshannon",
            "chi2" | "chi_square" | "chisq" => "chisquare",
            "kl" | "kl-div" => "kl_div",
            "ks_2samp" => "ks",
            "wasserstein_normed" => "wasserstein",
            other => other,
        };
        StatTest::ALL
            .into_iter()
            .find(|t| t.name() == alias)
            .ok_or_else(|| {
                let names: Vec<&str> = StatTest::ALL.iter().map(|t| t.name()).collect();
                format!("unknown test `{s}` (expected one of {})", names.join(", "))
            })
    }
}
