//! The `metrics` and `alerts` tables: what every closed window measured, and
//! every alert it raised or resolved.
//!
//! Both are Parquet in the storage root, one file per closed window, named by
//! the window start and written create-if-absent, so recomputing a window after
//! a crash never duplicates rows:
//!
//! ```text
//! <storage>/metrics/<window start, epoch ms, 20 digits>.parquet
//! <storage>/alerts/<window start, epoch ms, 20 digits>.parquet
//! ```
//!
//! `metrics` columns: `window_start`, `window_end` (timestamp, UTC), `model`,
//! `model_version`, `segment` (JSON object as text, `{}` overall), `metric`,
//! `feature` (null unless per feature), `value`, `test`, `threshold`, `drift`
//! (drift rows only), `computed_at`. `feedloop query` reads them as `metrics`
//! and `alerts`.

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use feedloop_events::arrow_schema::ts_type;
use feedloop_storage::{PutOutcome, Storage, StorageError};
use object_store::path::Path;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

pub const METRICS_DIR: &str = "metrics";
pub const ALERTS_DIR: &str = "alerts";

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
}

/// One alert transition, as stored in the `alerts` table.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub id: String,
    pub state: String,
    pub model: String,
    pub model_version: String,
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

pub fn segment_json(segment: &BTreeMap<String, String>) -> String {
    serde_json::to_string(segment).unwrap_or_else(|_| "{}".into())
}

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
    ]))
});

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

fn ts(v: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from(v).with_timezone("UTC"))
}

fn strs<'a>(v: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(v))
}

fn opt_strs<'a>(v: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(v))
}

pub fn metrics_batch(
    rows: &[MetricRow],
    computed_at: i64,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let segs: Vec<String> = rows.iter().map(|r| segment_json(&r.segment)).collect();
    RecordBatch::try_new(
        METRICS_SCHEMA.clone(),
        vec![
            ts(rows.iter().map(|r| r.window_start).collect()),
            ts(rows.iter().map(|r| r.window_end).collect()),
            strs(rows.iter().map(|r| r.model.as_str())),
            strs(rows.iter().map(|r| r.model_version.as_str())),
            strs(segs.iter().map(String::as_str)),
            strs(rows.iter().map(|r| r.metric.as_str())),
            opt_strs(rows.iter().map(|r| r.feature.as_deref())),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.value))),
            opt_strs(rows.iter().map(|r| r.test.as_deref())),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.threshold))),
            Arc::new(BooleanArray::from_iter(rows.iter().map(|r| r.drift))),
            ts(vec![computed_at; rows.len()]),
        ],
    )
}

pub fn alerts_batch(rows: &[AlertRow]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let segs: Vec<String> = rows.iter().map(|r| segment_json(&r.segment)).collect();
    RecordBatch::try_new(
        ALERTS_SCHEMA.clone(),
        vec![
            strs(rows.iter().map(|r| r.id.as_str())),
            strs(rows.iter().map(|r| r.state.as_str())),
            strs(rows.iter().map(|r| r.model.as_str())),
            strs(rows.iter().map(|r| r.model_version.as_str())),
            strs(segs.iter().map(String::as_str)),
            strs(rows.iter().map(|r| r.metric.as_str())),
            opt_strs(rows.iter().map(|r| r.feature.as_deref())),
            ts(rows.iter().map(|r| r.window_start).collect()),
            ts(rows.iter().map(|r| r.window_end).collect()),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.value))),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.mean))),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.sigma))),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.k))),
            opt_strs(rows.iter().map(|r| r.direction.as_deref())),
            strs(rows.iter().map(|r| r.severity.as_str())),
            opt_strs(rows.iter().map(|r| r.test.as_deref())),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.threshold))),
            strs(rows.iter().map(|r| r.summary.as_str())),
        ],
    )
}

fn encode(batch: &RecordBatch) -> Result<bytes::Bytes, StorageError> {
    let perr = |e: parquet::errors::ParquetError| StorageError::Parquet {
        path: "(history)".into(),
        reason: e.to_string(),
    };
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).map_err(perr)?;
    w.write(batch).map_err(perr)?;
    w.close().map_err(perr)?;
    Ok(bytes::Bytes::from(buf))
}

/// The file of a window in a history table.
pub fn window_file(dir: &str, window_start: i64) -> Path {
    Path::from_iter([
        dir.to_string(),
        format!("{:020}.parquet", window_start.max(0)),
    ])
}

/// Writes a window's rows to a history table; `AlreadyExists` when the window
/// was written before (a recomputation after a restart).
pub async fn write_window(
    storage: &Storage,
    dir: &str,
    window_start: i64,
    batch: &RecordBatch,
) -> Result<PutOutcome, StorageError> {
    storage
        .put_if_absent(&window_file(dir, window_start), encode(batch)?)
        .await
}
