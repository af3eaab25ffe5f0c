//! Scheduled exports ([`run_scheduled_exports`]): the `[[export.datasets]]`
//! entries that are due, each remembering its last run in `_schedule.json`.

use crate::config::ExportConfig;
use crate::export::export_dataset;
use crate::request::{ExportOutcome, ExportRequest};
use feedloop_analytics::AnalyticsError;
use feedloop_storage::Storage;

/// A scheduled export's result.
#[derive(Debug)]
pub struct ScheduledRun {
    pub model: String,
    pub name: String,
    pub result: Result<ExportOutcome, AnalyticsError>,
}

/// Runs every `[[export.datasets]]` entry that is due at `now_ms`: never run,
/// or last run at least `every` ago (recorded in
/// `datasets/<model>/<name>/_schedule.json`, so restarts keep the cadence).
/// Each due export covers `[now − lookback, now)` (all history without a
/// lookback). Call it on a timer (e.g. every minute); entries that are not due
/// cost one small read. A failed export, or a schedule marker that cannot be
/// read, is returned as an `Err` run and retried at the next call.
pub async fn run_scheduled_exports(
    storage: &Storage,
    config: &ExportConfig,
    now_ms: i64,
) -> Result<Vec<ScheduledRun>, AnalyticsError> {
    config.validate().map_err(AnalyticsError::Input)?;
    let mut runs = Vec::new();
    for d in &config.datasets {
        let marker = feedloop_storage::layout::dataset_schedule(&d.model, &d.name);
        // Not found: never ran. Unreadable (storage down, denied): skip this
        // turn rather than export again what may have run a minute ago.
        let last: Option<i64> = match storage.get_if_exists(&marker).await {
            Ok(b) => b
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["last_run_ms"].as_i64()),
            Err(e) => {
                runs.push(ScheduledRun {
                    model: d.model.clone(),
                    name: d.name.clone(),
                    result: Err(e.into()),
                });
                continue;
            }
        };
        if last.is_some_and(|l| now_ms - l < d.every.as_millis() as i64) {
            continue;
        }
        let policy = d.policy().map_err(AnalyticsError::Input)?;
        let mut req = ExportRequest::new(d.model.clone(), policy, now_ms);
        req.name = Some(d.name.clone());
        req.model_version = d.model_version.clone();
        req.until_ms = Some(now_ms);
        req.since_ms = d.lookback.map(|l| now_ms - l.as_millis() as i64);
        let result = export_dataset(
            storage,
            config,
            &req,
            &|m| tracing::debug!(dataset = %d.name, "{m}"),
        )
        .await;
        // The caller reports each run (`feedloop run` logs and counts them).
        if let Ok(o) = &result {
            let body = serde_json::json!({"last_run_ms": now_ms, "last_version": o.id.version});
            storage
                .put_overwrite(&marker, bytes::Bytes::from(body.to_string()))
                .await?;
        }
        runs.push(ScheduledRun {
            model: d.model.clone(),
            name: d.name.clone(),
            result,
        });
    }
    Ok(runs)
}
