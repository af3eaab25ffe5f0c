//! The history tables `metrics` and `alerts`: what every closed window measured,
//! and every alert it raised or resolved — their rows, Arrow schemas, the column
//! lists readers select ([`tables`]), and the writing and reading of their
//! Parquet files ([`files`]).
//!
//! Both are Parquet in the storage root, one file per closed window, named by
//! the window start and written create-if-absent, so recomputing a window after
//! a crash never duplicates rows ([`crate::layout::window_file`]):
//!
//! ```text
//! <storage>/metrics/<window start, epoch ms, 20 digits>.parquet
//! <storage>/alerts/<window start, epoch ms, 20 digits>.parquet
//! ```
//!
//! `metrics` columns: `window_start`, `window_end` (timestamp, UTC), `model`,
//! `model_version`, `segment` (JSON object as text, `{}` overall), `metric`,
//! `feature` (null unless per feature), `value`, `test`, `threshold`, `drift`
//! (drift rows only), `computed_at`, and the band the alert rule judged the
//! value against — `band_mean`, `band_sigma` (effective σ), `band_k`,
//! `band_direction` (null where no band applied; [`MetricBand`]). `feedloop
//! query` reads them as `metrics` and `alerts`.

pub mod files;
pub mod tables;

pub use crate::layout::{ALERTS_DIR, METRICS_DIR};
pub use files::{alert_rows, alerts_batch, metrics_batch, read_alerts, write_window};
pub use tables::{
    ALERT_COLUMNS, ALERTS_SCHEMA, AlertRow, HistoryError, METRIC_COLUMNS, METRICS_SCHEMA,
    MetricBand, MetricRow, segment_json,
};
