//! Offline drift report: every column of a reference dataset against the same
//! column of a current dataset, as Evidently's `DataDriftPreset` computes it.
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
//! [`ColumnData`] as: Float16/32/64 → `Float`; Int8..64 and UInt8..64 →
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
//! thread loads **one column at a time**: it asks DataFusion for that single
//! column of each side (a projection, so Parquet reads only that column's
//! chunks), converts it, runs [`column_drift`] and drops everything before
//! taking the next column. Peak memory is therefore about
//! `threads × (one column of reference + current, as Arrow and as Rust
//! vectors)`, independent of the number of columns. The price for CSV is
//! one parse of the file per column (fine for the sizes CSV is used for);
//! Parquet pays nothing extra.
//!
//! ## Output
//! [`DriftReport::to_json`] (stable shape, JSON Schema in
//! `schemas/drift-report.v1.schema.json`) and [`DriftReport::to_table`].
//! JSON has no infinities or NaN, so non-finite floats (a chi-squared
//! statistic is `inf` when a bin is empty in the reference) are written as
//! the strings `"inf"`, `"-inf"` and `"nan"`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path as FsPath;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::compute::{CastOptions, cast, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionConfig};
use feedloop_drift::{
    ColumnData, ColumnDriftResult, ColumnKind, ColumnOptions, DEFAULT_DRIFT_SHARE, DatasetDrift,
    DriftError, StatTest, column_drift, dataset_drift,
};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use serde_json::{Map, Value, json};

use crate::session::AnalyticsError;

/// What to compare and how.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftRequest {
    /// Reference (baseline) dataset: Parquet file or folder, or CSV file; path or URL.
    pub reference: String,
    /// Current dataset, same forms as `reference`.
    pub current: String,
    /// Columns to compare; `None` = every column present on both sides.
    pub columns: Option<Vec<String>>,
    /// Forced test per column (default: Evidently's choice).
    pub stattest: BTreeMap<String, StatTest>,
    /// Forced threshold per column (default: the test's default).
    pub threshold: BTreeMap<String, f64>,
    /// Dataset drift when the share of drifted columns is `≥ drift_share`.
    pub drift_share: f64,
}

impl DriftRequest {
    /// All columns, Evidently's default tests and thresholds, drift share 0.5.
    pub fn new(reference: impl Into<String>, current: impl Into<String>) -> Self {
        DriftRequest {
            reference: reference.into(),
            current: current.into(),
            columns: None,
            stattest: BTreeMap::new(),
            threshold: BTreeMap::new(),
            drift_share: DEFAULT_DRIFT_SHARE,
        }
    }
}

/// Result of [`run_drift_report`].
#[derive(Debug, Clone, PartialEq)]
pub struct DriftReport {
    /// The reference location as given.
    pub reference: String,
    /// The current location as given.
    pub current: String,
    /// Drift share used for the dataset verdict.
    pub drift_share: f64,
    /// Dataset verdict and per-column results (`n_reference`/`n_current` are dataset rows).
    pub drift: DatasetDrift,
    /// Columns not compared, with the reason.
    pub skipped: BTreeMap<String, String>,
}

/// A float as JSON: a number, or `"inf"`, `"-inf"`, `"nan"` when not finite.
pub fn json_f64(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else if x.is_nan() {
        json!("nan")
    } else if x > 0.0 {
        json!("inf")
    } else {
        json!("-inf")
    }
}

fn kind_name(k: ColumnKind) -> &'static str {
    match k {
        ColumnKind::Numeric => "numeric",
        ColumnKind::Categorical => "categorical",
    }
}

fn column_json(c: &ColumnDriftResult) -> Value {
    let s = &c.stats;
    let mut stats = Map::new();
    if let Some(ks) = s.ks {
        stats.insert(
            "ks".into(),
            json!({"statistic": json_f64(ks.statistic), "p_value": json_f64(ks.p_value)}),
        );
    }
    if let Some(w) = s.wasserstein {
        stats.insert("wasserstein".into(), json_f64(w));
    }
    if let Some(w) = s.wasserstein_normed {
        stats.insert("wasserstein_normed".into(), json_f64(w));
    }
    stats.insert("psi".into(), json_f64(s.psi));
    stats.insert("jensenshannon".into(), json_f64(s.jensenshannon));
    stats.insert("kl_div".into(), json_f64(s.kl_div));
    stats.insert("hellinger".into(), json_f64(s.hellinger));
    stats.insert(
        "chisquare".into(),
        json!({"statistic": json_f64(s.chisquare.statistic), "p_value": json_f64(s.chisquare.p_value)}),
    );
    if let Some(z) = s.z {
        stats.insert(
            "z".into(),
            json!({"statistic": json_f64(z.statistic), "p_value": json_f64(z.p_value)}),
        );
    }
    json!({
        "kind": kind_name(c.kind),
        "test": c.test.name(),
        "score": json_f64(c.score),
        "threshold": json_f64(c.threshold),
        "drift": c.drift,
        "stats": Value::Object(stats),
    })
}

/// Scores span p-values near 0 and distances near 1: scientific notation for tiny ones.
fn fmt_score(x: f64) -> String {
    if x != 0.0 && x.is_finite() && x.abs() < 1e-4 {
        format!("{x:.3e}")
    } else {
        format!("{x:.6}")
    }
}

impl DriftReport {
    /// The report as JSON, in the shape of `schemas/drift-report.v1.schema.json`:
    ///
    /// ```text
    /// {"dataset_drift": bool, "share_drifted": f, "n_reference": n, "n_current": n,
    ///  "columns": {"<name>": {"kind", "test", "score", "threshold", "drift", "stats": {…}}},
    ///  "skipped": {"<name>": "reason"}}
    /// ```
    ///
    /// `stats` holds every statistic that applies to the column: `ks`,
    /// `wasserstein` and `wasserstein_normed` for numeric columns only, `z`
    /// only when the two samples together have at most two distinct values;
    /// `psi`, `jensenshannon`, `kl_div`, `hellinger`, `chisquare` always.
    /// Non-finite floats are the strings `"inf"`, `"-inf"`, `"nan"`.
    pub fn to_json(&self) -> Value {
        let columns: Map<String, Value> = self
            .drift
            .columns
            .iter()
            .map(|(name, c)| (name.clone(), column_json(c)))
            .collect();
        let skipped: Map<String, Value> = self
            .skipped
            .iter()
            .map(|(name, why)| (name.clone(), Value::String(why.clone())))
            .collect();
        json!({
            "dataset_drift": self.drift.dataset_drift,
            "share_drifted": json_f64(self.drift.share_drifted),
            "n_reference": self.drift.n_reference,
            "n_current": self.drift.n_current,
            "columns": Value::Object(columns),
            "skipped": Value::Object(skipped),
        })
    }

    /// A human-readable, aligned table: a header line with the dataset
    /// verdict and share, one row per column (`DRIFT` marks drifted
    /// columns), then the skipped columns with their reasons.
    pub fn to_table(&self) -> String {
        let d = &self.drift;
        let mut out = format!(
            "Dataset drift: {} ({} of {} columns drifted, share {:.3}, threshold {}; reference {} rows, current {} rows)\n",
            if d.dataset_drift { "YES" } else { "NO" },
            d.n_drifted,
            d.columns.len(),
            d.share_drifted,
            self.drift_share,
            d.n_reference,
            d.n_current,
        );
        let header = ["column", "kind", "test", "score", "threshold", "drift"].map(String::from);
        let rows: Vec<[String; 6]> = d
            .columns
            .iter()
            .map(|(name, c)| {
                [
                    name.clone(),
                    kind_name(c.kind).to_string(),
                    c.test.name().to_string(),
                    fmt_score(c.score),
                    fmt_score(c.threshold),
                    if c.drift {
                        "DRIFT".to_string()
                    } else {
                        "-".to_string()
                    },
                ]
            })
            .collect();
        let mut width = header.clone().map(|h| h.chars().count());
        for r in &rows {
            for (w, cell) in width.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String; 6]| {
            let mut s = String::new();
            for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
                let pad = w - cell.chars().count();
                // Numbers right-aligned, text left-aligned.
                if i == 3 || i == 4 {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(cell);
                } else {
                    s.push_str(cell);
                    if i + 1 < cells.len() {
                        s.push_str(&" ".repeat(pad));
                    }
                }
                if i + 1 < cells.len() {
                    s.push_str("  ");
                }
            }
            s.push('\n');
            s
        };
        out.push_str(&line(&header));
        out.push_str(&line(&width.map(|w| "-".repeat(w))));
        for r in &rows {
            out.push_str(&line(r));
        }
        if !self.skipped.is_empty() {
            out.push_str("Skipped columns:\n");
            for (name, why) in &self.skipped {
                out.push_str(&format!("  {name}: {why}\n"));
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Reference,
    Current,
}

impl std::fmt::Display for Which {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Which::Reference => "reference",
            Which::Current => "current",
        })
    }
}

fn input(msg: impl Into<String>) -> AnalyticsError {
    AnalyticsError::Input(msg.into())
}

fn is_csv(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".csv")
}

/// A resolved input: where DataFusion reads it and in which format.
struct Source {
    location: String,
    csv: bool,
    single_file: bool,
}

fn has_parquet_file(dir: &FsPath) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            if has_parquet_file(&entry.path())? {
                return Ok(true);
            }
        } else if entry.file_name().to_string_lossy().ends_with(".parquet") {
            return Ok(true);
        }
    }
    Ok(false)
}

fn resolve_local(given: &str, path: &FsPath, side: Which) -> Result<Source, AnalyticsError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            input(format!("{side} input not found: {given}"))
        } else {
            input(format!("cannot read {side} input {given}: {e}"))
        }
    })?;
    let abs =
        std::path::absolute(path).map_err(|e| input(format!("bad {side} path {given}: {e}")))?;
    let abs = abs.to_string_lossy().to_string();
    if meta.is_dir() {
        let found = has_parquet_file(path)
            .map_err(|e| input(format!("cannot list {side} folder {given}: {e}")))?;
        if !found {
            return Err(input(format!(
                "{side} folder {given} contains no .parquet files"
            )));
        }
        let location = if abs.ends_with('/') {
            abs
        } else {
            format!("{abs}/")
        };
        Ok(Source {
            location,
            csv: false,
            single_file: false,
        })
    } else {
        if meta.len() == 0 {
            return Err(input(format!("{side} input {given} is an empty file")));
        }
        Ok(Source {
            csv: is_csv(given),
            location: abs,
            single_file: true,
        })
    }
}

async fn resolve(ctx: &SessionContext, given: &str, side: Which) -> Result<Source, AnalyticsError> {
    let url = match url::Url::parse(given) {
        Ok(u) if u.scheme().len() > 1 => u,
        _ => return resolve_local(given, FsPath::new(given), side),
    };
    if url.scheme() == "file" {
        let path = url
            .to_file_path()
            .map_err(|_| input(format!("bad {side} file URL {given}")))?;
        return resolve_local(given, &path, side);
    }
    let storage = feedloop_storage::Storage::open(given, [])
        .map_err(|e| input(format!("cannot open {side} location {given}: {e}")))?;
    let base = url::Url::parse(&format!(
        "{}://{}",
        url.scheme(),
        url.host_str().unwrap_or_default()
    ))
    .map_err(|e| input(format!("bad {side} URL {given}: {e}")))?;
    let store = Arc::clone(storage.object_store());
    ctx.register_object_store(&base, Arc::clone(&store));
    let path = object_store::path::Path::from_url_path(url.path())
        .map_err(|e| input(format!("bad {side} URL {given}: {e}")))?;
    let name = url.path().trim_end_matches('/');
    let is_file = is_csv(name) || name.ends_with(".parquet");
    if is_file {
        match store.head(&path).await {
            Ok(m) if m.size == 0 => Err(input(format!("{side} input {given} is an empty file"))),
            Ok(_) => Ok(Source {
                location: given.to_string(),
                csv: is_csv(name),
                single_file: true,
            }),
            Err(object_store::Error::NotFound { .. }) => {
                Err(input(format!("{side} input not found: {given}")))
            }
            Err(e) => Err(AnalyticsError::Execution(format!(
                "cannot read {side} input {given}: {e}"
            ))),
        }
    } else {
        let objects: Vec<_> = match store.list(Some(&path)).try_collect().await {
            Ok(v) => v,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => {
                return Err(AnalyticsError::Execution(format!(
                    "cannot list {side} input {given}: {e}"
                )));
            }
        };
        if !objects
            .iter()
            .any(|m| m.location.as_ref().ends_with(".parquet"))
        {
            return Err(input(format!(
                "{side} input not found: no .parquet files under {given}"
            )));
        }
        let location = if given.ends_with('/') {
            given.to_string()
        } else {
            format!("{given}/")
        };
        Ok(Source {
            location,
            csv: false,
            single_file: false,
        })
    }
}

async fn open(
    ctx: &SessionContext,
    src: &Source,
    given: &str,
    side: Which,
) -> Result<DataFrame, AnalyticsError> {
    let ext = if src.single_file { "" } else { ".parquet" };
    let df = if src.csv {
        let opts = CsvReadOptions::new()
            .has_header(true)
            .file_extension(ext)
            .schema_infer_max_records(usize::MAX);
        ctx.read_csv(src.location.as_str(), opts).await
    } else {
        ctx.read_parquet(
            src.location.as_str(),
            ParquetReadOptions::default().file_extension(ext),
        )
        .await
    };
    df.map_err(|e| input(format!("cannot read {side} input {given}: {e}")))
}

/// How a column's values become [`ColumnData`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Float,
    Int,
    Bool,
    Str,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Float => "float",
            Class::Int => "integer",
            Class::Bool => "boolean",
            Class::Str => "string",
        }
    }
}

fn classify(t: &DataType) -> Result<Class, String> {
    use DataType as T;
    match t {
        T::Float16 | T::Float32 | T::Float64 => Ok(Class::Float),
        T::Int8 | T::Int16 | T::Int32 | T::Int64 | T::UInt8 | T::UInt16 | T::UInt32 | T::UInt64 => {
            Ok(Class::Int)
        }
        T::Boolean => Ok(Class::Bool),
        T::Utf8 | T::LargeUtf8 | T::Utf8View => Ok(Class::Str),
        T::Dictionary(_, v) if matches!(**v, T::Utf8 | T::LargeUtf8 | T::Utf8View) => {
            Ok(Class::Str)
        }
        T::Timestamp(..) | T::Date32 | T::Date64 => Err(format!(
            "timestamp/date column ({t}): drift tests apply to numbers, booleans and strings"
        )),
        T::Null => Err("column has no values (null type)".to_string()),
        other => Err(format!("unsupported type {other}")),
    }
}

/// One column to compute.
struct Plan {
    name: String,
    class: Class,
    requested: bool,
    options: ColumnOptions,
}

enum Outcome {
    Done(ColumnDriftResult),
    Skipped(String),
    Failed(AnalyticsError),
}

/// Plans the columns: which are compared (and how), which are skipped (and why).
fn plan_columns(
    req: &DriftRequest,
    reference: &[(String, DataType)],
    current: &[(String, DataType)],
) -> Result<(Vec<Plan>, BTreeMap<String, String>), AnalyticsError> {
    let find = |cols: &[(String, DataType)], name: &str| {
        cols.iter().find(|(n, _)| n == name).map(|(_, t)| t.clone())
    };
    let mut skipped = BTreeMap::new();
    let mut chosen: Vec<(String, DataType, DataType, bool)> = Vec::new();
    match &req.columns {
        Some(cols) => {
            if cols.is_empty() {
                return Err(input("the list of columns to compare is empty"));
            }
            let mut seen = BTreeSet::new();
            for name in cols {
                if !seen.insert(name.as_str()) {
                    continue;
                }
                let r = find(reference, name).ok_or_else(|| {
                    input(format!(
                        "column '{name}' not found in the reference data ({})",
                        req.reference
                    ))
                })?;
                let c = find(current, name).ok_or_else(|| {
                    input(format!(
                        "column '{name}' not found in the current data ({})",
                        req.current
                    ))
                })?;
                chosen.push((name.clone(), r, c, true));
            }
        }
        None => {
            for (name, r) in reference {
                match find(current, name) {
                    Some(c) => chosen.push((name.clone(), r.clone(), c, false)),
                    None => {
                        skipped.insert(name.clone(), "only in the reference data".to_string());
                    }
                }
            }
            for (name, _) in current {
                if find(reference, name).is_none() {
                    skipped.insert(name.clone(), "only in the current data".to_string());
                }
            }
        }
    }
    let mut plans = Vec::new();
    for (name, rt, ct, requested) in chosen {
        let class = match (classify(&rt), classify(&ct)) {
            (Err(why), _) | (_, Err(why)) => {
                skipped.insert(name, why);
                continue;
            }
            (Ok(a), Ok(b)) if a == b => a,
            (Ok(Class::Int | Class::Float), Ok(Class::Int | Class::Float)) => Class::Float,
            (Ok(a), Ok(b)) => {
                let why = format!(
                    "type mismatch: {} in the reference, {} in the current data",
                    a.name(),
                    b.name()
                );
                if requested {
                    return Err(input(format!("column '{name}': {why}")));
                }
                skipped.insert(name, why);
                continue;
            }
        };
        let test = req.stattest.get(&name).copied();
        let mut kind = None;
        if let Some(t @ (StatTest::Ks | StatTest::Wasserstein)) = test {
            match class {
                Class::Float | Class::Int => kind = Some(ColumnKind::Numeric),
                Class::Bool | Class::Str => {
                    return Err(input(format!(
                        "column '{name}': the {t} test needs numeric data, but the column holds {} values",
                        class.name()
                    )));
                }
            }
        }
        let threshold = req.threshold.get(&name).copied();
        plans.push(Plan {
            name,
            class,
            requested,
            options: ColumnOptions {
                kind,
                test,
                threshold,
            },
        });
    }
    for (what, keys) in [
        ("stattest", req.stattest.keys().collect::<Vec<_>>()),
        ("threshold", req.threshold.keys().collect()),
    ] {
        for key in keys {
            if !plans.iter().any(|p| &p.name == key) {
                let why = match skipped.get(key) {
                    Some(why) => format!("it is skipped: {why}"),
                    None => "it is not in the data".to_string(),
                };
                return Err(input(format!(
                    "{what} given for column '{key}', which is not compared ({why})"
                )));
            }
        }
    }
    Ok((plans, skipped))
}

fn fields(df: &DataFrame) -> Vec<(String, DataType)> {
    df.schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect()
}

/// Reads one column of one side (a projection) as its arrays.
async fn read_column(
    df: &DataFrame,
    name: &str,
    side: Which,
) -> Result<Vec<ArrayRef>, AnalyticsError> {
    let batches = df
        .clone()
        .select_columns(&[name])
        .map_err(AnalyticsError::from)?
        .collect()
        .await
        .map_err(|e| {
            AnalyticsError::Execution(format!("reading column '{name}' of the {side} data: {e}"))
        })?;
    Ok(batches.iter().map(|b| Arc::clone(b.column(0))).collect())
}

/// Converted values of one side of a column (strings borrow from `arrays`).
enum Values {
    Float(Vec<f64>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Str(Vec<ArrayRef>),
}

fn convert(arrays: &[ArrayRef], class: Class, name: &str) -> Result<Values, AnalyticsError> {
    let arrow_err =
        |e: datafusion::arrow::error::ArrowError| input(format!("column '{name}': {e}"));
    Ok(match class {
        Class::Float => {
            let mut v = Vec::new();
            for a in arrays {
                let f = cast(a, &DataType::Float64).map_err(arrow_err)?;
                v.extend(
                    f.as_primitive::<Float64Type>()
                        .iter()
                        .map(|x| x.unwrap_or(f64::NAN)),
                );
            }
            Values::Float(v)
        }
        Class::Int => {
            let strict = CastOptions {
                safe: false,
                ..Default::default()
            };
            let mut v = Vec::new();
            for a in arrays {
                let i = cast_with_options(a, &DataType::Int64, &strict).map_err(arrow_err)?;
                v.extend(i.as_primitive::<Int64Type>().iter());
            }
            Values::Int(v)
        }
        Class::Bool => Values::Bool(arrays.iter().flat_map(|a| a.as_boolean().iter()).collect()),
        Class::Str => Values::Str(
            arrays
                .iter()
                .map(|a| cast(a, &DataType::Utf8))
                .collect::<Result<_, _>>()
                .map_err(arrow_err)?,
        ),
    })
}

fn strs(arrays: &[ArrayRef]) -> Vec<Option<&str>> {
    arrays
        .iter()
        .flat_map(|a| a.as_string::<i32>().iter())
        .collect()
}

fn compute_column(
    rt: &tokio::runtime::Runtime,
    reference: &DataFrame,
    current: &DataFrame,
    plan: &Plan,
) -> Outcome {
    let name = plan.name.as_str();
    let read = rt.block_on(async {
        let r = read_column(reference, name, Which::Reference).await?;
        let c = read_column(current, name, Which::Current).await?;
        Ok::<_, AnalyticsError>((r, c))
    });
    let (r_arrays, c_arrays) = match read {
        Ok(x) => x,
        Err(e) => return Outcome::Failed(e),
    };
    // An integer column with a NULL in the current data is float64 for
    // pandas, hence numerical for Evidently: read both sides as floats.
    let class = if plan.class == Class::Int && c_arrays.iter().any(|a| a.null_count() > 0) {
        Class::Float
    } else {
        plan.class
    };
    let converted =
        convert(&r_arrays, class, name).and_then(|r| Ok((r, convert(&c_arrays, class, name)?)));
    let (rv, cv) = match converted {
        Ok(x) => x,
        Err(e) => return Outcome::Failed(e),
    };
    let (rs, cs);
    let (r, c) = match (&rv, &cv) {
        (Values::Float(r), Values::Float(c)) => (ColumnData::Float(r), ColumnData::Float(c)),
        (Values::Int(r), Values::Int(c)) => (ColumnData::Int(r), ColumnData::Int(c)),
        (Values::Bool(r), Values::Bool(c)) => (ColumnData::Bool(r), ColumnData::Bool(c)),
        (Values::Str(r), Values::Str(c)) => {
            rs = strs(r);
            cs = strs(c);
            (ColumnData::Str(&rs), ColumnData::Str(&cs))
        }
        _ => {
            return Outcome::Failed(AnalyticsError::Execution(format!(
                "column '{name}': conversion mismatch"
            )));
        }
    };
    match column_drift(r, c, &plan.options) {
        Ok(res) => Outcome::Done(res),
        Err(DriftError::EmptyInput { side }) if !plan.requested => Outcome::Skipped(format!(
            "no values in the {side} data (all null, NaN or infinite)"
        )),
        Err(DriftError::EmptyInput { side }) => Outcome::Failed(input(format!(
            "column '{name}': the {side} data has no values (all null, NaN or infinite)"
        ))),
        Err(e) => Outcome::Failed(input(format!("column '{name}': {e}"))),
    }
}

/// Computes every planned column on `threads` threads, one column per thread at a time.
fn compute_all(
    reference: &DataFrame,
    current: &DataFrame,
    plans: &[Plan],
    threads: usize,
) -> Result<Vec<Outcome>, AnalyticsError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let per_thread: Vec<Result<Vec<(usize, Outcome)>, AnalyticsError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| {
                            AnalyticsError::Execution(format!("cannot start a worker runtime: {e}"))
                        })?;
                    let mut done = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(plan) = plans.get(i) else { break };
                        let out = compute_column(&rt, reference, current, plan);
                        if matches!(out, Outcome::Failed(_)) {
                            failed.store(true, Ordering::Relaxed);
                        }
                        done.push((i, out));
                    }
                    Ok(done)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(AnalyticsError::Execution("a drift worker panicked".into()))
                })
            })
            .collect()
    });
    let mut slots: Vec<Option<Outcome>> = plans.iter().map(|_| None).collect();
    for r in per_thread {
        for (i, out) in r? {
            slots[i] = Some(out);
        }
    }
    // The first failure in column order (deterministic), if any.
    let mut outcomes = Vec::with_capacity(plans.len());
    for slot in slots {
        match slot {
            Some(Outcome::Failed(e)) => return Err(e),
            Some(o) => outcomes.push(o),
            None => {
                return Err(AnalyticsError::Execution(
                    "a column was not computed".into(),
                ));
            }
        }
    }
    Ok(outcomes)
}

/// Computes the drift report of `req` (see the module docs for inputs,
/// column selection, parallelism and memory).
pub async fn run_drift_report(req: &DriftRequest) -> Result<DriftReport, AnalyticsError> {
    if !(0.0..=1.0).contains(&req.drift_share) {
        return Err(input(format!(
            "drift_share must be within [0, 1], got {}",
            req.drift_share
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
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(plans.len())
        .max(1);
    let plans = Arc::new(plans);
    let worker_plans = Arc::clone(&plans);
    let outcomes = tokio::task::spawn_blocking(move || {
        compute_all(&reference, &current, &worker_plans, threads)
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
