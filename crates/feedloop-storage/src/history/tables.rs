//! What the history tables are: the row types [`MetricRow`] and [`AlertRow`],
//! their Arrow schemas, the column lists readers select, and the errors of
//! reading them.

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use feedloop_events::arrow_schema::ts_type;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

/// One measured value of one series in one window.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub window_start: i64,
    pub window_end: i64,
    pub model: String,
    pub model_version: String,
    pub segment: BTreeMap<String, String>,
    pub metric: String,
    pub feature: Option<String>,
    pub value: f64,
    /// For drift rows: the test whose score `value` is.
    pub test: Option<String>,
    pub threshold: Option<f64>,
    pub drift: Option<bool>,
    /// The ±kσ band the alert rule judged this value against, when it did
    /// (watched σ series past their first `min_history` windows).
    pub band: Option<MetricBand>,
}

/// The band a value was judged against, stored with its metric row so that
/// what is drawn (the page, a notebook) is what fired the alerts: the value
/// breaches when it is more than `k·sigma` from `mean` on a side `direction`
/// names.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricBand {
    /// Mean of the series' in-band history.
    pub mean: f64,
    /// The effective σ (after the truncation correction and the floors).
    pub sigma: f64,
    pub k: f64,
    /// The sides that alert: `both`, `up` or `down`.
    pub direction: String,
}

impl MetricBand {
    /// The band's lower edge, `None` when leaving it downwards does not alert.
    pub fn low(&self) -> Option<f64> {
        (self.direction != "up").then_some(self.mean - self.k * self.sigma)
    }

    /// The band's upper edge, `None` when leaving it upwards does not alert.
    pub fn high(&self) -> Option<f64> {
        (self.direction != "down").then_some(self.mean + self.k * self.sigma)
    }
}

/// One alert transition, as stored in the `alerts` table.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub id: String,
    /// `firing` or `resolved` (files written by other tools may hold other states).
    pub state: String,
    pub model: String,
    pub model_version: String,
    /// The series' tags (empty: every prediction of the model version).
    pub segment: BTreeMap<String, String>,
    pub metric: String,
    pub feature: Option<String>,
    pub window_start: i64,
    pub window_end: i64,
    pub value: f64,
    pub mean: Option<f64>,
    pub sigma: Option<f64>,
    pub k: Option<f64>,
    pub direction: Option<String>,
    pub severity: String,
    pub test: Option<String>,
    pub threshold: Option<f64>,
    pub summary: String,
}

/// What went wrong reading a history table.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Reading the file failed (see [`StorageError::is_retryable`](crate::store::StorageError::is_retryable)).
    #[error(transparent)]
    Storage(#[from] crate::store::StorageError),
    /// The table lacks a column its readers need, or holds values of the wrong type.
    #[error("{table} table: {reason}")]
    Shape { table: &'static str, reason: String },
}

impl HistoryError {
    /// True when reading again may succeed (a storage error that is retryable).
    pub fn is_retryable(&self) -> bool {
        match self {
            HistoryError::Storage(e) => e.is_retryable(),
            HistoryError::Shape { .. } => false,
        }
    }
}

/// A segment as its `segment` column holds it: a JSON object of tags, `{}` overall.
pub fn segment_json(segment: &BTreeMap<String, String>) -> String {
    serde_json::to_string(segment).unwrap_or_else(|_| "{}".into())
}

/// The columns of `alerts` as the HTTP API (`GET /api/v1/alerts`) selects them:
/// every column, the window bounds as epoch ms (`window_start_ms`, `window_end_ms`).
pub const ALERT_COLUMNS: &str = "id, state, model, model_version, segment, metric, feature, \
    CAST(window_start AS BIGINT) AS window_start_ms, CAST(window_end AS BIGINT) AS window_end_ms, \
    value, mean, sigma, k, direction, severity, test, threshold, summary";

/// The columns of `metrics` as the HTTP API (`GET /api/v1/metrics`) selects them:
/// every column but `computed_at`, the window bounds as epoch ms.
pub const METRIC_COLUMNS: &str = "model, model_version, segment, metric, feature, \
    CAST(window_start AS BIGINT) AS window_start_ms, CAST(window_end AS BIGINT) AS window_end_ms, \
    value, test, threshold, drift, band_mean, band_sigma, band_k, band_direction";

/// The Arrow schema of the `metrics` table.
pub static METRICS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("window_start", ts_type(), false),
        Field::new("window_end", ts_type(), false),
        Field::new("model", DataType::Utf8, false),
        Field::new("model_version", DataType::Utf8, false),
        Field::new("segment", DataType::Utf8, false),
        Field::new("metric", DataType::Utf8, false),
        Field::new("feature", DataType::Utf8, true),
        Field::new("value", DataType::Float64, false),
        Field::new("test", DataType::Utf8, true),
        Field::new("threshold", DataType::Float64, true),
        Field::new("drift", DataType::Boolean, true),
        Field::new("computed_at", ts_type(), false),
        // The alert rule's band ([`MetricBand`]); null where no band applied.
        // Older files lack these columns: they read as null.
        Field::new("band_mean", DataType::Float64, true),
        Field::new("band_sigma", DataType::Float64, true),
        Field::new("band_k", DataType::Float64, true),
        Field::new("band_direction", DataType::Utf8, true),
    ]))
});

/// The Arrow schema of the `alerts` table.
pub static ALERTS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("state", DataType::Utf8, false),
        Field::new("model", DataType::Utf8, false),
        Field::new("model_version", DataType::Utf8, false),
        Field::new("segment", DataType::Utf8, false),
        Field::new("metric", DataType::Utf8, false),
        Field::new("feature", DataType::Utf8, true),
        Field::new("window_start", ts_type(), false),
        Field::new("window_end", ts_type(), false),
        Field::new("value", DataType::Float64, false),
        Field::new("mean", DataType::Float64, true),
        Field::new("sigma", DataType::Float64, true),
        Field::new("k", DataType::Float64, true),
        Field::new("direction", DataType::Utf8, true),
        Field::new("severity", DataType::Utf8, false),
        Field::new("test", DataType::Utf8, true),
        Field::new("threshold", DataType::Float64, true),
        Field::new("summary", DataType::Utf8, false),
    ]))
});

#[cfg(test)]
mod tests {
    use super::*;

    /// The column lists name every column of their table (the window bounds as
    /// `*_ms`), and nothing else.
    #[test]
    fn column_lists_follow_the_schemas() {
        fn names(list: &str) -> Vec<String> {
            list.split(", ")
                .map(|c| match c.split_once(" AS BIGINT) AS ") {
                    Some((cast, _)) => cast.trim_start_matches("CAST(").to_string(),
                    None => c.to_string(),
                })
                .collect()
        }
        let fields = |s: &SchemaRef, skip: &str| -> Vec<String> {
            let mut v: Vec<String> = s
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|n| n != skip)
                .collect();
            v.sort();
            v
        };
        let mut a = names(ALERT_COLUMNS);
        a.sort();
        assert_eq!(a, fields(&ALERTS_SCHEMA, ""));
        let mut m = names(METRIC_COLUMNS);
        m.sort();
        assert_eq!(m, fields(&METRICS_SCHEMA, "computed_at"));
    }
}
