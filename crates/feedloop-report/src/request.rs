//! What a report is asked ([`DriftRequest`]) and what it answers ([`DriftReport`]).

use std::collections::BTreeMap;

use feedloop_drift::{DEFAULT_DRIFT_SHARE, DatasetDrift, StatTest};

/// What to compare and how.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftRequest {
    /// Reference (baseline) dataset: Parquet file or folder, or CSV file; path or URL.
    pub reference: String,
    /// Current dataset, same forms as `reference`.
    pub current: String,
    /// Columns to compare; `None` = every column present on both sides.
    pub columns: Option<Vec<String>>,
    /// Forced test per column (default: Evidently's choice).
    pub stattest: BTreeMap<String, StatTest>,
    /// Forced threshold per column (default: the test's default).
    pub threshold: BTreeMap<String, f64>,
    /// Dataset drift when the share of drifted columns is `≥ drift_share`.
    pub drift_share: f64,
    /// Sketch mode with this KLL size `k` (8..=65535; `None`, the default:
    /// exact). Numeric columns are summarised batch by batch into mergeable
    /// quantile sketches and never held whole; see [`feedloop_drift::sketch`].
    pub sketch: Option<u16>,
}

impl DriftRequest {
    /// All columns, Evidently's default tests and thresholds, drift share
    /// 0.5, exact.
    pub fn new(reference: impl Into<String>, current: impl Into<String>) -> Self {
        DriftRequest {
            reference: reference.into(),
            current: current.into(),
            columns: None,
            stattest: BTreeMap::new(),
            threshold: BTreeMap::new(),
            drift_share: DEFAULT_DRIFT_SHARE,
            sketch: None,
        }
    }
}

/// Result of [`run_drift_report`](crate::run_drift_report).
#[derive(Debug, Clone, PartialEq)]
pub struct DriftReport {
    /// The reference location as given.
    pub reference: String,
    /// The current location as given.
    pub current: String,
    /// Drift share used for the dataset verdict.
    pub drift_share: f64,
    /// Dataset verdict and per-column results (`n_reference`/`n_current` are dataset rows).
    pub drift: DatasetDrift,
    /// Columns not compared, with the reason.
    pub skipped: BTreeMap<String, String>,
}
