//! [`LandingSession`]: a DataFusion session over a storage root's landing zone
//! (`predictions`, `corrections`, `latency`) and the window jobs' history
//! (`metrics`, `alerts`).

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::SessionConfig;
use feedloop_events::StreamKind;
use feedloop_storage::{LandingZone, Storage, history};
use std::sync::Arc;

pub use crate::error::AnalyticsError;

/// A DataFusion session whose tables are the landing zone of one storage root.
pub struct LandingSession {
    ctx: SessionContext,
}

impl LandingSession {
    /// Registers `predictions`, `corrections` and `latency` over `storage`.
    pub async fn new(storage: &Storage) -> Result<Self, AnalyticsError> {
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()));
        let ctx = SessionContext::new_with_config(config);
        crate::sql_functions::register_drift_functions(&ctx);
        let url = storage.url();
        if url.scheme() != "file" {
            let base = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
            let base = url::Url::parse(&base).map_err(|e| AnalyticsError::Query(e.to_string()))?;
            ctx.register_object_store(&base, Arc::clone(storage.object_store()));
        }
        for stream in StreamKind::ALL {
            let dir = LandingZone::table_dir(stream);
            if let Some(root) = storage.local_root() {
                // DataFusion lists local tables with the file system; make sure the folder exists.
                let _ = std::fs::create_dir_all(root.join(dir.as_ref()));
            }
            let table_url = storage.url_of(dir.as_ref(), true);
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet");
            ctx.register_listing_table(
                stream.table_name(),
                &table_url,
                options,
                Some(feedloop_events::arrow_schema::schema(stream)),
                None,
            )
            .await?;
        }
        // The window jobs' history tables.
        for (name, dir, schema) in [
            (
                "metrics",
                history::METRICS_DIR,
                history::METRICS_SCHEMA.clone(),
            ),
            (
                "alerts",
                history::ALERTS_DIR,
                history::ALERTS_SCHEMA.clone(),
            ),
        ] {
            if let Some(root) = storage.local_root() {
                let _ = std::fs::create_dir_all(root.join(dir));
            }
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet");
            ctx.register_listing_table(
                name,
                storage.url_of(dir, true),
                options,
                Some(schema),
                None,
            )
            .await?;
        }
        Ok(LandingSession { ctx })
    }

    /// The underlying DataFusion context (to register more tables or functions).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Runs one SQL statement and collects its result.
    pub async fn sql(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), AnalyticsError> {
        let df = self.ctx.sql(sql).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        Ok((schema, batches))
    }
}
