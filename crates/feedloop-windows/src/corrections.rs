//! [`CorrectionMetrics`]: the corrections join's metrics of each closed window
//! (`corrections`, `correction_coverage`, `wrong`, `error_rate`), a
//! [`MetricSource`] over [`feedloop_analytics::error_metrics`].

use crate::hooks::MetricSource;
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::execution::context::SessionContext;
use feedloop_analytics::{
    AnalyticsError, FeedbackOptions, LandingSession, error_metrics, error_metrics_windows,
};
use feedloop_storage::Storage;
use feedloop_storage::history::MetricRow;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The corrections metrics of each closed window, for the window job: per model
/// version and segment, `corrections` received, `correction_coverage`
/// (corrected / predictions), `wrong` and `error_rate` (wrong / corrected, only
/// when something was corrected). Computed when the window closes, with the
/// corrections landed by then; when the job closes a run of windows at once
/// (a backfill, a restart), the run is computed in one pass when it starts
/// ([`MetricSource::prepare`], [`error_metrics_windows`]).
pub struct CorrectionMetrics {
    session: LandingSession,
    opts: FeedbackOptions,
    prepared: Mutex<Option<Prepared>>,
}

/// The rows of a run of windows computed by `prepare`, taken window by window.
struct Prepared {
    start: i64,
    size: i64,
    count: usize,
    rows: BTreeMap<i64, Vec<MetricRow>>,
}

impl Prepared {
    fn covers(&self, start: i64, end: i64) -> bool {
        let offset = start - self.start;
        offset >= 0
            && offset % self.size == 0
            && offset / self.size < self.count as i64
            && end - start == self.size
    }
}

impl CorrectionMetrics {
    pub async fn new(storage: &Storage, opts: FeedbackOptions) -> Result<Self, AnalyticsError> {
        Ok(CorrectionMetrics {
            session: LandingSession::new(storage).await?,
            opts,
            prepared: Mutex::new(None),
        })
    }
}

/// Metric rows of an [`error_metrics`]-shaped batch, by window start.
fn rows_by_window(batch: &RecordBatch) -> Result<BTreeMap<i64, Vec<MetricRow>>, AnalyticsError> {
    let col = |name: &str| {
        batch.column_by_name(name).cloned().ok_or_else(|| {
            AnalyticsError::Execution(format!("error metrics: column `{name}` is missing"))
        })
    };
    let strings = |name: &str| -> Result<ArrayRef, AnalyticsError> {
        Ok(arrow::compute::cast(&col(name)?, &DataType::Utf8)?)
    };
    let ints = |name: &str| -> Result<ArrayRef, AnalyticsError> {
        Ok(arrow::compute::cast(&col(name)?, &DataType::Int64)?)
    };
    let f64s = |name: &str| -> Result<ArrayRef, AnalyticsError> {
        Ok(arrow::compute::cast(&col(name)?, &DataType::Float64)?)
    };
    let (model, version, segment) = (
        strings("model")?,
        strings("model_version")?,
        strings("segment")?,
    );
    let (model, version, segment) = (
        model.as_string::<i32>(),
        version.as_string::<i32>(),
        segment.as_string::<i32>(),
    );
    let (starts, ends) = (ints("window_start")?, ints("window_end")?);
    let (starts, ends) = (
        starts.as_primitive::<Int64Type>(),
        ends.as_primitive::<Int64Type>(),
    );
    let corrections = f64s("corrections")?;
    let coverage = f64s("coverage")?;
    let wrong = f64s("wrong")?;
    let error_rate = f64s("error_rate")?;
    let mut out: BTreeMap<i64, Vec<MetricRow>> = BTreeMap::new();
    for i in 0..batch.num_rows() {
        let Ok(seg) = serde_json::from_str::<BTreeMap<String, Option<String>>>(segment.value(i))
        else {
            continue;
        };
        if seg.values().any(Option::is_none) {
            continue;
        }
        let seg: BTreeMap<String, String> = seg
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        let (ws, we) = (starts.value(i), ends.value(i));
        let rows = out.entry(ws).or_default();
        for (metric, a) in [
            ("corrections", &corrections),
            ("correction_coverage", &coverage),
            ("wrong", &wrong),
            ("error_rate", &error_rate),
        ] {
            let a = a.as_primitive::<Float64Type>();
            if a.is_valid(i) {
                let mut r = crate::compute::row(
                    ws,
                    we,
                    &(model.value(i).to_string(), version.value(i).to_string()),
                    metric,
                    None,
                    a.value(i),
                );
                r.segment = seg.clone();
                rows.push(r);
            }
        }
    }
    Ok(out)
}

impl MetricSource for CorrectionMetrics {
    fn prepare<'a>(
        &'a self,
        start: i64,
        size_ms: i64,
        count: usize,
        segments: &'a [String],
    ) -> BoxFuture<'a, Result<(), AnalyticsError>> {
        Box::pin(async move {
            // One window is computed when it closes, as late as possible.
            if count < 2 {
                return Ok(());
            }
            let batch =
                error_metrics_windows(&self.session, &self.opts, start, size_ms, count, segments)
                    .await?;
            let rows = rows_by_window(&batch)?;
            let mut prepared = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
            *prepared = Some(Prepared {
                start,
                size: size_ms,
                count,
                rows,
            });
            Ok(())
        })
    }

    fn compute<'a>(
        &'a self,
        _ctx: &'a SessionContext,
        _storage: &'a Storage,
        window_start: i64,
        window_end: i64,
        segments: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<MetricRow>, AnalyticsError>> {
        Box::pin(async move {
            {
                let mut prepared = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(p) = prepared.as_mut()
                    && p.covers(window_start, window_end)
                {
                    return Ok(p.rows.remove(&window_start).unwrap_or_default());
                }
            }
            let batch = error_metrics(
                &self.session,
                &self.opts,
                window_start,
                window_end,
                segments,
            )
            .await?;
            Ok(rows_by_window(&batch)?
                .remove(&window_start)
                .unwrap_or_default())
        })
    }
}
