//! Building a numeric feature's profile: the reference quantile bin edges
//! (numpy's linear method), counts, moments, and the exact reference sample
//! or its quantile sketch for KS and Wasserstein.

use super::format::{NumericProfile, ProfileConfig, ReferenceSample};
use super::value::ValueType;
use crate::distance::{n_distinct_f64, std_ddof0, wasserstein_distance};
use crate::error::{DriftError, Side, non_empty};
use crate::ks::{ks_statistic_sorted, sorted};
use crate::summation::fsum;

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

pub(super) fn build_numeric(
    values: Vec<f64>,
    null_count: u64,
    value_type: ValueType,
    config: &ProfileConfig,
) -> Result<NumericProfile, DriftError> {
    non_empty(&values, Side::Reference)?;
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
