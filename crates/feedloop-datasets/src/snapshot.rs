//! The snapshot an export reads: the landing files (and alerts files) listed
//! once, the session's tables pinned to exactly those files, and the list of
//! them recorded in the manifest (`source_files`).

use crate::selection::register_unit_hash;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use feedloop_analytics::feedback::{FeedbackOptions, register_feedback};
use feedloop_analytics::{AnalyticsError, LandingSession};
use feedloop_events::StreamKind;
use feedloop_storage::datasets::SourceFile;
use feedloop_storage::history::{AlertRow, HistoryError, read_alerts};
use feedloop_storage::layout::ALERTS_DIR;
use feedloop_storage::{LandingZone, Storage};
use object_store::path::Path;
use std::sync::Arc;

/// An export's view of storage, fixed when it starts.
pub(crate) struct Snapshot {
    pub(crate) session: LandingSession,
    pub(crate) source_files: Vec<SourceFile>,
    /// The alert rows (`None`: no alerts table, or not asked for).
    pub(crate) alerts: Option<Vec<AlertRow>>,
}

async fn list_parquet(
    storage: &Storage,
    dir: &str,
) -> Result<Vec<object_store::ObjectMeta>, AnalyticsError> {
    Ok(storage
        .list(&Path::from(dir), None)
        .await?
        .into_iter()
        .filter(|m| {
            m.location.extension() == Some("parquet")
                && !m
                    .location
                    .parts()
                    .any(|p| p.as_ref().starts_with('_') || p.as_ref().starts_with('.'))
        })
        .collect())
}

async fn pinned_table(
    storage: &Storage,
    files: &[object_store::ObjectMeta],
    schema: SchemaRef,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>, AnalyticsError> {
    if files.is_empty() {
        return Ok(Arc::new(MemTable::try_new(schema, vec![vec![]])?));
    }
    let urls = files
        .iter()
        .map(|m| ListingTableUrl::parse(storage.url_of(m.location.as_ref(), false)))
        .collect::<Result<Vec<_>, _>>()?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// Lists the landing files of `predictions` and `corrections` (and of the
/// alerts table if `want_alerts`) once, and registers tables over exactly
/// those files, the `feedback` views (as of `now_ms`) and the sample hash.
pub(crate) async fn snapshot(
    storage: &Storage,
    opts: &FeedbackOptions,
    now_ms: i64,
    want_alerts: bool,
) -> Result<Snapshot, AnalyticsError> {
    let session = LandingSession::new(storage).await?;
    let ctx = session.context();
    let mut source_files = Vec::new();
    for stream in [StreamKind::Predictions, StreamKind::Corrections] {
        let files = list_parquet(storage, LandingZone::table_dir(stream).as_ref()).await?;
        let table = pinned_table(
            storage,
            &files,
            feedloop_events::arrow_schema::schema(stream),
        )
        .await?;
        ctx.deregister_table(stream.table_name())?;
        ctx.register_table(stream.table_name(), table)?;
        source_files.extend(files.iter().map(|m| SourceFile {
            path: m.location.to_string(),
            bytes: m.size,
        }));
    }
    register_feedback(&session, opts, now_ms).await?;
    register_unit_hash(&session);
    let mut alerts = None;
    if want_alerts {
        let files = list_parquet(storage, ALERTS_DIR).await?;
        if !files.is_empty() {
            let table =
                pinned_table(storage, &files, alerts_schema(storage, &files[0]).await?).await?;
            // Replace the session's live `alerts` table with this pinned snapshot.
            ctx.deregister_table("alerts")?;
            ctx.register_table("alerts", table)?;
            source_files.extend(files.iter().map(|m| SourceFile {
                path: m.location.to_string(),
                bytes: m.size,
            }));
            let mut rows = Vec::new();
            for f in &files {
                rows.extend(
                    read_alerts(storage, &f.location)
                        .await
                        .map_err(alerts_error)?,
                );
            }
            alerts = Some(rows);
        }
    }
    Ok(Snapshot {
        session,
        source_files,
        alerts,
    })
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

/// A storage failure keeps its retryability; a file without the columns the
/// `drifted` policy needs is an input error.
fn alerts_error(e: HistoryError) -> AnalyticsError {
    match e {
        HistoryError::Storage(e) => AnalyticsError::from(e),
        shape => AnalyticsError::Input(shape.to_string()),
    }
}
