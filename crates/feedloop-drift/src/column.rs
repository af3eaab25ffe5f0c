//! Column-level drift: kind inference, Evidently's default test selection
//! (`DataDriftPreset`), and every applicable statistic for a column.

use std::collections::BTreeMap;

use crate::category::{CategoryKey, CategoryTable, FKey};
#[cfg(doc)]
use crate::distance::z_test;
use crate::distance::{
    BinnedCounts, ChiSquareResult, ZTestResult, bin_numeric_sorted, chisquare_counts, fill_zeroes,
    hellinger, hellinger_numeric_sorted, jensenshannon, kl_divergence, psi, std_of, z_test_counts,
    z_test_key_counts,
};
use crate::error::{DriftError, Side, non_empty};
use crate::ks::{KsResult, ks_from_statistic, ks_statistic_sorted};
use crate::sorted::{
    SortedSample, count_of, distinct_merged, distinct_sorted, merged_runs, sorted_finite,
    wasserstein_sorted,
};

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

/// How an estimated column's statistics may differ from the exact ones (see
/// the [`sketch`](crate::sketch) module docs). Bounds are at 99 % confidence per query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SketchEstimate {
    /// KLL size `k` (the smaller of the two sketches').
    pub k: u16,
    /// `ε` of the reference sketch (0 when its values are exact).
    pub rank_error_reference: f64,
    /// `ε` of the current sketch (0 when its values are exact).
    pub rank_error_current: f64,
    /// `|D̂ − D| ≤ ε_ref + ε_cur` (plus scipy's exact-mode rounding); numeric only.
    pub ks_statistic_bound: Option<f64>,
    /// `|Ŵ − W| ≤ (ε_ref + ε_cur)·(max − min)` over the pooled range; numeric only.
    pub wasserstein_bound: Option<f64>,
    /// The Wasserstein bound over `max(std(reference), 0.001)`; numeric only.
    pub wasserstein_normed_bound: Option<f64>,
    /// Each bin's share of a side is off by at most `2·max(ε_ref, ε_cur)`
    /// (every bin but a pooled one).
    pub bin_share_bound: f64,
    /// The bins end with one bin pooling the values of the side that is not
    /// exact outside the exact side's values (Evidently gives each its own).
    pub pooled_bin: bool,
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
    /// `Some` when the result was estimated from quantile sketches
    /// ([`column_drift_sketched`](crate::column_drift_sketched)): how far each
    /// statistic may be from the exact one. `None` for exact results.
    pub estimate: Option<SketchEstimate>,
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

/// One side of a column, owned, in the form the statistics start from: the
/// offline report builds these straight from Arrow arrays (floats and
/// integers as plain vectors, booleans and strings already counted).
#[derive(Debug, Clone)]
pub enum ColumnValues<'a> {
    /// Floating-point values (always numeric); NaN and ±inf are nulls.
    /// Sorted in place.
    Float(Vec<f64>),
    /// Non-null integer values (categorical when the current sample has ≤ 10
    /// distinct values). Sorted in place.
    Int(Vec<i64>),
    /// Counts of the non-null booleans (categorical).
    Bool {
        /// `false` values.
        falses: u64,
        /// `true` values.
        trues: u64,
    },
    /// Non-null strings with their counts, in any order; a string may repeat
    /// and its counts add (categorical).
    Str(Vec<(&'a str, u64)>),
}

impl ColumnValues<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            ColumnValues::Float(_) => "float",
            ColumnValues::Int(_) => "integer",
            ColumnValues::Bool { .. } => "boolean",
            ColumnValues::Str(_) => "string",
        }
    }
}

impl<'a> From<ColumnData<'a>> for ColumnValues<'a> {
    fn from(data: ColumnData<'a>) -> Self {
        match data {
            ColumnData::Float(v) => ColumnValues::Float(v.to_vec()),
            ColumnData::Int(v) => ColumnValues::Int(v.iter().flatten().copied().collect()),
            ColumnData::Bool(v) => {
                let trues = v.iter().filter(|b| **b == Some(true)).count() as u64;
                let falses = v.iter().filter(|b| **b == Some(false)).count() as u64;
                ColumnValues::Bool { falses, trues }
            }
            ColumnData::Str(v) => {
                let mut counts: std::collections::HashMap<&'a str, u64> =
                    std::collections::HashMap::new();
                for s in v.iter().flatten() {
                    *counts.entry(s).or_default() += 1;
                }
                ColumnValues::Str(counts.into_iter().collect())
            }
        }
    }
}

/// A column prepared for its statistics: both numeric sides sorted once (a
/// sorted vector, or the runs of a sketch) with what is not read off them,
/// or the per-category counts.
pub(crate) enum Prepared<'a, S> {
    Num {
        r: S,
        c: S,
        /// Distinct values of `reference ∪ current`.
        n_distinct: usize,
        /// Evidently's bins.
        bins: BinnedCounts,
        /// `std(reference, ddof=0)`, the norm of the normed Wasserstein distance.
        std_reference: f64,
    },
    Cat {
        table: CategoryTable<'a>,
        /// Distinct values of `reference ∪ current` (the table's rows, unless
        /// it pools some).
        n_distinct: usize,
    },
}

impl<'a, S: SortedSample> Prepared<'a, S> {
    /// A numeric column whose two sides are exact samples.
    pub(crate) fn exact_numeric(r: S, c: S) -> Result<Self, DriftError> {
        let per_value = r.runs().count() <= 20;
        Ok(Prepared::Num {
            n_distinct: distinct_merged(&r, &c),
            bins: bin_numeric_sorted(&r, &c, per_value)?,
            std_reference: std_of(&r),
            r,
            c,
        })
    }

    /// A categorical column: one category per row of `table`.
    pub(crate) fn categorical(table: CategoryTable<'a>) -> Self {
        Prepared::Cat {
            n_distinct: table.keys.len(),
            table,
        }
    }
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

/// Computes the drift of one column from borrowed slices: copies them into
/// [`ColumnValues`] and calls [`column_drift_values`].
pub fn column_drift(
    reference: ColumnData<'_>,
    current: ColumnData<'_>,
    options: &ColumnOptions,
) -> Result<ColumnDriftResult, DriftError> {
    column_drift_values(reference.into(), current.into(), options)
}

/// Computes the drift of one column. Pure: call it from as many threads as
/// there are columns.
///
/// Steps: drop nulls (and NaN/±inf) per side; infer the kind unless forced
/// (floats numeric; integers categorical iff the current sample has ≤ 10
/// distinct values; strings and booleans categorical); choose the test with
/// [`default_test`] unless forced; compute every applicable statistic.
///
/// Each numeric side is sorted once, in place, and every statistic is read
/// from the two sorted arrays (see `sorted.rs`); categorical sides are
/// per-category counts.
pub fn column_drift_values(
    reference: ColumnValues<'_>,
    current: ColumnValues<'_>,
    options: &ColumnOptions,
) -> Result<ColumnDriftResult, DriftError> {
    check_threshold(options)?;
    let prepared = prepare(reference, current, options.kind)?;
    column_result(prepared, options)
}

/// A forced threshold must be finite.
pub(crate) fn check_threshold(options: &ColumnOptions) -> Result<(), DriftError> {
    match options.threshold {
        Some(t) if !t.is_finite() => Err(DriftError::InvalidThreshold(t)),
        _ => Ok(()),
    }
}

/// The test, every statistic and the verdict of a prepared column (shared by
/// the exact and the sketched path).
pub(crate) fn column_result<S: SortedSample>(
    prepared: Prepared<'_, S>,
    options: &ColumnOptions,
) -> Result<ColumnDriftResult, DriftError> {
    let (kind, n_ref, n_cur, n_distinct) = match &prepared {
        Prepared::Num {
            r, c, n_distinct, ..
        } => (
            ColumnKind::Numeric,
            r.count() as usize,
            c.count() as usize,
            *n_distinct,
        ),
        Prepared::Cat { table, n_distinct } => (
            ColumnKind::Categorical,
            table.n_reference() as usize,
            table.n_current() as usize,
            *n_distinct,
        ),
    };
    let test = options
        .test
        .unwrap_or_else(|| default_test(kind, n_ref, n_distinct));
    if kind == ColumnKind::Categorical && matches!(test, StatTest::Ks | StatTest::Wasserstein) {
        return Err(DriftError::NumericTestOnCategorical { test });
    }
    let (stats, z_forced) = match prepared {
        Prepared::Num {
            r,
            c,
            n_distinct,
            bins,
            std_reference,
        } => (
            numeric_stats(&r, &c, n_distinct, bins, std_reference)?,
            z_test_sorted(&r, &c),
        ),
        Prepared::Cat { table, n_distinct } => {
            let z = z_test_counts(&table.reference, &table.current);
            (categorical_stats(table, n_distinct)?, z)
        }
    };
    let score = match test {
        StatTest::Ks => stats.ks.map(|k| k.p_value),
        StatTest::Wasserstein => stats.wasserstein_normed,
        StatTest::JensenShannon => Some(stats.jensenshannon),
        StatTest::ChiSquare => Some(stats.chisquare.p_value),
        StatTest::Z => Some(stats.z.unwrap_or(z_forced).p_value),
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
        estimate: None,
    })
}

fn nonempty<T>(v: Vec<T>, side: Side) -> Result<Vec<T>, DriftError> {
    non_empty(&v, side)?;
    Ok(v)
}

fn prepare<'a>(
    reference: ColumnValues<'a>,
    current: ColumnValues<'a>,
    forced: Option<ColumnKind>,
) -> Result<Prepared<'a, Vec<f64>>, DriftError> {
    use ColumnValues as V;
    match (reference, current) {
        (V::Float(r), V::Float(c)) => {
            let r = nonempty(sorted_finite(r), Side::Reference)?;
            let c = nonempty(sorted_finite(c), Side::Current)?;
            if forced == Some(ColumnKind::Categorical) {
                Ok(Prepared::categorical(float_categories(merged_runs(&r, &c))))
            } else {
                Prepared::exact_numeric(r, c)
            }
        }
        (V::Int(mut r), V::Int(mut c)) => {
            non_empty(&r, Side::Reference)?;
            non_empty(&c, Side::Current)?;
            radsort::sort(&mut r);
            radsort::sort(&mut c);
            let kind = forced.unwrap_or_else(|| int_kind_sorted(&c));
            match kind {
                // i64 → f64 rounds monotonically: the sorted order holds.
                ColumnKind::Numeric => Prepared::exact_numeric(
                    r.into_iter().map(|x| x as f64).collect(),
                    c.into_iter().map(|x| x as f64).collect(),
                ),
                ColumnKind::Categorical => {
                    Ok(Prepared::categorical(int_categories(merged_runs(&r, &c))))
                }
            }
        }
        (
            V::Bool {
                falses: rf,
                trues: rt,
            },
            V::Bool {
                falses: cf,
                trues: ct,
            },
        ) => {
            categorical_only(forced, "boolean", rf + rt, cf + ct)?;
            Ok(Prepared::categorical(CategoryTable::from_sorted_rows(
                [
                    (CategoryKey::Bool(false), rf, cf),
                    (CategoryKey::Bool(true), rt, ct),
                ]
                .into_iter(),
            )))
        }
        (V::Str(r), V::Str(c)) => {
            let (nr, nc) = (
                r.iter().map(|x| x.1).sum::<u64>(),
                c.iter().map(|x| x.1).sum::<u64>(),
            );
            categorical_only(forced, "string", nr, nc)?;
            Ok(Prepared::categorical(CategoryTable::from_counts(
                r.into_iter().map(|(s, n)| (CategoryKey::Str(s), n)),
                c.into_iter().map(|(s, n)| (CategoryKey::Str(s), n)),
            )))
        }
        (r, c) => Err(DriftError::TypeMismatch {
            reference: r.type_name(),
            current: c.type_name(),
        }),
    }
}

/// One category per float value: `(value, reference count, current count)`
/// rows in ascending value order.
pub(crate) fn float_categories<'a>(
    rows: impl Iterator<Item = (f64, u64, u64)>,
) -> CategoryTable<'a> {
    CategoryTable::from_sorted_rows(rows.map(|(v, nr, nc)| (CategoryKey::Float(FKey(v)), nr, nc)))
}

/// One category per integer value: `(value, reference count, current
/// count)` rows in ascending value order.
pub(crate) fn int_categories<'a>(rows: impl Iterator<Item = (i64, u64, u64)>) -> CategoryTable<'a> {
    CategoryTable::from_sorted_rows(rows.map(|(v, nr, nc)| (CategoryKey::Int(v), nr, nc)))
}

/// Evidently's kind of an integer column: categorical iff `values` hold at
/// most 10 distinct values (the offline path asks the current sample, a
/// profile its reference).
pub(crate) fn int_kind(values: &[i64]) -> ColumnKind {
    let mut sorted = values.to_vec();
    radsort::sort(&mut sorted);
    int_kind_sorted(&sorted)
}

/// [`int_kind`] of an ascending slice.
fn int_kind_sorted(sorted: &[i64]) -> ColumnKind {
    int_kind_of(distinct_sorted(sorted))
}

/// [`int_kind`] of a sample with `n_distinct` distinct values.
pub(crate) fn int_kind_of(n_distinct: usize) -> ColumnKind {
    if n_distinct <= 10 {
        ColumnKind::Categorical
    } else {
        ColumnKind::Numeric
    }
}

/// A categorical-only type (booleans, strings): a forced numeric kind is an
/// error, and each side must hold a value.
fn categorical_only(
    forced: Option<ColumnKind>,
    value_type: &'static str,
    n_reference: u64,
    n_current: u64,
) -> Result<(), DriftError> {
    if forced == Some(ColumnKind::Numeric) {
        return Err(DriftError::NotNumeric { value_type });
    }
    if n_reference == 0 {
        return Err(DriftError::EmptyInput {
            side: Side::Reference,
        });
    }
    if n_current == 0 {
        return Err(DriftError::EmptyInput {
            side: Side::Current,
        });
    }
    Ok(())
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

/// Evidently's Z-test on two ascending numeric samples (as [`z_test`] on
/// their float keys: the key is the smaller of the two minimums).
fn z_test_sorted<S: SortedSample>(r: &S, c: &S) -> ZTestResult {
    let (Some(r0), Some(c0)) = (r.smallest(), c.smallest()) else {
        return ZTestResult {
            statistic: 0.0,
            p_value: 1.0,
        };
    };
    let key = r0.min(c0);
    z_test_key_counts(r.count(), count_of(r, key), c.count(), count_of(c, key))
}

fn numeric_stats<S: SortedSample>(
    r: &S,
    c: &S,
    n_distinct: usize,
    bins: BinnedCounts,
    std_reference: f64,
) -> Result<ColumnStats, DriftError> {
    let (psi, kl, js, chi) = binned_stats(&bins)?;
    let z = (n_distinct <= 2).then(|| z_test_sorted(r, c));
    let d = ks_statistic_sorted(r, c);
    let w = wasserstein_sorted(r, c);
    Ok(ColumnStats {
        ks: Some(ks_from_statistic(d, r.count(), c.count())),
        wasserstein: Some(w),
        wasserstein_normed: Some(w / std_reference.max(0.001)),
        psi,
        jensenshannon: js,
        kl_div: kl,
        hellinger: hellinger_numeric_sorted(r, c, n_distinct)?,
        chisquare: chi,
        z,
        bins,
    })
}

fn categorical_stats(t: CategoryTable<'_>, n_distinct: usize) -> Result<ColumnStats, DriftError> {
    let z = (n_distinct <= 2).then(|| z_test_counts(&t.reference, &t.current));
    let bins = BinnedCounts {
        reference: t.reference,
        current: t.current,
    };
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
        z,
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
