//! Exporting one dataset ([`export_dataset`]): snapshot, select, pivot,
//! encode the parts, name the version by its content and commit it; and the
//! dry run ([`count_policies`]).

use crate::config::ExportConfig;
use crate::pivot::pivot;
use crate::policy::{Policy, PolicyKind, PolicyParams};
use crate::request::{ExportOutcome, ExportRequest};
use crate::selection::{prediction_filter, selection_sql};
use crate::snapshot::snapshot;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::{cast, concat_batches, max, min};
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef, TimestampMillisecondType};
use feedloop_analytics::AnalyticsError;
use feedloop_analytics::feedback::feedback_sql;
use feedloop_storage::datasets::{
    CommitOutcome, DatasetId, DatasetStore, EncodedPart, MANIFEST_FORMAT, Manifest, ManifestFile,
    TimeRange, content_version, encode_part, validate_name,
};
use feedloop_storage::{Storage, StorageError};
use std::sync::Arc;

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

fn validate_request(req: &ExportRequest, config: &ExportConfig) -> Result<(), AnalyticsError> {
    let input = |e: StorageError| AnalyticsError::Input(e.to_string());
    validate_name("model", &req.model).map_err(input)?;
    validate_name("dataset", &req.dataset_name()).map_err(input)?;
    config.validate().map_err(AnalyticsError::Input)?;
    if let (Some(s), Some(u)) = (req.since_ms, req.until_ms)
        && s >= u
    {
        return Err(AnalyticsError::Input(format!(
            "since ({}) is not before until ({})",
            rfc3339(s),
            rfc3339(u)
        )));
    }
    Ok(())
}

/// Exports one dataset. `progress` receives one-line status messages.
///
/// Before exporting, version folders without a manifest older than
/// `config.cleanup_grace` are deleted. Returns the version written, or the
/// identical version found already committed (`created = false`).
pub async fn export_dataset(
    storage: &Storage,
    config: &ExportConfig,
    req: &ExportRequest,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<ExportOutcome, AnalyticsError> {
    validate_request(req, config)?;
    let store = DatasetStore::new(storage.clone());
    let cleaned = store.clean_incomplete(config.cleanup_grace).await?.folders;
    for f in &cleaned {
        progress(&format!(
            "removed the incomplete dataset folder {f} (no manifest)"
        ));
    }
    let snap = snapshot(
        storage,
        &config.feedback,
        req.now_ms,
        req.policy.kind() == PolicyKind::Drifted,
    )
    .await?;
    progress(&format!(
        "snapshot: {} landing files",
        snap.source_files.len()
    ));
    let (sql, notes) = selection_sql(req, &req.policy, &config.feedback, snap.alerts.as_deref())?;
    for n in &notes {
        progress(n);
    }
    let df = snap.session.context().sql(&sql).await?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    let rows = concat_batches(&schema, &batches)?;
    drop(batches);
    progress(&format!("selected {} rows", rows.num_rows()));
    let pivoted = pivot(&rows, &config.privacy)?;
    drop(rows);
    let total = pivoted.batch.num_rows();
    let n_parts = total.div_ceil(config.rows_per_part).max(1);
    let mut parts: Vec<EncodedPart> = Vec::with_capacity(n_parts);
    for i in 0..n_parts {
        let start = i * config.rows_per_part;
        let len = config.rows_per_part.min(total - start);
        let slice = pivoted.batch.slice(start, len);
        let (level, rg) = (config.zstd_level, config.row_group_rows);
        let part = tokio::task::spawn_blocking(move || encode_part(&slice, level, rg))
            .await
            .map_err(|e| AnalyticsError::Execution(format!("encoder task failed: {e}")))??;
        parts.push(part);
        progress(&format!("encoded part {}/{n_parts} ({} rows)", i + 1, len));
    }

    let name = req.dataset_name();
    let parameters = req.policy.parameters();
    let privacy = config.privacy.describe();
    // The version names the content: same policy, parameters, privacy rules and rows → same version.
    let descriptor = serde_json::json!({
        "model": req.model, "name": name, "model_version": req.model_version,
        "policy": req.policy.kind().as_str(), "parameters": parameters, "privacy": privacy,
    });
    let version = content_version(&descriptor, &parts);
    let ts = pivoted
        .batch
        .column_by_name("ts")
        .and_then(|c| c.as_primitive_opt::<TimestampMillisecondType>())
        .ok_or_else(|| AnalyticsError::Execution("the dataset lacks its `ts` column".into()))?
        .clone();
    let (min_ts, max_ts) = (min(&ts).map(rfc3339), max(&ts).map(rfc3339));
    let mut all_notes = notes;
    if let Some(v) = &req.model_version {
        all_notes.push(format!("model_version = {v}"));
    }
    let manifest = Manifest {
        format_version: MANIFEST_FORMAT,
        model: req.model.clone(),
        name: name.clone(),
        version: version.clone(),
        row_count: total as u64,
        policy: req.policy.kind().as_str().into(),
        parameters,
        time_range: TimeRange {
            since: req.since_ms.map(rfc3339),
            until: req.until_ms.map(rfc3339),
            min_ts,
            max_ts,
        },
        source_files: snap.source_files,
        files: ManifestFile::for_parts(&parts),
        schema: pivoted.schema_doc,
        privacy,
        notes: all_notes,
        // When the version was written (orders versions): a record of the
        // real clock, unlike `req.now_ms`, which is what the selection sees.
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        feedloop_version: env!("CARGO_PKG_VERSION").into(),
    };
    let id = DatasetId {
        model: req.model.clone(),
        name,
        version,
    };
    let bytes: u64 = parts.iter().map(|p| p.bytes.len() as u64).sum();
    let outcome = store.commit(&parts, manifest, req.fail_point).await?;
    let created = matches!(outcome, CommitOutcome::Created(_));
    progress(&format!(
        "{} {} ({} rows, {} files)",
        if created {
            "wrote"
        } else {
            "already exported, unchanged:"
        },
        store.url(&id),
        total,
        parts.len()
    ));
    Ok(ExportOutcome {
        url: store.url(&id),
        id,
        manifest: outcome.manifest().clone(),
        created,
        bytes,
        cleaned,
    })
}

/// Dry run: how many rows each policy would select with `req`'s filters.
/// `params` gives the policies their parameters; policies that cannot run
/// without a missing parameter (`sample` without a rate, …) are left out.
/// Returns `(policy, rows)` in [`PolicyKind::ALL`] order, with the number of
/// predictions matching the filters first (as `"predictions"`).
pub async fn count_policies(
    storage: &Storage,
    config: &ExportConfig,
    req: &ExportRequest,
    params: &PolicyParams,
) -> Result<Vec<(String, u64)>, AnalyticsError> {
    validate_request(req, config)?;
    let snap = snapshot(storage, &config.feedback, req.now_ms, true).await?;
    let count = |sql: String| {
        let s = &snap.session;
        async move {
            let (_, b) = s.sql(&format!("SELECT count(*) FROM ({sql})")).await?;
            let a = cast(b[0].column(0), &DataType::Int64)?;
            Ok::<u64, AnalyticsError>(a.as_primitive::<Int64Type>().value(0) as u64)
        }
    };
    let mut out = vec![(
        "predictions".to_string(),
        count(feedback_sql(
            &config.feedback,
            Some(&prediction_filter(req)),
        ))
        .await?,
    )];
    for kind in PolicyKind::ALL {
        let policy = if kind == req.policy.kind() {
            req.policy.clone()
        } else {
            match Policy::from_params(kind, params) {
                Ok(p) => p,
                Err(_) => continue,
            }
        };
        let (sql, _) = selection_sql(req, &policy, &config.feedback, snap.alerts.as_deref())?;
        let sql = sql
            .rsplit_once(" ORDER BY ")
            .map_or(sql.clone(), |(s, _)| s.to_string());
        out.push((kind.as_str().to_string(), count(sql).await?));
    }
    Ok(out)
}
