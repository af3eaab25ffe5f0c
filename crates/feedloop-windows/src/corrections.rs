//! [`CorrectionMetrics`]: the corrections join's metrics of each closed window
//! (`corrections`, `correction_coverage`, `wrong`, `error_rate`), a
//! [`MetricSource`] over [`feedloop_analytics::error_metrics`].

use crate::hooks::MetricSource;
use datafusion::arrow::datatypes::DataType;
use datafusion::execution::context::SessionContext;
use feedloop_analytics::{AnalyticsError, FeedbackOptions, LandingSession, error_metrics};
use feedloop_storage::Storage;
use feedloop_storage::history::MetricRow;
use futures::future::BoxFuture;

/// The corrections metrics of each closed window, for the window job: per model
/// version and segment, `corrections` received, `correction_coverage`
/// (corrected / predictions), `wrong` and `error_rate` (wrong / corrected, only
/// when something was corrected). Computed when the window closes, with the
/// corrections landed by then.
pub struct CorrectionMetrics {
    session: LandingSession,
    opts: FeedbackOptions,
}

impl CorrectionMetrics {
    pub async fn new(storage: &Storage, opts: FeedbackOptions) -> Result<Self, AnalyticsError> {
        Ok(CorrectionMetrics {
            session: LandingSession::new(storage).await?,
            opts,
        })
    }
}

impl MetricSource for CorrectionMetrics {
    fn compute<'a>(
        &'a self,
        _ctx: &'a SessionContext,
        _storage: &'a Storage,
        window_start: i64,
        window_end: i64,
        segments: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<MetricRow>, AnalyticsError>> {
        Box::pin(async move {
            use arrow::array::{Array, AsArray};
            let batch = error_metrics(
                &self.session,
                &self.opts,
                window_start,
                window_end,
                segments,
            )
            .await?;
            let col = |name: &str| {
                batch.column_by_name(name).cloned().ok_or_else(|| {
                    AnalyticsError::Execution(format!(
                        "error metrics: column `{name}` is not a string"
                    ))
                })
            };
            let (model, version, segment) = (col("model")?, col("model_version")?, col("segment")?);
            let (model, version, segment) = (
                model.as_string::<i32>(),
                version.as_string::<i32>(),
                segment.as_string::<i32>(),
            );
            let f64s = |name: &str| -> Result<arrow::array::ArrayRef, AnalyticsError> {
                Ok(arrow::compute::cast(&col(name)?, &DataType::Float64)?)
            };
            let corrections = f64s("corrections")?;
            let coverage = f64s("coverage")?;
            let wrong = f64s("wrong")?;
            let error_rate = f64s("error_rate")?;
            let mut rows = Vec::new();
            for i in 0..batch.num_rows() {
                let Ok(seg) = serde_json::from_str::<
                    std::collections::BTreeMap<String, Option<String>>,
                >(segment.value(i)) else {
                    continue;
                };
                if seg.values().any(Option::is_none) {
                    continue;
                }
                let seg: std::collections::BTreeMap<String, String> = seg
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k, v)))
                    .collect();
                for (metric, a) in [
                    ("corrections", &corrections),
                    ("correction_coverage", &coverage),
                    ("wrong", &wrong),
                    ("error_rate", &error_rate),
                ] {
                    let a = a.as_primitive::<arrow::datatypes::Float64Type>();
                    if a.is_valid(i) {
                        let mut r = crate::compute::row(
                            window_start,
                            window_end,
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
            Ok(rows)
        })
    }
}
