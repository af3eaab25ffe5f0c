//! Bounded-memory drift of columns too large to hold: [`NumericSketch`], a
//! mergeable summary of one side of a numeric column, and
//! [`column_drift_sketched`], the drift of two such summaries by the rules of
//! [`column_drift_values`]: exact where the values fit, an estimate with
//! stated error bounds beyond.
//!
//! ## What a sketch holds
//! * A **KLL quantile sketch** (Apache DataSketches, `datasketches::kll`) of
//!   the finite values, size `k` (default [`DEFAULT_SKETCH_K`]). Its
//!   normalized rank error `ε` ([`NumericSketch::rank_error`], DataSketches'
//!   `normalized_rank_error`: `2.296 / k^0.9723`, ≈ 0.28 % at `k = 1000`) is
//!   the single-sided error of any one rank query at 99 % confidence:
//!   `|F̂(t) − F(t)| ≤ ε`. While a sketch has not compacted (the first `k`
//!   values or so) it holds every value and `ε` is 0.
//! * **Exact** count, minimum, maximum, mean and standard deviation: a
//!   compensated (Neumaier) sum for the mean, and per update a two-pass sum of
//!   squared deviations merged by Chan's formula, so the standard deviation
//!   agrees with [`std_ddof0`](crate::std_ddof0) of the whole column to about
//!   1e-14 relative.
//! * The number of dropped values (nulls, NaN, ±inf).
//! * **Exact value counts** while the sketch has seen at most
//!   [`EXACT_VALUES_CAP`] (64) distinct values. Past that the table is
//!   dropped and the distinct values go to an HLL sketch
//!   (`datasketches::hll`, `lg_k = 12`, ≈ 1.6 % relative standard error).
//!   The cap is above every distinct-count threshold the rules read (10 for
//!   the kind of an integer column, 20 for per-value bins, 5 and 2 for the
//!   default test), so past the cap "more than 64" is all they need.
//!
//! Every part merges ([`NumericSketch::merge`]): batches, files and threads can
//! be sketched apart and combined, in any order. DataSketches seeds its
//! compaction coin per thread at random, so an estimate can differ slightly
//! from run to run (always within its bound); exact results are deterministic.
//!
//! ## Exact where it fits
//! A side is *exact* when its value table survived, or its KLL sketch has not
//! compacted (it then holds every value). When both sides are exact,
//! [`column_drift_sketched`] rebuilds both samples as sorted runs of values
//! with their counts and runs the exact code (`column.rs`, `sorted.rs`) on
//! them: the result is **identical** to [`column_drift_values`] on the raw
//! columns, and [`ColumnDriftResult::estimate`] is `None`.
//!
//! ## The estimate beyond
//! Otherwise each side that is not exact is read as the KLL sketch's weighted
//! sorted view (its retained items, each with its weight; the weights add up
//! to the exact `n`), and the same statistics code reads these runs as it
//! reads a sorted column:
//! * **KS**: `D̂ = sup |F̂_ref − F̂_cur|` over every retained item of both
//!   sides (a merge walk), the p-value by scipy's rules with the true sizes.
//!   `|D̂ − D| ≤ ε_ref + ε_cur` (plus scipy's exact-mode rounding,
//!   `≤ 1/(2·lcm(n_ref, n_cur))`, when both sizes are ≤ 10 000).
//! * **Wasserstein-1**: `Ŵ = ∫ |F̂_ref − F̂_cur|`, both step functions being 0
//!   below the pooled minimum and 1 above the pooled maximum, so
//!   `|Ŵ − W| ≤ (ε_ref + ε_cur)·(max − min)`; normed by the exact reference
//!   standard deviation as Evidently does.
//! * **Binned tests** (PSI, KL, Jensen–Shannon, chi-squared, and Evidently's
//!   Hellinger density): Sturges edges from the exact pooled minimum,
//!   maximum and size (as numpy computes them), counts read off the weighted
//!   view at the edges (`[e_i, e_{i+1})`, the last bin right-closed), so they
//!   add up to the exact `n`. Each bin's share on a side is the difference of
//!   two rank queries, off by at most `2ε` of that side. Hellinger bins over
//!   the *distinct* values (Evidently's rule), whose number beyond the cap is
//!   the HLL estimate.
//! * **Per-value bins** when the reference is exact with at most 20 distinct
//!   values but the current side is not (or a categorical comparison, forced
//!   or an integer column whose current data has ≤ 10 values, with one side
//!   beyond the cap): one bin per value of the exact side, the other side's
//!   count there being its estimated mass at that value, and **one pooled
//!   bin** for the rest of the other side (Evidently gives each of those values
//!   its own bin). The Jensen–Shannon distance, the chi-squared statistic and
//!   the categorical Hellinger distance do not change by that pooling; PSI,
//!   KL and the chi-squared degrees of freedom do. [`SketchEstimate::pooled_bin`]
//!   says so. Both sides beyond the cap cannot be compared as categories
//!   ([`DriftError::CategoriesNotKept`]).
//!
//! Binned divergences of two nearly equal distributions read higher than
//! the exact ones: the bin-share noise (well inside `2ε`) is itself a small
//! divergence. At `k = 1000` two samples of one normal distribution read a
//! Jensen–Shannon distance of about 0.01–0.03 where the exact one is below
//! 0.01: far below the 0.1 threshold, but not the same number.
//!
//! [`ColumnDriftResult::estimate`] carries `k`, both `ε` and the bounds. They
//! are 99 %-confidence bounds per query, as DataSketches states them; a
//! statistic that takes a supremum over many points (KS) can exceed its bound
//! with a somewhat larger probability. Verdicts near a threshold can flip
//! between exact and sketch mode, and between two sketch runs.
//!
//! Not to be confused with the window profiles' reference sketch
//! ([`crate::profile`]): that is a fixed, deterministic `m`-point sample of a
//! stored reference profile with exact error terms; this one is a mergeable
//! KLL for the offline report of columns too large to hold.

use datasketches::common::SearchCriteria;
use datasketches::hll::{HllSketch, HllType, HllUnion};
use datasketches::kll::{KllFloat, KllSketch};

use crate::category::CategoryTable;
use crate::column::{
    ColumnDriftResult, ColumnKind, ColumnOptions, Prepared, SketchEstimate, check_threshold,
    column_result, float_categories, int_categories, int_kind_of,
};
#[cfg(doc)]
use crate::column_drift_values;
use crate::distance::{BinnedCounts, bin_numeric_sorted};
use crate::error::{DriftError, Side};
use crate::ks::gcd;
use crate::sorted::{Runs, SortedSample, count_of, merge_runs};
use crate::summation::fsum;

/// Default KLL size: rank error ≈ 0.28 % per side (99 % confidence), about
/// 3 000 retained items (≈ 24 KiB per sketch).
pub const DEFAULT_SKETCH_K: u16 = 1000;

/// Distinct values a sketch counts exactly; beyond, it keeps only the KLL
/// sketch and a distinct-count estimate.
pub const EXACT_VALUES_CAP: usize = 64;

/// HLL size of the distinct-value count: 2^12 one-byte registers.
const HLL_LG_K: u8 = 12;

/// Integers of at most this magnitude are exact as f64.
const EXACT_INT_F64: f64 = 9_007_199_254_740_992.0; // 2^53

fn sketch_error(e: impl std::fmt::Display) -> DriftError {
    DriftError::Sketch(e.to_string())
}

/// Neumaier-compensated running sum with Chan's mergeable sum of squared
/// deviations: exact-mode mean and `std(ddof=0)` in one pass per update.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Moments {
    n: u64,
    sum: f64,
    comp: f64,
    /// `Σ (x − mean)²`.
    m2: f64,
}

impl Moments {
    /// Adds `t` to the compensated sum (`summation::fsum`'s step).
    fn add(&mut self, t: f64) {
        let s = self.sum + t;
        if self.sum.abs() >= t.abs() {
            self.comp += (self.sum - s) + t;
        } else {
            self.comp += (t - s) + self.sum;
        }
        self.sum = s;
    }

    fn total(&self) -> f64 {
        if self.sum.is_finite() {
            self.sum + self.comp
        } else {
            self.sum
        }
    }

    fn mean(&self) -> f64 {
        self.total() / self.n as f64
    }

    /// The moments of one batch of finite values, two passes over it.
    fn of(values: impl Iterator<Item = f64> + Clone) -> Moments {
        let mut m = Moments::default();
        for v in values.clone() {
            m.n += 1;
            m.add(v);
        }
        if m.n > 0 {
            let mean = m.mean();
            m.m2 = fsum(values.map(|v| (v - mean) * (v - mean)));
        }
        m
    }

    /// Chan et al.'s pairwise update: `M2 = M2_a + M2_b + δ²·n_a·n_b/n`.
    fn merge(&mut self, o: &Moments) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *o;
            return;
        }
        let (na, nb) = (self.n as f64, o.n as f64);
        let delta = o.mean() - self.mean();
        self.m2 += o.m2 + delta * delta * (na * nb / (na + nb));
        self.n += o.n;
        self.add(o.sum);
        self.comp += o.comp;
    }
}

/// Exact counts of at most [`EXACT_VALUES_CAP`] distinct values, ascending.
#[derive(Debug, Clone, PartialEq)]
struct ValueTable<T>(Vec<(T, u64)>);

impl<T: Copy + PartialOrd> ValueTable<T> {
    /// Counts `n` more of `v`; `false` (and nothing counted) when `v` is new
    /// and the table is full.
    fn add(&mut self, v: T, n: u64) -> bool {
        let i = self.0.partition_point(|(x, _)| *x < v);
        if let Some((x, c)) = self.0.get_mut(i)
            && *x == v
        {
            *c += n;
            return true;
        }
        if self.0.len() >= EXACT_VALUES_CAP {
            return false;
        }
        self.0.insert(i, (v, n));
        true
    }

    /// Counts the values of `xs` until one does not fit; returns that one.
    fn count(&mut self, xs: &mut impl Iterator<Item = T>) -> Option<T> {
        xs.find(|&v| !self.add(v, 1))
    }
}

/// The exact value counts of a sketch, by value type, or none past the cap.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    Float(ValueTable<f64>),
    Int(ValueTable<i64>),
    Dropped,
}

/// Mergeable summary of one side of a numeric column: a KLL quantile sketch
/// of its finite values, exact count, minimum, maximum, mean and standard
/// deviation, the number of dropped values, and exact value counts while
/// there are at most [`EXACT_VALUES_CAP`] distinct values (see the [module
/// docs](self)).
///
/// An *integer* sketch ([`NumericSketch::integers`]) follows Evidently's
/// rules for integer columns (categorical when the current data has at most
/// 10 distinct values); feeding it floats, or merging a float sketch into it,
/// makes it a float sketch, as a column read as floats.
#[derive(Clone)]
pub struct NumericSketch {
    kll: KllSketch<KllFloat<f64>>,
    /// Distinct values (their f64 bits), counted once the table is dropped;
    /// it then holds the table's values too.
    distinct: HllSketch,
    values: Values,
    integer: bool,
    moments: Moments,
    min: f64,
    max: f64,
    dropped: u64,
}

impl std::fmt::Debug for NumericSketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NumericSketch")
            .field("k", &self.kll.k())
            .field("integer", &self.integer)
            .field("n", &self.moments.n)
            .field("min", &self.min)
            .field("max", &self.max)
            .field("dropped", &self.dropped)
            .field("retained", &self.kll.num_retained())
            .field("values", &self.values)
            .finish()
    }
}

impl NumericSketch {
    /// An empty sketch of a float column with KLL size `k` (8..=65535;
    /// [`DEFAULT_SKETCH_K`] keeps the rank error near 0.3 %).
    pub fn new(k: u16) -> Result<Self, DriftError> {
        let kll = KllSketch::new(k).map_err(|_| DriftError::InvalidSketchSize { k })?;
        let distinct = HllSketch::new(HLL_LG_K, HllType::Hll8).map_err(sketch_error)?;
        Ok(NumericSketch {
            kll,
            distinct,
            values: Values::Float(ValueTable(Vec::new())),
            integer: false,
            moments: Moments::default(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            dropped: 0,
        })
    }

    /// An empty sketch of an integer column (see [`NumericSketch`]).
    pub fn integers(k: u16) -> Result<Self, DriftError> {
        let mut s = Self::new(k)?;
        s.integer = true;
        s.values = Values::Int(ValueTable(Vec::new()));
        Ok(s)
    }

    /// Adds floats; NaN and ±inf are dropped (and counted as such), `-0.0`
    /// is `0.0`. An integer sketch becomes a float sketch first.
    pub fn update_slice(&mut self, values: &[f64]) {
        self.become_floats();
        let finite = values.iter().map(|&v| v + 0.0).filter(|v| v.is_finite());
        let n = self.absorb(finite.clone());
        self.dropped += values.len() as u64 - n;
        let mut rest = finite;
        let overflow = match &mut self.values {
            Values::Float(t) => t.count(&mut rest),
            _ => None,
        };
        self.count_distinct(overflow.into_iter().chain(rest));
    }

    /// Adds integers (compared as the f64 they round to, as the exact path
    /// does for a numeric integer column).
    pub fn update_integers(&mut self, values: &[i64]) {
        self.absorb(values.iter().map(|&v| v as f64));
        if let Values::Int(t) = &mut self.values {
            let mut rest = values.iter().copied();
            let overflow = t.count(&mut rest);
            self.count_distinct(overflow.into_iter().chain(rest).map(|v| v as f64));
        } else {
            let mut rest = values.iter().map(|&v| v as f64);
            let overflow = match &mut self.values {
                Values::Float(t) => t.count(&mut rest),
                _ => None,
            };
            self.count_distinct(overflow.into_iter().chain(rest));
        }
    }

    /// The sketch as a float sketch (an integer sketch's values as the f64
    /// they round to): an integer column read as floats.
    pub fn into_floats(mut self) -> Self {
        self.become_floats();
        self
    }

    /// Counts `n` dropped values (nulls) without a value to add.
    pub fn add_nulls(&mut self, n: u64) {
        self.dropped += n;
    }

    /// Merges `other` into this sketch (a float sketch and an integer sketch
    /// make a float sketch).
    pub fn merge(&mut self, other: &NumericSketch) -> Result<(), DriftError> {
        let converted;
        let other = if self.integer && !other.integer {
            self.become_floats();
            other
        } else if other.integer && !self.integer {
            let mut o = other.clone();
            o.become_floats();
            converted = o;
            &converted
        } else {
            other
        };
        self.kll.merge(&other.kll).map_err(sketch_error)?;
        self.moments.merge(&other.moments);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.dropped += other.dropped;
        let fits = match (&mut self.values, &other.values) {
            (Values::Float(a), Values::Float(b)) => merge_tables(a, b),
            (Values::Int(a), Values::Int(b)) => merge_tables(a, b),
            (Values::Dropped, _) => true,
            _ => false,
        };
        if !fits {
            self.drop_values();
        }
        if let Values::Dropped = self.values {
            let mut union = HllUnion::new(HLL_LG_K).map_err(sketch_error)?;
            union.update(&self.distinct);
            add_distinct(&mut union, other);
            self.distinct = union.to_sketch(HllType::Hll8);
        }
        Ok(())
    }

    /// Finite values added.
    pub fn n(&self) -> u64 {
        self.moments.n
    }

    /// Values dropped: nulls, NaN and ±inf.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Smallest finite value (`None` when empty).
    pub fn min(&self) -> Option<f64> {
        (self.n() > 0).then_some(self.min)
    }

    /// Largest finite value (`None` when empty).
    pub fn max(&self) -> Option<f64> {
        (self.n() > 0).then_some(self.max)
    }

    /// Mean of the finite values (`None` when empty).
    pub fn mean(&self) -> Option<f64> {
        (self.n() > 0).then(|| self.moments.mean())
    }

    /// Population standard deviation (`ddof = 0`) of the finite values
    /// (`None` when empty).
    pub fn std(&self) -> Option<f64> {
        (self.n() > 0).then(|| (self.moments.m2 / self.n() as f64).sqrt())
    }

    /// The KLL size `k` (after merging sketches of different sizes, the smallest).
    pub fn k(&self) -> u16 {
        self.kll.min_k()
    }

    /// Whether every value added was an integer.
    pub fn is_integer(&self) -> bool {
        self.integer
    }

    /// `ε`, the normalized rank error of the KLL sketch at 99 % confidence
    /// (single-sided, per query): 0 while it still holds every value.
    pub fn rank_error(&self) -> f64 {
        if self.kll.is_estimation_mode() {
            self.kll.normalized_rank_error()
        } else {
            0.0
        }
    }

    /// Whether the sketch knows every value: its value table survived, or
    /// the KLL sketch has not compacted.
    pub fn is_exact(&self) -> bool {
        self.exact_side().is_some()
    }

    /// Number of distinct values, when at most [`EXACT_VALUES_CAP`].
    pub fn distinct_values(&self) -> Option<usize> {
        match &self.values {
            Values::Float(t) => Some(t.0.len()),
            Values::Int(t) => Some(t.0.len()),
            Values::Dropped => None,
        }
    }

    /// The exact counts per value of a float sketch, ascending (`None` past
    /// the cap, or for an integer sketch).
    pub fn float_counts(&self) -> Option<&[(f64, u64)]> {
        match &self.values {
            Values::Float(t) => Some(&t.0),
            _ => None,
        }
    }

    /// The exact counts per value of an integer sketch, ascending (`None`
    /// past the cap, or for a float sketch).
    pub fn int_counts(&self) -> Option<&[(i64, u64)]> {
        match &self.values {
            Values::Int(t) => Some(&t.0),
            _ => None,
        }
    }

    /// Adds finite values to the KLL sketch, the moments and the range;
    /// returns how many there were.
    fn absorb(&mut self, values: impl Iterator<Item = f64> + Clone) -> u64 {
        let m = Moments::of(values.clone());
        for v in values {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
            if let Ok(item) = KllFloat::<f64>::new(v) {
                self.kll.update(item);
            }
        }
        self.moments.merge(&m);
        m.n
    }

    /// After a table update: the value that did not fit (if any) and the
    /// values after it go to the distinct count, the table being dropped.
    fn count_distinct(&mut self, mut rest: impl Iterator<Item = f64>) {
        if !matches!(self.values, Values::Dropped) {
            match rest.next() {
                None => return,
                Some(first) => {
                    self.drop_values();
                    self.distinct.update(first.to_bits());
                }
            }
        }
        for v in rest {
            self.distinct.update(v.to_bits());
        }
    }

    /// Past the cap: the table's values go to the distinct count.
    fn drop_values(&mut self) {
        match std::mem::replace(&mut self.values, Values::Dropped) {
            Values::Float(t) => {
                t.0.iter()
                    .for_each(|(v, _)| self.distinct.update(v.to_bits()))
            }
            Values::Int(t) => {
                t.0.iter()
                    .for_each(|(v, _)| self.distinct.update((*v as f64).to_bits()));
            }
            Values::Dropped => {}
        }
    }

    /// Makes an integer sketch a float sketch (values as the f64 they round to).
    fn become_floats(&mut self) {
        if !self.integer {
            return;
        }
        self.integer = false;
        if let Values::Int(t) = &self.values {
            let mut floats = ValueTable(Vec::with_capacity(t.0.len()));
            for &(v, n) in &t.0 {
                // Ascending, and at most as many values: always fits.
                floats.add(v as f64, n);
            }
            self.values = Values::Float(floats);
        }
    }

    /// The side's every value, when known: the value table, or the runs of a
    /// KLL sketch that has not compacted (an integer sketch's only while its
    /// values are exact as f64).
    fn exact_side(&self) -> Option<Exact> {
        match &self.values {
            Values::Float(t) => return Some(Exact::Float(t.0.clone())),
            Values::Int(t) => return Some(Exact::Int(t.0.clone())),
            Values::Dropped => {}
        }
        if self.kll.is_estimation_mode() {
            return None;
        }
        let runs = kll_runs(&self.kll).ok()?;
        if self.integer {
            if self.min < -EXACT_INT_F64 || self.max > EXACT_INT_F64 {
                return None;
            }
            Some(Exact::Int(
                runs.into_iter().map(|(v, n)| (v as i64, n)).collect(),
            ))
        } else {
            Some(Exact::Float(runs))
        }
    }

    /// The side as weighted runs with its exact ends.
    fn runs(&self, exact: Option<&Exact>) -> Result<Runs, DriftError> {
        let ends = Some((self.min, self.max));
        Ok(match exact {
            Some(e) => e.runs(),
            None => Runs::new(kll_runs(&self.kll)?, ends),
        })
    }
}

/// Adds `b`'s counts to `a`; `false` when they do not fit under the cap (then
/// `a` is left partly merged: the caller drops it).
fn merge_tables<T: Copy + PartialOrd>(a: &mut ValueTable<T>, b: &ValueTable<T>) -> bool {
    b.0.iter().all(|&(v, n)| a.add(v, n))
}

/// The distinct retained items of a KLL sketch, ascending, each with its
/// total weight: the weighted sorted view, read through DataSketches' public
/// rank and quantile queries (one exclusive quantile query finds the item
/// after a cumulative weight, one inclusive rank query that item's
/// cumulative weight). The weights add up to the sketch's `n`.
fn kll_runs(kll: &KllSketch<KllFloat<f64>>) -> Result<Vec<(f64, u64)>, DriftError> {
    let view = kll.sorted_view();
    let total = view.total_weight();
    let w = total as f64;
    let mut runs = Vec::with_capacity(view.len());
    let mut below = 0u64;
    while below < total {
        let rank = (below as f64 + 0.5) / w;
        let item = view
            .quantile(rank, SearchCriteria::Exclusive)
            .map_err(sketch_error)?
            .ok_or_else(|| sketch_error("empty sorted view"))?;
        let upto = view
            .rank(&item, SearchCriteria::Inclusive)
            .map(|r| (r * w).round() as u64)
            .ok_or_else(|| sketch_error("empty sorted view"))?;
        if upto <= below || runs.len() > view.len() {
            return Err(sketch_error("sorted view walk made no progress"));
        }
        runs.push((item.into_inner(), upto - below));
        below = upto;
    }
    Ok(runs)
}

/// Every value of one side with its count, ascending.
#[derive(Debug, Clone)]
enum Exact {
    Float(Vec<(f64, u64)>),
    Int(Vec<(i64, u64)>),
}

impl Exact {
    fn len(&self) -> usize {
        match self {
            Exact::Float(v) => v.len(),
            Exact::Int(v) => v.len(),
        }
    }

    /// As numbers (integers as the f64 they round to).
    fn runs(&self) -> Runs {
        match self {
            Exact::Float(v) => Runs::new(v.iter().copied(), None),
            Exact::Int(v) => Runs::new(v.iter().map(|&(x, n)| (x as f64, n)), None),
        }
    }
}

/// The drift of a column from one sketch per side, by the rules of
/// [`column_drift_values`]: **identical** to it when both sides are exact
/// (`estimate: None`), otherwise estimated from the KLL sketches with the
/// bounds in [`ColumnDriftResult::estimate`] (see the [module docs](self)).
///
/// Both sketches must be of the same type (both integer or both float;
/// [`DriftError::TypeMismatch`] otherwise). An empty side is
/// [`DriftError::EmptyInput`].
pub fn column_drift_sketched(
    reference: &NumericSketch,
    current: &NumericSketch,
    options: &ColumnOptions,
) -> Result<ColumnDriftResult, DriftError> {
    check_threshold(options)?;
    if reference.n() == 0 {
        return Err(DriftError::EmptyInput {
            side: Side::Reference,
        });
    }
    if current.n() == 0 {
        return Err(DriftError::EmptyInput {
            side: Side::Current,
        });
    }
    if reference.integer != current.integer {
        let name = |s: &NumericSketch| if s.integer { "integer" } else { "float" };
        return Err(DriftError::TypeMismatch {
            reference: name(reference),
            current: name(current),
        });
    }
    match (reference.exact_side(), current.exact_side()) {
        (Some(r), Some(c)) => column_result(exact_prepared(&r, &c, options.kind)?, options),
        (r, c) => estimated(reference, current, r, c, options),
    }
}

/// Both sides known value by value: the exact path's preparation, on runs.
fn exact_prepared<'a>(
    r: &Exact,
    c: &Exact,
    forced: Option<ColumnKind>,
) -> Result<Prepared<'a, Runs>, DriftError> {
    match (r, c) {
        (Exact::Int(a), Exact::Int(b)) => {
            let kind = forced.unwrap_or_else(|| int_kind_of(b.len()));
            if kind == ColumnKind::Categorical {
                return Ok(Prepared::categorical(int_categories(merge_runs(
                    a.iter().copied(),
                    b.iter().copied(),
                ))));
            }
            Prepared::exact_numeric(r.runs(), c.runs())
        }
        (Exact::Float(a), Exact::Float(b)) if forced == Some(ColumnKind::Categorical) => {
            Ok(Prepared::categorical(float_categories(merge_runs(
                a.iter().copied(),
                b.iter().copied(),
            ))))
        }
        _ => Prepared::exact_numeric(r.runs(), c.runs()),
    }
}

/// At least one side beyond its exact values: the estimate.
fn estimated(
    reference: &NumericSketch,
    current: &NumericSketch,
    re: Option<Exact>,
    ce: Option<Exact>,
    options: &ColumnOptions,
) -> Result<ColumnDriftResult, DriftError> {
    let kind = options.kind.unwrap_or(match &ce {
        Some(c) if reference.integer => int_kind_of(c.len()),
        _ => ColumnKind::Numeric,
    });
    let n_distinct = pooled_distinct(reference, current, &re, &ce)?;
    let (eps_r, eps_c) = (
        if re.is_some() {
            0.0
        } else {
            reference.rank_error()
        },
        if ce.is_some() {
            0.0
        } else {
            current.rank_error()
        },
    );
    let r_runs = reference.runs(re.as_ref())?;
    let c_runs = current.runs(ce.as_ref())?;
    let (prepared, pooled_bin) = match kind {
        ColumnKind::Categorical => {
            let table = match (&re, &ce) {
                (Some(e), _) => pooled_categories(e, &c_runs, true),
                (None, Some(e)) => pooled_categories(e, &r_runs, false),
                (None, None) => {
                    return Err(DriftError::CategoriesNotKept {
                        cap: EXACT_VALUES_CAP,
                    });
                }
            };
            (Prepared::Cat { table, n_distinct }, true)
        }
        ColumnKind::Numeric => {
            let per_value = re.as_ref().is_some_and(|e| e.len() <= 20);
            let bins = if per_value {
                pooled_value_bins(&r_runs, &c_runs)
            } else {
                bin_numeric_sorted(&r_runs, &c_runs, false)?
            };
            let std_reference = reference.std().unwrap_or(0.0);
            (
                Prepared::Num {
                    r: r_runs,
                    c: c_runs,
                    n_distinct,
                    bins,
                    std_reference,
                },
                per_value,
            )
        }
    };
    let mut result = column_result(prepared, options)?;
    let eps = eps_r + eps_c;
    let numeric = result.kind == ColumnKind::Numeric;
    let (n1, n2) = (reference.n(), current.n());
    let rounding = if n1.max(n2) as usize <= crate::KS_MAX_AUTO_N {
        0.5 / ((n1 / gcd(n1, n2)) as f64 * n2 as f64)
    } else {
        0.0
    };
    let range = reference.max.max(current.max) - reference.min.min(current.min);
    let w_bound = eps * range;
    let norm = reference.std().unwrap_or(0.0).max(0.001);
    result.estimate = Some(SketchEstimate {
        k: reference.k().min(current.k()),
        rank_error_reference: eps_r,
        rank_error_current: eps_c,
        ks_statistic_bound: numeric.then_some(eps + rounding),
        wasserstein_bound: numeric.then_some(w_bound),
        wasserstein_normed_bound: numeric.then_some(w_bound / norm),
        bin_share_bound: 2.0 * eps_r.max(eps_c),
        pooled_bin,
    });
    Ok(result)
}

/// Distinct values of `reference ∪ current` beyond the cap: the HLL estimate
/// of the union, within what is known for certain (more than the cap, at
/// least each exact side's count, at most every value).
fn pooled_distinct(
    reference: &NumericSketch,
    current: &NumericSketch,
    re: &Option<Exact>,
    ce: &Option<Exact>,
) -> Result<usize, DriftError> {
    let mut union = HllUnion::new(HLL_LG_K).map_err(sketch_error)?;
    for s in [reference, current] {
        add_distinct(&mut union, s);
    }
    let known = [re, ce]
        .into_iter()
        .flatten()
        .map(Exact::len)
        .fold(EXACT_VALUES_CAP + 1, usize::max);
    let most = usize::try_from(reference.n() + current.n()).unwrap_or(usize::MAX);
    let estimate = union.estimate().round();
    let estimate = if estimate.is_finite() && estimate >= 0.0 {
        estimate as usize
    } else {
        known
    };
    Ok(estimate.clamp(known.min(most), most))
}

/// Per-value bins of a reference known value by value against a current
/// side that is not: one bin per reference value (the current count there
/// estimated), then one bin for the rest of the current side.
fn pooled_value_bins(r: &Runs, c: &Runs) -> BinnedCounts {
    let mut reference = Vec::new();
    let mut current = Vec::new();
    for (v, n) in r.runs() {
        reference.push(n);
        current.push(count_of(c, v));
    }
    let rest = c.count().saturating_sub(current.iter().sum());
    if rest > 0 {
        reference.push(0);
        current.push(rest);
    }
    BinnedCounts { reference, current }
}

/// Categories of a column with one side (`exact`) known value by value and
/// the other (`other`) not: one row per exact value, the other side's count
/// there estimated, and a pooled row for the rest of the other side.
fn pooled_categories<'a>(
    exact: &Exact,
    other: &Runs,
    exact_is_reference: bool,
) -> CategoryTable<'a> {
    let row = |e: u64, o: u64| if exact_is_reference { (e, o) } else { (o, e) };
    let mut placed = 0u64;
    let mut table = match exact {
        Exact::Int(v) => int_categories(v.iter().map(|&(x, n)| {
            let o = count_of(other, x as f64);
            placed += o;
            let (r, c) = row(n, o);
            (x, r, c)
        })),
        Exact::Float(v) => float_categories(v.iter().map(|&(x, n)| {
            let o = count_of(other, x);
            placed += o;
            let (r, c) = row(n, o);
            (x, r, c)
        })),
    };
    let (r, c) = row(0, other.count().saturating_sub(placed));
    table.push_pooled(r, c);
    table
}

/// Adds the distinct values of `s` to `union`: its exact values while it keeps
/// them, otherwise its own distinct-count sketch.
fn add_distinct(union: &mut HllUnion, s: &NumericSketch) {
    match &s.values {
        Values::Dropped => union.update(&s.distinct),
        Values::Float(t) => {
            t.0.iter()
                .for_each(|(v, _)| union.update_value(v.to_bits()))
        }
        Values::Int(t) => {
            t.0.iter()
                .for_each(|(v, _)| union.update_value((*v as f64).to_bits()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_k_keeps_the_rank_error_under_a_third_of_a_percent() {
        let s = KllSketch::<KllFloat<f64>>::new(DEFAULT_SKETCH_K).unwrap();
        assert!(
            s.normalized_rank_error() < 0.003,
            "{}",
            s.normalized_rank_error()
        );
    }

    #[test]
    fn kll_runs_are_the_weighted_sorted_view() {
        let mut s = NumericSketch::new(8).unwrap();
        let xs: Vec<f64> = (0..5000).map(|i| ((i * 7919) % 5000) as f64).collect();
        s.update_slice(&xs);
        assert!(s.kll.is_estimation_mode());
        let runs = kll_runs(&s.kll).unwrap();
        assert_eq!(runs.iter().map(|r| r.1).sum::<u64>(), 5000);
        assert!(runs.windows(2).all(|w| w[0].0 < w[1].0));
        let view = s.kll.sorted_view();
        let mut upto = 0;
        for (v, n) in runs {
            upto += n;
            let r = view
                .rank(&KllFloat::<f64>::new(v).unwrap(), SearchCriteria::Inclusive)
                .unwrap();
            assert_eq!((r * 5000.0).round() as u64, upto);
        }
    }

    #[test]
    fn tables_stop_at_the_cap_and_count_distinct_values_beyond() {
        let mut s = NumericSketch::integers(DEFAULT_SKETCH_K).unwrap();
        let xs: Vec<i64> = (0..EXACT_VALUES_CAP as i64).collect();
        s.update_integers(&xs);
        s.update_integers(&xs);
        assert_eq!(s.distinct_values(), Some(EXACT_VALUES_CAP));
        assert_eq!(s.int_counts().unwrap()[3], (3, 2));
        s.update_integers(&[1000, 1001, 5]);
        assert_eq!(s.distinct_values(), None);
        assert_eq!(s.n(), 2 * EXACT_VALUES_CAP as u64 + 3);
        // Not compacted: still exact.
        assert!(s.is_exact());
        assert_eq!(s.distinct.estimate().round(), EXACT_VALUES_CAP as f64 + 2.0);
        s.update_slice(&[0.5, f64::NAN, f64::INFINITY]);
        assert!(!s.is_integer());
        assert_eq!((s.n(), s.dropped()), (2 * EXACT_VALUES_CAP as u64 + 4, 2));
        assert_eq!(s.distinct.estimate().round(), EXACT_VALUES_CAP as f64 + 3.0);
    }

    #[test]
    fn moments_merge_like_one_pass() {
        let xs: Vec<f64> = (0..10_000).map(|i| 1e6 + (i as f64).sin()).collect();
        let mut a = Moments::of(xs[..3333].iter().copied());
        a.merge(&Moments::of(xs[3333..].iter().copied()));
        let n = xs.len() as f64;
        let mean = fsum(xs.iter().copied()) / n;
        let std = (fsum(xs.iter().map(|v| (v - mean) * (v - mean))) / n).sqrt();
        assert!((a.mean() - mean).abs() <= 1e-15 * mean.abs());
        assert!(
            ((a.m2 / n).sqrt() - std).abs() <= 1e-12 * std,
            "{} {std}",
            (a.m2 / n).sqrt()
        );
    }
}
