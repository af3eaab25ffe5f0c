//! The Parquet files of the history tables: rows to Arrow batches, one file per
//! window written create-if-absent, and alert rows read back (leniently, so
//! `alerts` files written by other tools serve the readers that need a few columns).

use super::tables::{
    ALERTS_SCHEMA, AlertRow, HistoryError, METRICS_SCHEMA, MetricBand, MetricRow, segment_json,
};
use crate::layout::window_file;
use crate::store::{PutOutcome, Storage, StorageError};
use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, TimeUnit, TimestampMillisecondType};
use object_store::path::Path;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::collections::BTreeMap;
use std::sync::Arc;

fn ts(v: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from(v).with_timezone("UTC"))
}

fn strs<'a>(v: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(v))
}

fn opt_strs<'a>(v: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(v))
}

/// The rows of one window as a batch of the `metrics` table, computed at `computed_at` (epoch ms).
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
            band_f64s(rows, |b| b.mean),
            band_f64s(rows, |b| b.sigma),
            band_f64s(rows, |b| b.k),
            opt_strs(
                rows.iter()
                    .map(|r| r.band.as_ref().map(|b| b.direction.as_str())),
            ),
        ],
    )
}

fn band_f64s(rows: &[MetricRow], field: impl Fn(&MetricBand) -> f64) -> ArrayRef {
    Arc::new(Float64Array::from_iter(
        rows.iter().map(|r| r.band.as_ref().map(&field)),
    ))
}

/// Alert transitions as a batch of the `alerts` table.
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

/// Writes a window's rows to a history table (`table_dir`: [`crate::layout::METRICS_DIR`]
/// or [`crate::layout::ALERTS_DIR`]); `AlreadyExists` when the window was written before
/// (a recomputation after a restart).
pub async fn write_window(
    storage: &Storage,
    table_dir: &str,
    window_start: i64,
    batch: &RecordBatch,
) -> Result<PutOutcome, StorageError> {
    storage
        .put_if_absent(&window_file(table_dir, window_start), encode(batch)?)
        .await
}

/// Reads the alert rows of one `alerts` Parquet file (see [`alert_rows`]).
pub async fn read_alerts(storage: &Storage, path: &Path) -> Result<Vec<AlertRow>, HistoryError> {
    let bytes = storage.get(path).await?;
    let perr = |e: parquet::errors::ParquetError| StorageError::Parquet {
        path: path.to_string(),
        reason: e.to_string(),
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(|b| b.build())
        .map_err(perr)?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| StorageError::Parquet {
            path: path.to_string(),
            reason: e.to_string(),
        })?;
        out.extend(alert_rows(&batch)?);
    }
    Ok(out)
}

/// The columns every reader of `alerts` needs; the others may be absent.
const ALERT_KEY_COLUMNS: &str = "model, model_version, segment, window_start, window_end, state";

fn shape(reason: String) -> HistoryError {
    HistoryError::Shape {
        table: "alerts",
        reason,
    }
}

/// Column `name` cast to `to` and seen through `view`; `None` when the batch
/// has no such column.
fn cast_column<T>(
    b: &RecordBatch,
    name: &str,
    to: &DataType,
    view: impl Fn(&ArrayRef) -> T,
) -> Result<Option<T>, HistoryError> {
    b.column_by_name(name)
        .map(|a| {
            cast(a, to)
                .map(|a| view(&a))
                .map_err(|e| shape(format!("column `{name}`: {e}")))
        })
        .transpose()
}

fn text(b: &RecordBatch, name: &str) -> Result<Option<StringArray>, HistoryError> {
    cast_column(b, name, &DataType::Utf8, |a| a.as_string::<i32>().clone())
}

fn floats(b: &RecordBatch, name: &str) -> Result<Option<Float64Array>, HistoryError> {
    cast_column(b, name, &DataType::Float64, |a| {
        a.as_primitive::<Float64Type>().clone()
    })
}

/// A timestamp (any unit), date or epoch-milliseconds integer column as epoch ms.
fn millis(b: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>, HistoryError> {
    let a = b.column_by_name(name).ok_or_else(|| {
        shape(format!(
            "no column `{name}` (expected columns {ALERT_KEY_COLUMNS})"
        ))
    })?;
    let ms_type = DataType::Timestamp(TimeUnit::Millisecond, None);
    let err = |e: arrow::error::ArrowError| shape(format!("column `{name}`: {e}"));
    let ms = match a.data_type() {
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            cast(a, &ms_type).map_err(err)?
        }
        DataType::Int64 | DataType::Int32 | DataType::UInt64 => {
            cast(&cast(a, &DataType::Int64).map_err(err)?, &ms_type).map_err(err)?
        }
        other => {
            return Err(shape(format!(
                "column `{name}` has type {other}, expected a timestamp or epoch milliseconds"
            )));
        }
    };
    let ms = ms.as_primitive::<TimestampMillisecondType>();
    Ok((0..ms.len())
        .map(|i| ms.is_valid(i).then(|| ms.value(i)))
        .collect())
}

/// A `segment` value as tags: empty, `{}` or null is every prediction; a
/// non-string tag value is its JSON text.
fn parse_segment(s: Option<&str>) -> Result<BTreeMap<String, String>, HistoryError> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let v: serde_json::Value =
        serde_json::from_str(s).map_err(|e| shape(format!("segment `{s}` is not JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| shape(format!("segment `{s}` is not a JSON object")))?;
    obj.iter()
        .map(|(k, val)| match val {
            serde_json::Value::String(x) => Ok((k.clone(), x.clone())),
            serde_json::Value::Null => Err(shape(format!("segment `{s}`: tag `{k}` has no value"))),
            other => Ok((k.clone(), other.to_string())),
        })
        .collect()
}

/// Decodes alert rows from a batch of the `alerts` table.
///
/// Lenient, for `alerts` files written by other tools too: only `model`,
/// `model_version`, `segment`, `window_start`, `window_end` and `state` are
/// required; string columns may have any type castable to text, the window
/// bounds may be timestamps of any unit, dates or epoch milliseconds. A missing
/// column reads as empty text, `None`, or NaN (`value`); a null `state` as
/// empty text. Rows without a model, version or window bound are skipped.
pub fn alert_rows(b: &RecordBatch) -> Result<Vec<AlertRow>, HistoryError> {
    let required = |name: &str| {
        text(b, name)?.ok_or_else(|| {
            shape(format!(
                "no column `{name}` (expected columns {ALERT_KEY_COLUMNS})"
            ))
        })
    };
    let (model, version, segment, state) = (
        required("model")?,
        required("model_version")?,
        required("segment")?,
        required("state")?,
    );
    let (starts, ends) = (millis(b, "window_start")?, millis(b, "window_end")?);
    let [id, metric, feature, direction, severity, test, summary] = [
        "id",
        "metric",
        "feature",
        "direction",
        "severity",
        "test",
        "summary",
    ]
    .map(|c| text(b, c));
    let (id, metric, feature, direction) = (id?, metric?, feature?, direction?);
    let (severity, test, summary) = (severity?, test?, summary?);
    let [value, mean, sigma, k, threshold] =
        ["value", "mean", "sigma", "k", "threshold"].map(|c| floats(b, c));
    let (value, mean, sigma, k, threshold) = (value?, mean?, sigma?, k?, threshold?);
    let opt_str = |a: &Option<StringArray>, r: usize| {
        a.as_ref()
            .filter(|a| a.is_valid(r))
            .map(|a| a.value(r).to_string())
    };
    let opt_f64 = |a: &Option<Float64Array>, r: usize| {
        a.as_ref().filter(|a| a.is_valid(r)).map(|a| a.value(r))
    };
    let mut out = Vec::new();
    for r in 0..b.num_rows() {
        let (Some(window_start), Some(window_end)) = (starts[r], ends[r]) else {
            continue;
        };
        if model.is_null(r) || version.is_null(r) {
            continue;
        }
        out.push(AlertRow {
            id: opt_str(&id, r).unwrap_or_default(),
            state: if state.is_valid(r) {
                state.value(r).to_string()
            } else {
                String::new()
            },
            model: model.value(r).to_string(),
            model_version: version.value(r).to_string(),
            segment: parse_segment(segment.is_valid(r).then(|| segment.value(r)))?,
            metric: opt_str(&metric, r).unwrap_or_default(),
            feature: opt_str(&feature, r),
            window_start,
            window_end,
            value: opt_f64(&value, r).unwrap_or(f64::NAN),
            mean: opt_f64(&mean, r),
            sigma: opt_f64(&sigma, r),
            k: opt_f64(&k, r),
            direction: opt_str(&direction, r),
            severity: opt_str(&severity, r).unwrap_or_default(),
            test: opt_str(&test, r),
            threshold: opt_f64(&threshold, r),
            summary: opt_str(&summary, r).unwrap_or_default(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(state: &str, segment: &[(&str, &str)]) -> AlertRow {
        AlertRow {
            id: "a1".into(),
            state: state.into(),
            model: "m".into(),
            model_version: "v1".into(),
            segment: segment
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            metric: "volume".into(),
            feature: None,
            window_start: 60_000,
            window_end: 120_000,
            value: 3.0,
            mean: Some(1.0),
            sigma: Some(0.5),
            k: Some(2.0),
            direction: Some("up".into()),
            severity: "warning".into(),
            test: None,
            threshold: None,
            summary: "volume up".into(),
        }
    }

    #[tokio::test]
    async fn alerts_written_read_back_as_written_and_once_per_window() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
        let rows = vec![
            alert("firing", &[("country", "DE")]),
            alert("resolved", &[]),
        ];
        let batch = alerts_batch(&rows).unwrap();
        let dir_ = crate::layout::ALERTS_DIR;
        assert_eq!(
            write_window(&storage, dir_, 60_000, &batch).await.unwrap(),
            PutOutcome::Created
        );
        assert_eq!(
            write_window(&storage, dir_, 60_000, &batch).await.unwrap(),
            PutOutcome::AlreadyExists
        );
        let read = read_alerts(&storage, &window_file(dir_, 60_000))
            .await
            .unwrap();
        assert_eq!(read, rows);
    }

    #[test]
    fn foreign_alert_files_need_only_the_key_columns() {
        let batch = RecordBatch::try_from_iter([
            (
                "model",
                Arc::new(StringArray::from(vec![Some("m"), None])) as ArrayRef,
            ),
            (
                "model_version",
                Arc::new(StringArray::from(vec!["v", "v"])) as _,
            ),
            (
                "segment",
                Arc::new(StringArray::from(vec![Some(r#"{"n":1}"#), None])) as _,
            ),
            (
                "window_start",
                Arc::new(arrow::array::Int64Array::from(vec![5, 6])) as _,
            ),
            (
                "window_end",
                Arc::new(arrow::array::Int64Array::from(vec![9, 9])) as _,
            ),
            (
                "state",
                Arc::new(StringArray::from(vec![None::<&str>, None])) as _,
            ),
        ])
        .unwrap();
        let rows = alert_rows(&batch).unwrap();
        assert_eq!(rows.len(), 1, "the row without a model is skipped");
        let r = &rows[0];
        assert_eq!((r.window_start, r.window_end), (5, 9));
        assert_eq!(r.segment, BTreeMap::from([("n".into(), "1".into())]));
        assert_eq!(r.state, "");
        assert!(r.value.is_nan() && r.mean.is_none() && r.id.is_empty());

        let no_state = batch.project(&[0, 1, 2, 3, 4]).unwrap();
        assert!(
            alert_rows(&no_state)
                .unwrap_err()
                .to_string()
                .contains("`state`")
        );
        assert!(parse_segment(Some("[1]")).is_err());
        assert!(parse_segment(Some("{}")).unwrap().is_empty());
    }
}
