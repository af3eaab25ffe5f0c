//! The two inputs of a report: a local path, a `file://` URL or an
//! object-store URL, resolved to a Parquet file, a folder of Parquet files or a
//! CSV file, opened as a DataFrame, and read one column at a time: whole, or
//! handed over batch by batch (sketch mode).

use std::path::Path as FsPath;
use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions};
use feedloop_analytics::AnalyticsError;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;

use crate::local_parquet::LocalParquet;

pub(crate) use crate::side::{Which, input};

fn is_csv(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".csv")
}

/// A resolved input: where DataFusion reads it and in which format.
pub(crate) struct Source {
    location: String,
    csv: bool,
    single_file: bool,
    /// The files of a local Parquet input (a file, or every `.parquet` file
    /// of a folder), read column by column without DataFusion.
    local_parquet: Option<Vec<std::path::PathBuf>>,
}

/// Every `.parquet` file under `dir`, recursively, in path order.
fn parquet_files(dir: &FsPath, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            parquet_files(&path, out)?;
        } else if entry.file_name().to_string_lossy().ends_with(".parquet") {
            out.push(path);
        }
    }
    Ok(())
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
        let mut files = Vec::new();
        parquet_files(path, &mut files)
            .map_err(|e| input(format!("cannot list {side} folder {given}: {e}")))?;
        if files.is_empty() {
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
            local_parquet: Some(files),
        })
    } else {
        if meta.len() == 0 {
            return Err(input(format!("{side} input {given} is an empty file")));
        }
        let csv = is_csv(given);
        Ok(Source {
            csv,
            location: abs,
            single_file: true,
            local_parquet: (!csv).then(|| vec![path.to_path_buf()]),
        })
    }
}

pub(crate) async fn resolve(
    ctx: &SessionContext,
    given: &str,
    side: Which,
) -> Result<Source, AnalyticsError> {
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
                local_parquet: None,
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
            local_parquet: None,
        })
    }
}

pub(crate) async fn open(
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

/// The columns of an input and their Arrow types.
pub(crate) fn fields(df: &DataFrame) -> Vec<(String, DataType)> {
    df.schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect()
}

/// Where the columns of one side are read from.
pub(crate) enum Columns {
    /// Local Parquet: the parquet crate, footers read once.
    Local(LocalParquet),
    /// CSV and object-store inputs: DataFusion.
    Frame(DataFrame),
}

impl Columns {
    /// The reader of a resolved and opened input.
    pub(crate) fn new(src: &Source, df: DataFrame, side: Which) -> Result<Self, AnalyticsError> {
        Ok(match &src.local_parquet {
            Some(files) => Columns::Local(LocalParquet::open(files, side)?),
            None => Columns::Frame(df),
        })
    }

    /// Every row of column `name` (a projection), as arrays.
    pub(crate) fn read_column(
        &self,
        rt: &tokio::runtime::Runtime,
        name: &str,
        side: Which,
    ) -> Result<Vec<ArrayRef>, AnalyticsError> {
        let mut arrays = Vec::new();
        self.for_each_batch(rt, name, side, &mut |a| {
            arrays.push(Arc::clone(a));
            Ok(())
        })?;
        Ok(arrays)
    }

    /// Hands every row of column `name` (a projection) to `f`, one batch at a
    /// time: only the batch being handed over is held.
    pub(crate) fn for_each_batch(
        &self,
        rt: &tokio::runtime::Runtime,
        name: &str,
        side: Which,
        f: &mut dyn FnMut(&ArrayRef) -> Result<(), AnalyticsError>,
    ) -> Result<(), AnalyticsError> {
        match self {
            Columns::Local(files) => files.for_each_batch(name, side, f),
            Columns::Frame(df) => rt.block_on(stream_column(df, name, side, f)),
        }
    }
}

/// Streams one column of one side (a projection) batch by batch into `f`.
async fn stream_column(
    df: &DataFrame,
    name: &str,
    side: Which,
    f: &mut dyn FnMut(&ArrayRef) -> Result<(), AnalyticsError>,
) -> Result<(), AnalyticsError> {
    let failed = |e: datafusion::error::DataFusionError| {
        AnalyticsError::Execution(format!("reading column '{name}' of the {side} data: {e}"))
    };
    let mut stream = df
        .clone()
        .select_columns(&[name])
        .map_err(AnalyticsError::from)?
        .execute_stream()
        .await
        .map_err(failed)?;
    while let Some(batch) = stream.next().await {
        f(batch.map_err(failed)?.column(0))?;
    }
    Ok(())
}
