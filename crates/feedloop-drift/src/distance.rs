//! Wasserstein distance, Evidently's binning, and the binned divergences
//! (PSI, KL, Jensen–Shannon, Hellinger), the chi-squared goodness-of-fit
//! test and Evidently's two-proportion Z-test.

use std::collections::BTreeMap;

use crate::error::{DriftError, Side, non_empty};
use crate::ks::check_finite;
use crate::sorted::{
    SortedSample, distinct_merged, distinct_sorted, histogram_sorted, merge_runs, sorted,
    wasserstein_sorted,
};
use crate::special::{chi2_sf, ndtr};
use crate::summation::fsum;

/// First Wasserstein distance between the empirical distributions of `u` and `v`.
///
/// Source of truth: `scipy.stats.wasserstein_distance(u, v)` (unweighted,
/// `_cdf_distance(p=1)`): with `all` the sorted pooled sample,
/// `W = Σ_k |U(all_k) − V(all_k)| · (all_{k+1} − all_k)` where
/// `U(t) = #{u ≤ t}/n_u` (searchsorted `'right'`).
pub fn wasserstein_distance(u: &[f64], v: &[f64]) -> Result<f64, DriftError> {
    check_finite(u, Side::Reference)?;
    check_finite(v, Side::Current)?;
    Ok(wasserstein_sorted(&sorted(u), &sorted(v)))
}

/// Population standard deviation (`numpy.std(x, ddof=0)`):
/// `sqrt(mean(|x − mean(x)|²))`.
pub fn std_ddof0(x: &[f64]) -> Result<f64, DriftError> {
    check_finite(x, Side::Reference)?;
    Ok(std_of(x))
}

/// [`std_ddof0`] of a non-empty sample of finite values, read in ascending
/// order (the order the offline path sums a sorted column in).
pub(crate) fn std_of<S: SortedSample + ?Sized>(x: &S) -> f64 {
    let n = x.count() as f64;
    let mean = fsum(x.values()) / n;
    let var = fsum(x.values().map(|v| (v - mean) * (v - mean))) / n;
    var.sqrt()
}

/// Evidently's normed Wasserstein distance (`wasserstein_distance_norm.py`):
/// `W(reference, current) / max(std(reference, ddof=0), 0.001)`.
pub fn wasserstein_normed(reference: &[f64], current: &[f64]) -> Result<f64, DriftError> {
    let w = wasserstein_distance(reference, current)?;
    let norm = std_ddof0(reference)?.max(0.001);
    Ok(w / norm)
}

/// Bin edges of `numpy.histogram_bin_edges(data, bins="sturges")`.
///
/// `width = ptp / (log2(n) + 1)`, `n_bins = ceil((max − min)/width)` (1 when
/// the width is 0), edges `= numpy.linspace(min, max, n_bins + 1)`
/// (`i·step + min`, last edge exactly `max`); when `min == max` numpy uses
/// the range `(min − 0.5, max + 0.5)`. When `max − min` overflows f64
/// (numpy raises), the bin count comes from half the range and the edges are
/// interpolated between `min` and `max`, so they stay finite and ordered.
pub fn sturges_bin_edges(data: &[f64]) -> Result<Vec<f64>, DriftError> {
    check_finite(data, Side::Reference)?;
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for &v in data {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    Ok(sturges_edges(lo, hi, data.len()))
}

/// [`sturges_bin_edges`] of `n` finite values whose smallest is `lo` and
/// largest `hi` (all that the rule reads of the data).
pub(crate) fn sturges_edges(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let ptp = hi - lo;
    let (first, last) = if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let width = ptp / ((n as f64).log2() + 1.0);
    let n_bins = if !ptp.is_finite() {
        // The range overflows f64 (e.g. −1e308 and 1e308), where numpy raises:
        // the same count from half the range, which is finite.
        let half = hi / 2.0 - lo / 2.0;
        (half / (half / ((n as f64).log2() + 1.0))).ceil() as usize
    } else if width != 0.0 {
        ((last - first) / width).ceil() as usize
    } else {
        1
    };
    let n_bins = n_bins.max(1);
    let div = n_bins as f64;
    let step = (last - first) / div;
    let mut edges: Vec<f64> = (0..=n_bins)
        .map(|i| {
            let t = i as f64 / div;
            if step == 0.0 {
                t * (last - first) + first
            } else if !step.is_finite() {
                // The range overflows f64: interpolate between the two finite
                // ends instead of `0 · inf`, so every edge is finite and in order.
                first * (1.0 - t) + last * t
            } else {
                i as f64 * step + first
            }
        })
        .collect();
    if let Some(e) = edges.last_mut() {
        *e = last;
    }
    edges
}

/// `numpy.histogram(data, edges)[0]`: bin `i` holds `edges[i] ≤ x < edges[i+1]`,
/// the last bin is closed on the right, values outside are not counted.
pub fn histogram_counts(data: &[f64], edges: &[f64]) -> Vec<u64> {
    let nb = edges.len().saturating_sub(1);
    let mut counts = vec![0u64; nb];
    if nb == 0 {
        return counts;
    }
    let last = edges[nb];
    for &x in data {
        if x < edges[0] || x > last {
            continue;
        }
        let idx = if x == last {
            nb - 1
        } else {
            // 0 only when the comparisons are not ordered (a NaN value or edge,
            // unsorted edges): the last bin, as the clamp below always did in
            // release builds, without the debug-build overflow panic.
            edges
                .partition_point(|&e| e <= x)
                .checked_sub(1)
                .unwrap_or(nb - 1)
        };
        counts[idx.min(nb - 1)] += 1;
    }
    counts
}

/// Counts of reference and current values per bin (same bin order).
#[derive(Debug, Clone, PartialEq)]
pub struct BinnedCounts {
    /// Reference count per bin.
    pub reference: Vec<u64>,
    /// Current count per bin.
    pub current: Vec<u64>,
}

impl BinnedCounts {
    /// Proportions `count / n` (Evidently divides by the sample length).
    pub fn proportions(&self) -> (Vec<f64>, Vec<f64>) {
        let nr = self.reference.iter().sum::<u64>() as f64;
        let nc = self.current.iter().sum::<u64>() as f64;
        (
            self.reference.iter().map(|&c| c as f64 / nr).collect(),
            self.current.iter().map(|&c| c as f64 / nc).collect(),
        )
    }
}

/// One bin per distinct value of `reference ∪ current` (pandas `value_counts`).
pub fn bin_by_value<K: Ord + Clone>(
    reference: &[K],
    current: &[K],
) -> Result<BinnedCounts, DriftError> {
    non_empty(reference, Side::Reference)?;
    non_empty(current, Side::Current)?;
    let mut map: BTreeMap<&K, (u64, u64)> = BTreeMap::new();
    for k in reference {
        map.entry(k).or_default().0 += 1;
    }
    for k in current {
        map.entry(k).or_default().1 += 1;
    }
    Ok(BinnedCounts {
        reference: map.values().map(|c| c.0).collect(),
        current: map.values().map(|c| c.1).collect(),
    })
}

/// Evidently's `get_binned_data` for a numeric column (counts only; see
/// [`fill_zeroes`] for the PSI/KL zero filling).
///
/// Source of truth: `evidently/legacy/calculations/stattests/utils.py`.
/// If the reference has more than 20 distinct values, bins are
/// `numpy.histogram_bin_edges(reference ++ current, bins="sturges")` and
/// counts are `numpy.histogram`; otherwise one bin per distinct value of
/// `reference ∪ current`.
pub fn bin_numeric(reference: &[f64], current: &[f64]) -> Result<BinnedCounts, DriftError> {
    check_finite(reference, Side::Reference)?;
    check_finite(current, Side::Current)?;
    let (r, c) = (sorted(reference), sorted(current));
    bin_numeric_sorted(&r, &c, distinct_sorted(&r) <= 20)
}

/// [`bin_numeric`] of two ascending samples: the edges need only the pooled
/// minimum, maximum and size, the counts are binary searches. `per_value`
/// says that the reference has at most 20 distinct values (then one bin per
/// distinct value of `r ∪ c`; otherwise Sturges edges).
pub(crate) fn bin_numeric_sorted<A, B>(
    r: &A,
    c: &B,
    per_value: bool,
) -> Result<BinnedCounts, DriftError>
where
    A: SortedSample + ?Sized,
    B: SortedSample + ?Sized,
{
    let (lo, hi) = pooled_range(r, c)?;
    if per_value {
        let (reference, current) = merge_runs(r.runs(), c.runs())
            .map(|(_, nr, nc)| (nr, nc))
            .unzip();
        Ok(BinnedCounts { reference, current })
    } else {
        let edges = sturges_edges(lo, hi, (r.count() + c.count()) as usize);
        Ok(BinnedCounts {
            reference: histogram_sorted(r, &edges),
            current: histogram_sorted(c, &edges),
        })
    }
}

/// Smallest and largest value of two ascending samples together.
pub(crate) fn pooled_range<A, B>(r: &A, c: &B) -> Result<(f64, f64), DriftError>
where
    A: SortedSample + ?Sized,
    B: SortedSample + ?Sized,
{
    let (Some(rl), Some(rh)) = (r.smallest(), r.largest()) else {
        return Err(DriftError::EmptyInput {
            side: Side::Reference,
        });
    };
    let (Some(cl), Some(ch)) = (c.smallest(), c.largest()) else {
        return Err(DriftError::EmptyInput {
            side: Side::Current,
        });
    };
    Ok((rl.min(cl), rh.max(ch)))
}

/// Evidently's zero filling (`feel_zeroes=True` in `get_binned_data`),
/// applied to one proportions array on its own: with `m` = the smallest
/// non-zero entry of *that* array, zeros become `m/1e6` if `m ≤ 1e-4`,
/// else `1e-4`.
pub fn fill_zeroes(p: &[f64]) -> Vec<f64> {
    let m = p
        .iter()
        .copied()
        .filter(|&x| x != 0.0)
        .fold(f64::INFINITY, f64::min);
    let fill = if m <= 0.0001 { m / 1e6 } else { 0.0001 };
    p.iter().map(|&x| if x == 0.0 { fill } else { x }).collect()
}

fn check_pair(p: &[f64], q: &[f64]) -> Result<(), DriftError> {
    if p.len() != q.len() {
        return Err(DriftError::LengthMismatch {
            left: p.len(),
            right: q.len(),
        });
    }
    if p.is_empty() {
        return Err(DriftError::InvalidDistribution("no bins"));
    }
    if p.iter().chain(q).any(|x| !x.is_finite() || *x < 0.0) {
        return Err(DriftError::InvalidDistribution(
            "entries must be finite and non-negative",
        ));
    }
    if p.iter().sum::<f64>() <= 0.0 || q.iter().sum::<f64>() <= 0.0 {
        return Err(DriftError::InvalidDistribution("sums to zero"));
    }
    Ok(())
}

/// `scipy.special.rel_entr(x, y)`: `x·ln(x/y)` (x, y > 0), `0` (x = 0, y ≥ 0), `+inf` otherwise.
fn rel_entr(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// Population Stability Index on (already zero-filled) proportions,
/// Evidently `psi.py`: `Σ (r − c)·ln(r/c)` (no renormalisation).
pub fn psi(reference: &[f64], current: &[f64]) -> Result<f64, DriftError> {
    check_pair(reference, current)?;
    Ok(fsum(
        reference
            .iter()
            .zip(current)
            .map(|(&r, &c)| (r - c) * (r / c).ln()),
    ))
}

/// Kullback–Leibler divergence `KL(r ‖ c)`, Evidently `kl_div.py` =
/// `scipy.stats.entropy(r, c)`: both inputs are renormalised to sum 1, then
/// `Σ rel_entr(r, c)` (natural log).
pub fn kl_divergence(reference: &[f64], current: &[f64]) -> Result<f64, DriftError> {
    check_pair(reference, current)?;
    let sr = fsum(reference.iter().copied());
    let sc = fsum(current.iter().copied());
    Ok(fsum(
        reference
            .iter()
            .zip(current)
            .map(|(&r, &c)| rel_entr(r / sr, c / sc)),
    ))
}

/// Jensen–Shannon distance, `scipy.spatial.distance.jensenshannon(p, q)`:
/// normalise both, `m = (p+q)/2`, `sqrt((Σ rel_entr(p,m) + Σ rel_entr(q,m)) / 2)`
/// (natural log; a distance, i.e. the square root of the divergence).
pub fn jensenshannon(p: &[f64], q: &[f64]) -> Result<f64, DriftError> {
    check_pair(p, q)?;
    let sp = fsum(p.iter().copied());
    let sq = fsum(q.iter().copied());
    let pn: Vec<f64> = p.iter().map(|x| x / sp).collect();
    let qn: Vec<f64> = q.iter().map(|x| x / sq).collect();
    let m: Vec<f64> = pn.iter().zip(&qn).map(|(a, b)| (a + b) / 2.0).collect();
    let left = fsum(pn.iter().zip(&m).map(|(&a, &b)| rel_entr(a, b)));
    let right = fsum(qn.iter().zip(&m).map(|(&a, &b)| rel_entr(a, b)));
    Ok(((left + right) / 2.0).max(0.0).sqrt())
}

/// Hellinger distance on proportions, Evidently's definition
/// (`hellinger_distance.py`): `sqrt(1 − clip(Σ sqrt(r·c), 0, 1))`.
pub fn hellinger(reference: &[f64], current: &[f64]) -> Result<f64, DriftError> {
    check_pair(reference, current)?;
    let bc = fsum(reference.iter().zip(current).map(|(&r, &c)| (r * c).sqrt()));
    Ok((1.0 - bc.clamp(0.0, 1.0)).sqrt())
}

/// Evidently's Hellinger distance for a numeric column
/// (`hellinger_distance.py`, numerical branch): edges are
/// `histogram_bin_edges(unique(reference ∪ current), "sturges")` (over the
/// *distinct* values), `h = numpy.histogram(…, density=True)`
/// (`count / width_i / n`), `w = (max edge − min edge)/n_bins` and
/// `H = sqrt(1 − clip(Σ sqrt(h1·h2)·w, 0, 1))`.
pub fn hellinger_numeric(reference: &[f64], current: &[f64]) -> Result<f64, DriftError> {
    check_finite(reference, Side::Reference)?;
    check_finite(current, Side::Current)?;
    let (r, c) = (sorted(reference), sorted(current));
    hellinger_numeric_sorted(&r, &c, distinct_merged(&r, &c))
}

/// [`hellinger_numeric`] of two ascending samples with `n_unique` distinct
/// values between them.
pub(crate) fn hellinger_numeric_sorted<A, B>(
    r: &A,
    c: &B,
    n_unique: usize,
) -> Result<f64, DriftError>
where
    A: SortedSample + ?Sized,
    B: SortedSample + ?Sized,
{
    let (lo, hi) = pooled_range(r, c)?;
    let edges = sturges_edges(lo, hi, n_unique);
    let c1 = histogram_sorted(r, &edges);
    let c2 = histogram_sorted(c, &edges);
    let n1 = c1.iter().sum::<u64>() as f64;
    let n2 = c2.iter().sum::<u64>() as f64;
    let nb = edges.len() - 1;
    let lo = edges.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = edges.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w = (hi - lo) / nb as f64;
    let mut acc = 0.0_f64;
    for i in 0..nb {
        let db = edges[i + 1] - edges[i];
        let h1 = c1[i] as f64 / db / n1;
        let h2 = c2[i] as f64 / db / n2;
        acc += (h1 * h2).sqrt() * w;
    }
    Ok((1.0 - acc.clamp(0.0, 1.0)).sqrt())
}

/// Result of a chi-squared goodness-of-fit test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChiSquareResult {
    /// Pearson statistic `Σ (obs − exp)² / exp`.
    pub statistic: f64,
    /// `chi2.sf(statistic, k − 1)`.
    pub p_value: f64,
}

/// Pearson chi-squared goodness of fit, `scipy.stats.chisquare(f_obs, f_exp)`:
/// `χ² = Σ (o − e)²/e`, `p = chi2.sf(χ², k − 1)` (regularised upper
/// incomplete gamma `Q((k−1)/2, χ²/2)`).
///
/// Deviation: for `k = 1` scipy returns a NaN p-value (zero degrees of
/// freedom); this returns `p = 1`.
pub fn chisquare(f_obs: &[f64], f_exp: &[f64]) -> Result<ChiSquareResult, DriftError> {
    check_pair(f_obs, f_exp)?;
    let stat = fsum(
        f_obs
            .iter()
            .zip(f_exp)
            .map(|(&o, &e)| (o - e) * (o - e) / e),
    );
    let k = f_obs.len();
    let p = if k <= 1 {
        1.0
    } else {
        chi2_sf(stat, (k - 1) as f64)
    };
    Ok(ChiSquareResult {
        statistic: stat,
        p_value: p,
    })
}

/// Evidently's chi-squared drift test on per-bin counts
/// (`chisquare_stattest.py`): `f_exp = reference_count · (n_cur / n_ref)`,
/// `f_obs = current_count`, then [`chisquare`].
///
/// Bins that are empty on both sides are dropped first (they only arise
/// from histogram bins; scipy would return NaN for them).
pub fn chisquare_counts(counts: &BinnedCounts) -> Result<ChiSquareResult, DriftError> {
    let nr: u64 = counts.reference.iter().sum();
    let nc: u64 = counts.current.iter().sum();
    if nr == 0 {
        return Err(DriftError::EmptyInput {
            side: Side::Reference,
        });
    }
    if nc == 0 {
        return Err(DriftError::EmptyInput {
            side: Side::Current,
        });
    }
    let k_norm = nc as f64 / nr as f64;
    let mut obs = Vec::new();
    let mut exp = Vec::new();
    for (&r, &c) in counts.reference.iter().zip(&counts.current) {
        if r == 0 && c == 0 {
            continue;
        }
        obs.push(c as f64);
        exp.push(r as f64 * k_norm);
    }
    if obs.len() != 1 && exp.contains(&0.0) {
        // A category absent from the reference: infinite statistic, p = 0
        // (scipy: division by zero → inf, chi2.sf(inf) = 0).
        return Ok(ChiSquareResult {
            statistic: f64::INFINITY,
            p_value: 0.0,
        });
    }
    chisquare(&obs, &exp)
}

/// Result of Evidently's two-proportion Z-test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZTestResult {
    /// `z = (p1 − p2) / sqrt(P(1−P)(1/n1 + 1/n2))` (0 when both samples are the same constant).
    pub statistic: f64,
    /// Two-sided p-value `2·(1 − Φ(|z|))`.
    pub p_value: f64,
}

/// Evidently's `z_stat_test` (`z_stattest.py`).
///
/// If both samples hold one and the same single value, `p = 1`. Otherwise
/// the smallest category `key` of `reference ∪ current` is chosen, each
/// value is mapped to `0` if it equals `key` else `1`, `p1`, `p2` are the
/// means, `P = (p1·n1 + p2·n2)/(n1+n2)`, `z` as above and
/// `p = 2·(1 − ndtr(|z|))` (computed exactly so, as Evidently does).
pub fn z_test<K: Ord>(reference: &[K], current: &[K]) -> Result<ZTestResult, DriftError> {
    non_empty(reference, Side::Reference)?;
    non_empty(current, Side::Current)?;
    let key = match (reference.iter().min(), current.iter().min()) {
        (Some(a), Some(b)) => a.min(b),
        _ => {
            return Err(DriftError::EmptyInput {
                side: Side::Reference,
            });
        }
    };
    let at_key = |v: &[K]| v.iter().filter(|x| *x == key).count() as u64;
    Ok(z_test_key_counts(
        reference.len() as u64,
        at_key(reference),
        current.len() as u64,
        at_key(current),
    ))
}

/// Evidently's Z-test from each side's size and how many of its values are
/// the smallest category of both sides (the key): `p = 1` when both sides
/// hold the key only, else [`two_proportion_z`] on the values outside it.
/// Every form of the test (values, sorted samples, category counts, profile
/// bins) comes down to these four numbers.
pub(crate) fn z_test_key_counts(n1: u64, key1: u64, n2: u64, key2: u64) -> ZTestResult {
    if key1 == n1 && key2 == n2 {
        return ZTestResult {
            statistic: 0.0,
            p_value: 1.0,
        };
    }
    two_proportion_z(n1 as f64, (n1 - key1) as f64, n2 as f64, (n2 - key2) as f64)
}

/// The Z-test on per-category counts in ascending category order, without
/// categories empty on both sides: the first is the key.
pub(crate) fn z_test_counts(r: &[u64], c: &[u64]) -> ZTestResult {
    z_test_key_counts(
        r.iter().sum(),
        r.first().copied().unwrap_or(0),
        c.iter().sum(),
        c.first().copied().unwrap_or(0),
    )
}

/// Evidently's two-proportion Z-test for `s1` of `n1` reference and `s2` of
/// `n2` current values outside the key category: `p_i = s_i/n_i`, `z` and
/// `p = 2·(1 − ndtr(|z|))` as in [`ZTestResult`].
fn two_proportion_z(n1: f64, s1: f64, n2: f64, s2: f64) -> ZTestResult {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sturges_edges_stay_finite_and_ordered_when_the_range_overflows() {
        let mut data: Vec<f64> = (0..30).map(f64::from).collect();
        data.extend([-1e308, 1e308]);
        let edges = sturges_bin_edges(&data).unwrap();
        // As many bins as without the overflow: ceil(log2(32) + 1).
        assert_eq!(edges.len(), 7, "{edges:?}");
        assert!(edges.iter().all(|e| e.is_finite()), "{edges:?}");
        assert!(edges.windows(2).all(|w| w[0] <= w[1]), "{edges:?}");
        assert_eq!((edges[0], edges[edges.len() - 1]), (-1e308, 1e308));
        let counts = histogram_counts(&data, &edges);
        assert_eq!(counts.iter().sum::<u64>(), data.len() as u64);
    }
}
