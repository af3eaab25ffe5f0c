//! The one sorted copy of a numeric sample, and every statistic read off two
//! sorted samples by merge passes and binary searches: distinct counts, the
//! Wasserstein sum, histogram counts on given edges, per-value counts.
//!
//! A column is sorted once (a radix sort on the f64 total-order bits, through
//! `radsort`), and nothing downstream sorts again: KS walks both arrays once,
//! Wasserstein walks their merge once, histograms are two binary searches per
//! edge.
//!
//! The statistics read a sample only through [`SortedSample`]: its size,
//! ends, rank counts and distinct values with their counts. A sorted slice is
//! one; [`Runs`] (distinct values with counts, or a quantile sketch's weighted
//! items, `sketch.rs`) is the other, so sketched columns go through the same
//! code.
use crate::summation::fsum;

/// An ascending sample of finite values as the statistics read it.
pub(crate) trait SortedSample {
    /// Number of values (the total weight).
    fn count(&self) -> u64;
    /// Smallest value (`None` when empty).
    fn smallest(&self) -> Option<f64>;
    /// Largest value (`None` when empty).
    fn largest(&self) -> Option<f64>;
    /// `#{x < t}`.
    fn below(&self, t: f64) -> u64;
    /// `#{x ≤ t}`.
    fn upto(&self, t: f64) -> u64;
    /// The distinct values, ascending, each with how often it occurs.
    fn runs(&self) -> impl Iterator<Item = (f64, u64)> + '_;
    /// Every value, ascending (each distinct value repeated as often as it
    /// occurs).
    fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.runs()
            .flat_map(|(v, n)| std::iter::repeat_n(v, usize::try_from(n).unwrap_or(usize::MAX)))
    }
}

impl SortedSample for [f64] {
    fn count(&self) -> u64 {
        self.len() as u64
    }
    fn smallest(&self) -> Option<f64> {
        self.first().copied()
    }
    fn largest(&self) -> Option<f64> {
        self.last().copied()
    }
    fn below(&self, t: f64) -> u64 {
        self.partition_point(|&x| x < t) as u64
    }
    fn upto(&self, t: f64) -> u64 {
        self.partition_point(|&x| x <= t) as u64
    }
    fn runs(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        slice_runs(self)
    }
    fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.iter().copied()
    }
}

impl SortedSample for Vec<f64> {
    fn count(&self) -> u64 {
        self.as_slice().count()
    }
    fn smallest(&self) -> Option<f64> {
        self.as_slice().smallest()
    }
    fn largest(&self) -> Option<f64> {
        self.as_slice().largest()
    }
    fn below(&self, t: f64) -> u64 {
        self.as_slice().below(t)
    }
    fn upto(&self, t: f64) -> u64 {
        self.as_slice().upto(t)
    }
    fn runs(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        slice_runs(self)
    }
    fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.iter().copied()
    }
}

/// A sample as its distinct values with their counts: an exact sample kept
/// as a value table, or the weighted items of a quantile sketch. Its ends
/// are given apart from the values, so that a sketch that dropped its
/// extreme items still reports the sample's exact minimum and maximum.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Runs {
    values: Vec<f64>,
    /// `cumulative[i]` = how many values are `≤ values[i]`.
    cumulative: Vec<u64>,
    first: f64,
    last: f64,
}

impl Runs {
    /// From ascending `(value, count)` pairs of finite values (equal
    /// neighbours are merged, empty counts left out); `ends` are the
    /// sample's minimum and maximum, by default the first and last value.
    pub(crate) fn new(
        runs: impl IntoIterator<Item = (f64, u64)>,
        ends: Option<(f64, f64)>,
    ) -> Self {
        let mut values: Vec<f64> = Vec::new();
        let mut cumulative: Vec<u64> = Vec::new();
        let mut total = 0u64;
        for (v, n) in runs {
            if n == 0 {
                continue;
            }
            total += n;
            match (values.last(), cumulative.last_mut()) {
                (Some(&last), Some(c)) if last == v => *c = total,
                _ => {
                    values.push(v);
                    cumulative.push(total);
                }
            }
        }
        let (first, last) = ends.unwrap_or_else(|| {
            (
                values.first().copied().unwrap_or(f64::NAN),
                values.last().copied().unwrap_or(f64::NAN),
            )
        });
        Runs {
            values,
            cumulative,
            first,
            last,
        }
    }

    /// How many values are `≤ values[i − 1]` (0 for `i = 0`).
    fn cumulative_before(&self, i: usize) -> u64 {
        i.checked_sub(1)
            .and_then(|j| self.cumulative.get(j))
            .copied()
            .unwrap_or(0)
    }
}

impl SortedSample for Runs {
    fn count(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }
    fn smallest(&self) -> Option<f64> {
        (!self.values.is_empty()).then_some(self.first)
    }
    fn largest(&self) -> Option<f64> {
        (!self.values.is_empty()).then_some(self.last)
    }
    fn below(&self, t: f64) -> u64 {
        self.cumulative_before(self.values.partition_point(|&x| x < t))
    }
    fn upto(&self, t: f64) -> u64 {
        self.cumulative_before(self.values.partition_point(|&x| x <= t))
    }
    fn runs(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let mut before = 0u64;
        self.values
            .iter()
            .zip(&self.cumulative)
            .map(move |(&v, &c)| {
                let n = c - before;
                before = c;
                (v, n)
            })
    }
}

/// The distinct values of an ascending slice with how often each occurs.
pub(crate) fn slice_runs<T: PartialEq + Copy>(a: &[T]) -> impl Iterator<Item = (T, u64)> + '_ {
    a.chunk_by(|x, y| x == y)
        .map(|run| (run[0], run.len() as u64))
}

/// Sorts finite values ascending in place, `-0.0` written as `0.0` (numpy's
/// equality: the two are one value for every statistic here).
///
/// Radix sort (`radsort`, LSD on the IEEE total-order bits): O(n), about 10×
/// faster than a comparison sort on 1M values, and unstable order does not
/// matter for numbers.
pub(crate) fn sort_finite(values: &mut [f64]) {
    for v in values.iter_mut() {
        *v += 0.0;
    }
    radsort::sort(values);
}

/// A copy of `x` (finite), sorted by [`sort_finite`].
pub(crate) fn sorted(x: &[f64]) -> Vec<f64> {
    let mut v = x.to_vec();
    sort_finite(&mut v);
    v
}

/// Keeps the finite values of `values`, sorted by [`sort_finite`].
pub(crate) fn sorted_finite(mut values: Vec<f64>) -> Vec<f64> {
    values.retain(|x| x.is_finite());
    sort_finite(&mut values);
    values
}

/// Distinct values of an ascending slice (floats or integers).
pub(crate) fn distinct_sorted<T: PartialEq>(a: &[T]) -> usize {
    a.chunk_by(|x, y| x == y).count()
}

/// Counts of an ascending slice on right-closed bins with strictly increasing
/// interior `edges`: bin `b` holds `edges[b-1] < x ≤ edges[b]` (the first and
/// last bins are open-ended), one binary search per edge.
pub(crate) fn right_closed_counts(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    let mut counts = Vec::with_capacity(edges.len() + 1);
    let mut below = 0u64;
    for &e in edges {
        let upto = (sorted.partition_point(|&x| x <= e) as u64).max(below);
        counts.push(upto - below);
        below = upto;
    }
    counts.push(sorted.len() as u64 - below);
    counts
}

/// The distinct values of `a ∪ b` (both ascending) in ascending order, each
/// with how many times it occurs in `a` and in `b`.
pub(crate) fn merged_runs<'s, T: Copy + PartialOrd>(
    a: &'s [T],
    b: &'s [T],
) -> impl Iterator<Item = (T, u64, u64)> + 's {
    merge_runs(slice_runs(a), slice_runs(b))
}

/// Merges two ascending runs of distinct values (`(value, count)`) into the
/// distinct values of both, each with its count on either side.
pub(crate) fn merge_runs<T: Copy + PartialOrd>(
    a: impl Iterator<Item = (T, u64)>,
    b: impl Iterator<Item = (T, u64)>,
) -> impl Iterator<Item = (T, u64, u64)> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek().copied(), b.peek().copied()) {
        (Some((x, nx)), Some((y, ny))) => {
            if y < x {
                b.next();
                Some((y, 0, ny))
            } else if x < y {
                a.next();
                Some((x, nx, 0))
            } else {
                a.next();
                b.next();
                Some((x, nx, ny))
            }
        }
        (Some((x, nx)), None) => {
            a.next();
            Some((x, nx, 0))
        }
        (None, Some((y, ny))) => {
            b.next();
            Some((y, 0, ny))
        }
        (None, None) => None,
    })
}

/// Distinct values of `a ∪ b` (both ascending).
pub(crate) fn distinct_merged<A, B>(a: &A, b: &B) -> usize
where
    A: SortedSample + ?Sized,
    B: SortedSample + ?Sized,
{
    merge_runs(a.runs(), b.runs()).count()
}

/// First Wasserstein distance between two ascending samples, as
/// `scipy.stats.wasserstein_distance`: `Σ_k |U(t_k) − V(t_k)|·(t_{k+1} − t_k)`
/// over the pooled sorted values, with `U(t) = #{u ≤ t}/n_u`.
///
/// Walks the merge of the two arrays once; repeated pooled values only add
/// zero-width terms, so the distinct values give the same compensated sum.
pub(crate) fn wasserstein_sorted<U, V>(u: &U, v: &V) -> f64
where
    U: SortedSample + ?Sized,
    V: SortedSample + ?Sized,
{
    let (nu, nv) = (u.count() as f64, v.count() as f64);
    let (mut i, mut j) = (0u64, 0u64);
    let mut prev: Option<(f64, f64)> = None;
    let terms = merge_runs(u.runs(), v.runs()).filter_map(|(t, ci, cj)| {
        let term = prev.map(|(t0, diff)| diff * (t - t0));
        i += ci;
        j += cj;
        prev = Some((t, (i as f64 / nu - j as f64 / nv).abs()));
        term
    });
    fsum(terms)
}

/// `numpy.histogram(data, edges)[0]` for ascending `data` and ascending
/// `edges`: bin `i` holds `edges[i] ≤ x < edges[i+1]`, the last bin is closed
/// on the right, values outside are not counted. Two binary searches per edge.
pub(crate) fn histogram_sorted<S: SortedSample + ?Sized>(data: &S, edges: &[f64]) -> Vec<u64> {
    let nb = edges.len().saturating_sub(1);
    if nb == 0 {
        return Vec::new();
    }
    let mut counts = Vec::with_capacity(nb);
    let mut start = data.below(edges[0]);
    for &edge in &edges[1..nb] {
        let end = data.below(edge);
        counts.push(end.saturating_sub(start));
        start = end.max(start);
    }
    let last = data.upto(edges[nb]);
    counts.push(last.saturating_sub(start));
    counts
}

/// How many values of `s` equal `key`.
pub(crate) fn count_of<S: SortedSample + ?Sized>(s: &S, key: f64) -> u64 {
    s.upto(key) - s.below(key)
}

/// `numpy.quantile(sorted, q, method='linear')` on an ascending, non-empty slice.
pub(crate) fn quantile_linear(sorted: &[f64], q: f64) -> f64 {
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

/// `numpy.quantile(sorted, q)` (the default, linear method) of an ascending
/// slice of finite values; `None` when it is empty.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    (!sorted.is_empty()).then(|| quantile_linear(sorted, q))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::histogram_counts;

    #[test]
    fn sorting_writes_negative_zero_as_zero_and_orders_by_value() {
        let v = sorted(&[3.0, -0.0, -1.5, 0.0, 2.0, -0.0]);
        assert_eq!(v, vec![-1.5, 0.0, 0.0, 0.0, 2.0, 3.0]);
        assert!(v.iter().all(|x| !(x == &0.0 && x.is_sign_negative())));
    }

    #[test]
    fn histogram_on_sorted_data_matches_the_scan() {
        let data = sorted(&[0.0, 0.5, 1.0, 1.0, 1.5, 2.0, 2.0, 3.0, -1.0, 4.0]);
        for edges in [
            vec![0.0, 1.0, 2.0, 3.0],
            vec![0.0, 1.0, 1.0, 2.0],
            vec![1.0, 1.0],
            vec![-5.0, 0.0, 5.0],
            vec![2.0, 3.0, 3.0],
        ] {
            assert_eq!(
                histogram_sorted(&data, &edges),
                histogram_counts(&data, &edges),
                "{edges:?}"
            );
        }
    }

    #[test]
    fn merged_runs_count_each_side() {
        let runs: Vec<_> = merged_runs(&[1.0, 1.0, 2.0], &[0.0, 2.0, 2.0, 5.0]).collect();
        assert_eq!(
            runs,
            vec![(0.0, 0, 1), (1.0, 2, 0), (2.0, 1, 2), (5.0, 0, 1)]
        );
        assert_eq!(distinct_sorted(&[1.0, 1.0, 2.0]), 2);
        assert_eq!(count_of(&[1.0, 1.0, 2.0][..], 1.0), 2);
        assert_eq!(count_of(&[1.0, 1.0, 2.0][..], 0.5), 0);
    }
}
