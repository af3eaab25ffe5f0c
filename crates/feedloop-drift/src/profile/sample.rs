//! KS and Wasserstein of a window's raw values against a numeric profile's
//! reference sample: exact, or against the sketch with its error bounds.

use super::format::{NumericProfile, ReferenceSample};
use crate::error::{DriftError, Side, non_empty};
use crate::ks::{KsResult, gcd, ks_from_statistic, ks_statistic_sorted};
use crate::sorted::wasserstein_sorted;

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

/// KS and Wasserstein of one feature (bounds set against a sketch).
pub(super) struct SampleStats {
    pub(super) ks: KsResult,
    pub(super) wasserstein: f64,
    pub(super) wasserstein_normed: f64,
    pub(super) bounds: Option<SketchBounds>,
}

/// `w` is the window's finite values, ascending ([`super::SortedValues`]);
/// the reference sample is stored sorted, so nothing is sorted here.
pub(super) fn sample_stats(p: &NumericProfile, w: &[f64]) -> Result<SampleStats, DriftError> {
    non_empty(w, Side::Current)?;
    let norm = p.std.max(0.001);
    match &p.reference {
        ReferenceSample::Exact { sorted } => {
            let d = ks_statistic_sorted(sorted, w);
            let ks = ks_from_statistic(d, sorted.len() as u64, w.len() as u64);
            let wd = wasserstein_sorted(sorted, w);
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
            let d = ks_statistic_sorted(points, w);
            let nw = w.len() as u64;
            let ks = ks_from_statistic(d, p.n, nw);
            let rounding = if p.n.max(nw) as usize <= crate::KS_MAX_AUTO_N {
                let g = gcd(p.n, nw);
                0.5 / ((p.n / g) as f64 * nw as f64)
            } else {
                0.0
            };
            let wd = wasserstein_sorted(points, w);
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
