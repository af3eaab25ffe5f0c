//! Building a numeric feature's profile: the reference quantile bin edges
//! (numpy's linear method), counts, moments, and the exact reference sample
//! or its quantile sketch for KS and Wasserstein.

use super::format::{NumericProfile, ProfileConfig, ReferenceSample};
use super::value::ValueType;
use crate::distance::std_ddof0;
use crate::error::{DriftError, Side, non_empty};
use crate::ks::ks_statistic_sorted;
use crate::sorted::{
    distinct_sorted, quantile_linear, right_closed_counts, sorted_finite, wasserstein_sorted,
};
use crate::summation::fsum;

pub(super) fn build_numeric(
    values: Vec<f64>,
    null_count: u64,
    value_type: ValueType,
    config: &ProfileConfig,
) -> Result<NumericProfile, DriftError> {
    let sorted = sorted_finite(values);
    non_empty(&sorted, Side::Reference)?;
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
    let counts = right_closed_counts(&sorted, &edges);
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
        let wasserstein_error = wasserstein_sorted(&sorted, &points);
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
        n_distinct: distinct_sorted(&sorted) as u64,
        edges,
        counts,
        reference,
    })
}
