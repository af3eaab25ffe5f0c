//! # feedloop-report: the offline drift report (`feedloop drift`)
//!
//! Every column of a reference dataset against the same column of a current
//! dataset, as Evidently's `DataDriftPreset` computes it. Offline: two files
//! (or folders) in, a report out; it never touches the landing zone. The
//! statistics are [`feedloop_drift`]'s (pure, no I/O); this crate does the I/O
//! around them (the parquet crate for local Parquet, DataFusion otherwise).
//!
//! * [`request`] — [`DriftRequest`], [`DriftReport`].
//! * `input` — resolving and opening the two inputs, reading one column
//!   (whole, or batch by batch).
//! * `local_parquet` — one column of local Parquet files, straight into Arrow.
//! * `plan` — which columns are compared and how, which are skipped and why.
//! * `side` — which side (reference or current) a file belongs to; the input error.
//! * `compute` — the parallel, one-column-at-a-time computation (exact or
//!   sketch mode).
//! * [`render`] — [`DriftReport::to_json`], [`DriftReport::to_table`].
//!
//! ## Inputs
//! [`DriftRequest::reference`] and [`DriftRequest::current`] are each a
//! Parquet file, a folder of `.parquet` files (read recursively), or a CSV
//! file (recognised by its `.csv` extension, with a header row; an empty
//! field is NULL). Each is a local path, a `file://` URL, or an object-store
//! URL (`s3://`, `gs://`, `az://`, … opened with
//! [`feedloop_storage::Storage::open`], credentials from the environment, and
//! registered with DataFusion).
//!
//! ## Columns
//! The requested columns, or else every column present on both sides. A
//! requested column missing on one side is an error naming the column and
//! side; an unrequested column present on one side only is skipped and
//! listed in [`DriftReport::skipped`] with the reason. Arrow types map to
//! [`ColumnData`](feedloop_drift::ColumnData) as: Float16/32/64 → `Float`; Int8..64 and UInt8..64 →
//! `Int` (an integer column compared with a float column is read as floats
//! on both sides, and so is an integer column with a NULL in the current
//! data: pandas reads such a column as float64, so Evidently, which infers
//! the kind from the current data, treats it as numerical even with ≤ 10
//! distinct values); Boolean → `Bool`; Utf8, LargeUtf8, Utf8View and string
//! dictionaries → `Str`. Timestamps, dates and every other type are skipped
//! with the reason. A column whose values are all NULL/NaN on one side, or
//! whose types differ incompatibly between the sides, is skipped when it was
//! not requested and an error when it was.
//!
//! Forcing a numeric-only test (`ks`, `wasserstein`) on an integer column
//! treats the column as numeric; forcing one on a string or boolean column
//! is an error naming the column. A `stattest` or `threshold` entry for a
//! column that is not compared is an error.
//!
//! ## Parallelism and memory
//! Columns are computed in parallel on `available_parallelism()` threads
//! (`std::thread::scope`, a shared atomic work index as the queue). Each
//! thread loads **one column at a time**: local Parquet inputs are read with
//! the parquet crate directly (`local_parquet`: every footer read once, then a
//! projection per column that decodes only that column's chunks, strings kept
//! as dictionaries); CSV and object-store inputs through DataFusion (a
//! projection query). The arrays become [`ColumnValues`](feedloop_drift::ColumnValues)
//! (floats and integers as plain vectors, each array dropped once copied;
//! booleans and strings counted, strings by dictionary key), and
//! [`column_drift_values`](feedloop_drift::column_drift_values) sorts each
//! numeric side once and derives every statistic from the sorted arrays.
//! Peak memory is therefore about `threads × (one column of reference +
//! current as f64, plus the radix sort's buffer)`, independent of the number
//! of columns: 10M vs 10M rows × 15 columns stay well under 2 GiB. The price
//! for CSV is one parse of the file per column (fine for the sizes CSV is
//! used for).
//!
//! ## Sketch mode
//! With [`DriftRequest::sketch`] set (`feedloop drift --sketch`), no column is
//! held whole: each side is handed over one batch at a time (the projected
//! Parquet reader's batches, or DataFusion's record-batch stream), numbers go
//! into a mergeable [`NumericSketch`](feedloop_drift::NumericSketch) (a KLL
//! quantile sketch with exact count, range, mean, std and exact value counts
//! up to 64 distinct values), booleans and strings into counts, and
//! [`column_drift_sketched`](feedloop_drift::column_drift_sketched) compares
//! the two sketches. Peak memory is about `threads × one batch`, plus the
//! sketches (~24 KiB each at the default `k = 1000`) and the distinct
//! strings' counts. Columns whose values fit (≤ 64 distinct numbers, or a
//! sketch that has not compacted), booleans and strings give exactly the
//! exact-mode result; the others carry a [`SketchEstimate`](feedloop_drift::SketchEstimate)
//! with the KLL rank error and the bounds on KS, Wasserstein and bin shares
//! ([`feedloop_drift::sketch`] documents the method). Exact mode is the
//! default and unchanged.

//! ## Output
//! [`DriftReport::to_json`] (stable shape, JSON Schema in
//! `schemas/drift-report.v1.schema.json`) and [`DriftReport::to_table`].
//! JSON has no infinities or NaN, so non-finite floats (a chi-squared
//! statistic is `inf` when a bin is empty in the reference) are written as
//! the strings `"inf"`, `"-inf"` and `"nan"`.

mod compute;
mod input;
mod local_parquet;
mod plan;
pub mod render;
pub mod request;
mod side;

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::execution::context::SessionContext;
use datafusion::prelude::SessionConfig;
use feedloop_drift::dataset_drift;

use crate::compute::{Outcome, compute_all};
use crate::input::{Columns, Which, fields, input, open, resolve};
use crate::plan::plan_columns;

pub use feedloop_analytics::AnalyticsError;
pub use render::json_f64;
pub use request::{DriftReport, DriftRequest};

/// Computes the drift report of `req` (see the crate docs for inputs,
/// column selection, parallelism and memory).
pub async fn run_drift_report(req: &DriftRequest) -> Result<DriftReport, AnalyticsError> {
    if !(0.0..=1.0).contains(&req.drift_share) {
        return Err(input(format!(
            "drift_share must be within [0, 1], got {}",
            req.drift_share
        )));
    }
    if let Some(k) = req.sketch
        && k < 8
    {
        return Err(input(format!(
            "the sketch size k must be within 8..=65535, got {k}"
        )));
    }
    for (name, t) in &req.threshold {
        if !t.is_finite() {
            return Err(input(format!(
                "threshold of column '{name}' must be a finite number, got {t}"
            )));
        }
    }
    // One partition per query: the parallelism is across columns. Folders are
    // read recursively (as the existence check lists them).
    let mut config = SessionConfig::new().with_target_partitions(1);
    config
        .options_mut()
        .execution
        .listing_table_ignore_subdirectory = false;
    let ctx = SessionContext::new_with_config(config);
    let rsrc = resolve(&ctx, &req.reference, Which::Reference).await?;
    let csrc = resolve(&ctx, &req.current, Which::Current).await?;
    let reference = open(&ctx, &rsrc, &req.reference, Which::Reference).await?;
    let current = open(&ctx, &csrc, &req.current, Which::Current).await?;
    let n_reference = reference.clone().count().await?;
    let n_current = current.clone().count().await?;
    if n_reference == 0 {
        return Err(input(format!(
            "the reference data has no rows: {}",
            req.reference
        )));
    }
    if n_current == 0 {
        return Err(input(format!(
            "the current data has no rows: {}",
            req.current
        )));
    }
    let (plans, mut skipped) = plan_columns(req, &fields(&reference), &fields(&current))?;
    let reference = Columns::new(&rsrc, reference, Which::Reference)?;
    let current = Columns::new(&csrc, current, Which::Current)?;
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(plans.len())
        .max(1);
    let plans = Arc::new(plans);
    let worker_plans = Arc::clone(&plans);
    let sketch = req.sketch;
    let outcomes = tokio::task::spawn_blocking(move || {
        compute_all(&reference, &current, &worker_plans, threads, sketch)
    })
    .await
    .map_err(|e| AnalyticsError::Execution(format!("drift computation failed: {e}")))??;
    let mut columns = BTreeMap::new();
    for (plan, out) in plans.iter().zip(outcomes) {
        match out {
            Outcome::Done(res) => {
                columns.insert(plan.name.clone(), res);
            }
            Outcome::Skipped(why) => {
                skipped.insert(plan.name.clone(), why);
            }
            Outcome::Failed(e) => return Err(e),
        }
    }
    if columns.is_empty() {
        return Err(input(format!(
            "no column to compare between {} and {} ({} skipped)",
            req.reference,
            req.current,
            skipped.len()
        )));
    }
    Ok(DriftReport {
        reference: req.reference.clone(),
        current: req.current.clone(),
        drift_share: req.drift_share,
        drift: dataset_drift(columns, n_reference, n_current, req.drift_share),
        skipped,
    })
}
