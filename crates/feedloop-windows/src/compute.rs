//! One closed window → metric rows, with DataFusion over exactly the landing
//! files that overlap the window.
//!
//! Every feature of every model is handled by one query that unnests the
//! `features` map (no per-feature code); its rows are folded into exact counts on
//! each model version's frozen reference bins ([`feedloop_drift::profile`]),
//! which then give every drift statistic. Latency percentiles are exact
//! (`percentile_cont`, linear interpolation as numpy's default).

use crate::index::IndexedFile;
use crate::profiles::{OUTPUT_LABEL, OUTPUT_SCORE, OUTPUT_VALUE, Samples};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type};
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

/// Reads the rows of `stream` with `ts` in `[start, end)` from `files` into memory
/// as table `name`: a batch of windows is then computed without decoding the
/// same Parquet again for each window (what a backfill would otherwise do).
pub async fn load_range_table(
    ctx: &SessionContext,
    storage: &Storage,
    name: &str,
    stream: StreamKind,
    files: &[&IndexedFile],
    start: i64,
    end: i64,
) -> Result<usize, AnalyticsError> {
    let scan = format!("{name}__scan");
    register_window_table(ctx, storage, &scan, stream, files, start, end).await?;
    let batches = ctx.table(scan.as_str()).await?.collect().await?;
    let rows = batches.iter().map(|b| b.num_rows()).sum();
    let _ = ctx.deregister_table(scan.as_str());
    let _ = ctx.deregister_table(format!("{scan}__files").as_str());
    let _ = ctx.deregister_table(name);
    ctx.register_table(
        name,
        Arc::new(MemTable::try_new(schema(stream), vec![batches])?),
    )?;
    Ok(rows)
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

fn f64_at(b: &RecordBatch, c: usize, i: usize) -> Option<f64> {
    let a = b.column(c);
    if a.is_null(i) {
        return None;
    }
    let a = arrow::compute::cast(&a.slice(i, 1), &arrow::datatypes::DataType::Float64).ok()?;
    Some(a.as_primitive::<Float64Type>().value(0))
}

fn i64_at(b: &RecordBatch, c: usize, i: usize) -> Option<i64> {
    let a = b.column(c);
    if a.is_null(i) {
        return None;
    }
    let a = arrow::compute::cast(&a.slice(i, 1), &arrow::datatypes::DataType::Int64).ok()?;
    Some(a.as_primitive::<Int64Type>().value(0))
}

/// Feature samples per model version from table `t` (one query for all features,
/// one for the outputs).
pub async fn collect_samples(
    ctx: &SessionContext,
    t: &str,
) -> Result<BTreeMap<ModelKey, Samples>, AnalyticsError> {
    let mut out: BTreeMap<ModelKey, Samples> = BTreeMap::new();
    let features = sql(
        ctx,
        &format!(
            "SELECT model, model_version, e['key'] AS feature, e['value']['number'] AS num, \
             e['value']['string'] AS str, e['value']['boolean'] AS flag \
             FROM (SELECT model, model_version, unnest(map_entries(features)) AS e FROM {t})"
        ),
    )
    .await?;
    for b in &features {
        let model = b.column(0).as_string::<i32>();
        let version = b.column(1).as_string::<i32>();
        let feature = arrow::compute::cast(b.column(2), &arrow::datatypes::DataType::Utf8)?;
        let feature = feature.as_string::<i32>();
        let num = b.column(3).as_primitive::<Float64Type>();
        let st = arrow::compute::cast(b.column(4), &arrow::datatypes::DataType::Utf8)?;
        let st = st.as_string::<i32>();
        let flag = b.column(5).as_boolean();
        for i in 0..b.num_rows() {
            let key = (model.value(i).to_string(), version.value(i).to_string());
            let s = out.entry(key).or_default().feature(feature.value(i));
            if num.is_valid(i) {
                s.numbers.push(num.value(i));
            } else if st.is_valid(i) {
                s.strings.push(st.value(i).to_string());
            } else if flag.is_valid(i) {
                s.bools.push(flag.value(i));
            } else {
                s.nulls += 1;
            }
        }
    }
    let outputs = sql(
        ctx,
        &format!("SELECT model, model_version, output_score, output_label, output_value FROM {t}"),
    )
    .await?;
    for b in &outputs {
        let model = b.column(0).as_string::<i32>();
        let version = b.column(1).as_string::<i32>();
        let score = b.column(2).as_primitive::<Float64Type>();
        let label = b.column(3).as_string::<i32>();
        let value = b.column(4).as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            let s = out
                .entry((model.value(i).to_string(), version.value(i).to_string()))
                .or_default();
            s.rows += 1;
            if score.is_valid(i) {
                s.feature(OUTPUT_SCORE).numbers.push(score.value(i));
            }
            if label.is_valid(i) {
                s.feature(OUTPUT_LABEL)
                    .strings
                    .push(label.value(i).to_string());
            }
            if value.is_valid(i) {
                s.feature(OUTPUT_VALUE).numbers.push(value.value(i));
            }
        }
    }
    Ok(out)
}

/// Volume per model version, overall and per configured segment tag.
pub async fn volume(
    ctx: &SessionContext,
    t: &str,
    segments: &[String],
) -> Result<Vec<(ModelKey, BTreeMap<String, String>, f64)>, AnalyticsError> {
    let mut out = Vec::new();
    for b in sql(
        ctx,
        &format!("SELECT model, model_version, count(*) FROM {t} GROUP BY 1, 2"),
    )
    .await?
    {
        for i in 0..b.num_rows() {
            if let (Some(m), Some(v), Some(n)) =
                (str_at(&b, 0, i), str_at(&b, 1, i), i64_at(&b, 2, i))
            {
                out.push(((m, v), BTreeMap::new(), n as f64));
            }
        }
    }
    for tag in segments {
        let q = format!(
            "SELECT model, model_version, tags[{}] AS seg, count(*) FROM {t} GROUP BY 1, 2, 3",
            feedloop_analytics::sql::string_literal(tag)
        );
        for b in sql(ctx, &q).await? {
            for i in 0..b.num_rows() {
                if let (Some(m), Some(v), Some(s), Some(n)) = (
                    str_at(&b, 0, i),
                    str_at(&b, 1, i),
                    str_at(&b, 2, i),
                    i64_at(&b, 3, i),
                ) {
                    out.push(((m, v), BTreeMap::from([(tag.clone(), s)]), n as f64));
                }
            }
        }
    }
    Ok(out)
}

/// Latency metrics per model version.
pub async fn latency(
    ctx: &SessionContext,
    t: &str,
) -> Result<Vec<(ModelKey, Vec<(&'static str, f64)>)>, AnalyticsError> {
    let q = format!(
        "SELECT model, model_version, count(*) AS n, \
         percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms), \
         percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms), \
         percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms), \
         avg(CASE WHEN status = 'error' THEN 1.0 ELSE 0.0 END), \
         avg(CASE WHEN status = 'timeout' THEN 1.0 ELSE 0.0 END) \
         FROM {t} GROUP BY 1, 2"
    );
    let mut out = Vec::new();
    for b in sql(ctx, &q).await? {
        for i in 0..b.num_rows() {
            let (Some(m), Some(v)) = (str_at(&b, 0, i), str_at(&b, 1, i)) else {
                continue;
            };
            let mut vals = Vec::new();
            for (c, name) in [
                (2, "requests"),
                (3, "latency_p50"),
                (4, "latency_p95"),
                (5, "latency_p99"),
                (6, "request_error_rate"),
                (7, "timeout_rate"),
            ] {
                if let Some(x) = f64_at(&b, c, i) {
                    vals.push((name, x));
                }
            }
            out.push(((m, v), vals));
        }
    }
    Ok(out)
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
