//! The alerts table as the `drifted` policy reads it: where it lives
//! ([`ALERTS_DIR`]), the rows it needs (`AlertRow`) and reading them from
//! whatever schema the files have.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit, TimestampMillisecondType};
use feedloop_analytics::{AnalyticsError, LandingSession};
use feedloop_storage::Storage;

/// Folder (under the storage root) of the alerts table read by the `drifted` policy.
pub const ALERTS_DIR: &str = "alerts";

/// One alert: a model version's window (and segment) and the state it was in.
#[derive(Debug, Clone)]
pub(crate) struct AlertRow {
    pub(crate) model: String,
    pub(crate) version: String,
    /// Segment JSON (`{"tag": "value", …}`); `None` or `{}`: the whole model version.
    pub(crate) segment: Option<String>,
    pub(crate) start_ms: i64,
    pub(crate) end_ms: i64,
    pub(crate) state: String,
}

/// The Arrow schema of an alerts file (the table has no fixed schema here).
pub(crate) async fn alerts_schema(
    storage: &Storage,
    file: &object_store::ObjectMeta,
) -> Result<SchemaRef, AnalyticsError> {
    let bytes = storage.get(&file.location).await?;
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
            .map_err(|e| AnalyticsError::Input(format!("alerts file {}: {e}", file.location)))?;
    Ok(reader.schema().clone())
}

fn to_ms(a: &ArrayRef, col: &str) -> Result<Vec<Option<i64>>, AnalyticsError> {
    let ms = match a.data_type() {
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            cast(a, &DataType::Timestamp(TimeUnit::Millisecond, None))?
        }
        DataType::Int64 | DataType::Int32 | DataType::UInt64 => cast(
            &cast(a, &DataType::Int64)?,
            &DataType::Timestamp(TimeUnit::Millisecond, None),
        )?,
        other => {
            return Err(AnalyticsError::Input(format!(
                "alerts: column `{col}` has type {other}, expected a timestamp or epoch milliseconds"
            )));
        }
    };
    let ms = ms.as_primitive::<TimestampMillisecondType>();
    Ok((0..ms.len())
        .map(|i| ms.is_valid(i).then(|| ms.value(i)))
        .collect())
}

/// Reads every alert row of the session's (pinned) `alerts` table; rows
/// without a model, version or window are skipped.
pub(crate) async fn read_alerts(session: &LandingSession) -> Result<Vec<AlertRow>, AnalyticsError> {
    let (_, batches) = session
        .sql("SELECT model, model_version, segment, window_start, window_end, state FROM alerts")
        .await
        .map_err(|e| AnalyticsError::Input(format!("alerts table: {e} (expected columns model, model_version, segment, window_start, window_end, state)")))?;
    let mut out = Vec::new();
    for b in batches {
        let s = |i: usize| -> Result<StringArray, AnalyticsError> {
            Ok(cast(b.column(i), &DataType::Utf8)?
                .as_string::<i32>()
                .clone())
        };
        let (m, v, seg, st) = (s(0)?, s(1)?, s(2)?, s(5)?);
        let (ws, we) = (
            to_ms(b.column(3), "window_start")?,
            to_ms(b.column(4), "window_end")?,
        );
        for r in 0..b.num_rows() {
            let (Some(start_ms), Some(end_ms)) = (ws[r], we[r]) else {
                continue;
            };
            if m.is_null(r) || v.is_null(r) {
                continue;
            }
            out.push(AlertRow {
                model: m.value(r).into(),
                version: v.value(r).into(),
                segment: seg.is_valid(r).then(|| seg.value(r).to_string()),
                start_ms,
                end_ms,
                state: if st.is_valid(r) {
                    st.value(r).to_string()
                } else {
                    String::new()
                },
            });
        }
    }
    Ok(out)
}
