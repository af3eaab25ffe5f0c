//! The DataFusion side of the window job: tables over exactly the landing
//! files that overlap a time range (late events, the reference taken from the
//! landing zone), the late-events query, and the shape of a metric row. The
//! windows themselves are read by [`crate::read`] and [`crate::walk`], without SQL.

use crate::index::IndexedFile;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::context::SessionContext;
use datafusion::prelude::{col, lit};
use feedloop_analytics::AnalyticsError;
use feedloop_events::StreamKind;
use feedloop_events::arrow_schema::schema;
use feedloop_storage::Storage;
use feedloop_storage::history::MetricRow;
use std::collections::BTreeMap;
use std::sync::Arc;

pub type ModelKey = (String, String);

fn ts_lit(ms: i64) -> datafusion::prelude::Expr {
    lit(ScalarValue::TimestampMillisecond(
        Some(ms),
        Some("UTC".into()),
    ))
}

/// Registers `name` as the rows of table `source` with `ts` in `[start, end)`.
pub async fn register_filtered_view(
    ctx: &SessionContext,
    name: &str,
    source: &str,
    start: i64,
    end: i64,
) -> Result<(), AnalyticsError> {
    let _ = ctx.deregister_table(name);
    let df = ctx.table(source).await?.filter(
        col("ts")
            .gt_eq(ts_lit(start))
            .and(col("ts").lt(ts_lit(end))),
    )?;
    ctx.register_table(name, df.into_view())?;
    Ok(())
}

/// Registers `name` as the rows of `stream` with `ts` in `[start, end)`, read from `files` only.
pub async fn register_window_table(
    ctx: &SessionContext,
    storage: &Storage,
    name: &str,
    stream: StreamKind,
    files: &[&IndexedFile],
    start: i64,
    end: i64,
) -> Result<(), AnalyticsError> {
    let _ = ctx.deregister_table(name);
    let raw = format!("{name}__files");
    let _ = ctx.deregister_table(raw.as_str());
    if files.is_empty() {
        let empty = MemTable::try_new(schema(stream), vec![vec![]])?;
        ctx.register_table(raw.as_str(), Arc::new(empty))?;
    } else {
        let urls = files
            .iter()
            .map(|f| ListingTableUrl::parse(storage.url_of(&f.path, false)))
            .collect::<Result<Vec<_>, _>>()?;
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(
                ListingOptions::new(Arc::new(ParquetFormat::default()))
                    .with_file_extension(".parquet"),
            )
            .with_schema(schema(stream));
        ctx.register_table(raw.as_str(), Arc::new(ListingTable::try_new(config)?))?;
    }
    register_filtered_view(ctx, name, &raw, start, end).await
}

async fn sql(ctx: &SessionContext, q: &str) -> Result<Vec<RecordBatch>, AnalyticsError> {
    Ok(ctx.sql(q).await?.collect().await?)
}

fn str_at(b: &RecordBatch, c: usize, i: usize) -> Option<String> {
    let a = b.column(c);
    if a.is_null(i) {
        return None;
    }
    let a = arrow::compute::cast(&a.slice(i, 1), &arrow::datatypes::DataType::Utf8).ok()?;
    Some(a.as_string::<i32>().value(0).to_string())
}

fn i64_at(b: &RecordBatch, c: usize, i: usize) -> Option<i64> {
    let a = b.column(c);
    if a.is_null(i) {
        return None;
    }
    let a = arrow::compute::cast(&a.slice(i, 1), &arrow::datatypes::DataType::Int64).ok()?;
    Some(a.as_primitive::<Int64Type>().value(0))
}

/// Late events (event time before `cursor`) in newly landed prediction files,
/// per model version and the window they belong to.
pub async fn late_events(
    ctx: &SessionContext,
    t: &str,
    cursor: i64,
    size: i64,
) -> Result<Vec<(ModelKey, i64, f64)>, AnalyticsError> {
    let q = format!(
        "SELECT model, model_version, CAST(ts AS BIGINT) - (CAST(ts AS BIGINT) % {size}) AS w, count(*) \
         FROM {t} WHERE CAST(ts AS BIGINT) < {cursor} GROUP BY 1, 2, 3"
    );
    let mut out = Vec::new();
    for b in sql(ctx, &q).await? {
        for i in 0..b.num_rows() {
            if let (Some(m), Some(v), Some(w), Some(n)) = (
                str_at(&b, 0, i),
                str_at(&b, 1, i),
                i64_at(&b, 2, i),
                i64_at(&b, 3, i),
            ) {
                out.push(((m, v), w, n as f64));
            }
        }
    }
    Ok(out)
}

/// A metric row of the overall segment.
pub fn row(
    start: i64,
    end: i64,
    key: &ModelKey,
    metric: &str,
    feature: Option<&str>,
    value: f64,
) -> MetricRow {
    MetricRow {
        window_start: start,
        window_end: end,
        model: key.0.clone(),
        model_version: key.1.clone(),
        segment: BTreeMap::new(),
        metric: metric.to_string(),
        feature: feature.map(str::to_string),
        value,
        test: None,
        threshold: None,
        drift: None,
        band: None,
    }
}
