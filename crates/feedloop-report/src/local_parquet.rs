//! Reading one column of local Parquet files straight into Arrow arrays: each
//! file's footer is read once, then every column is a projection that decodes
//! only that column's chunks, batch by batch, with string columns kept as
//! dictionaries so they are counted by key.
//!
//! DataFusion reads the other inputs (CSV, object stores); for local Parquet
//! it would plan and run one query per column and side, and decode strings
//! into plain arrays, for no gain here.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, new_null_array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use feedloop_analytics::AnalyticsError;

use crate::side::{Which, input};

/// Rows per decoded batch: large enough that per-batch costs (a dictionary
/// count, a cast) vanish, small enough to stay in cache-sized pieces.
const BATCH_ROWS: usize = 64 * 1024;

/// The Parquet files of one side, with their footers.
pub(crate) struct LocalParquet {
    files: Vec<(PathBuf, ArrowReaderMetadata)>,
}

/// The type string columns are read as: a dictionary of UTF-8 values.
pub(crate) fn string_dictionary() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The reader's schema of a file: its own, with every string column read as
/// a dictionary (Parquet stores them dictionary-encoded; keeping the
/// dictionary means a column of strings is counted by integer key).
fn dictionary_strings(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                f.as_ref().clone().with_data_type(string_dictionary())
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

impl LocalParquet {
    /// Reads the footer of every file of the input.
    pub(crate) fn open(paths: &[PathBuf], side: Which) -> Result<Self, AnalyticsError> {
        let mut files = Vec::with_capacity(paths.len());
        for p in paths.iter().cloned() {
            let bad = |e: &dyn std::fmt::Display| {
                input(format!(
                    "cannot read {side} input {}: {e}",
                    p.to_string_lossy()
                ))
            };
            let file = File::open(&p).map_err(|e| bad(&e))?;
            let plain =
                ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| bad(&e))?;
            let schema = Arc::new(dictionary_strings(plain.schema()));
            let meta = ArrowReaderMetadata::try_new(
                Arc::clone(plain.metadata()),
                ArrowReaderOptions::new().with_schema(schema),
            )
            .map_err(|e| bad(&e))?;
            files.push((p, meta));
        }
        Ok(Self { files })
    }

    /// Hands column `name` to `f` one decoded batch (at most [`BATCH_ROWS`]
    /// rows) at a time, so that only one batch is held. A file without the
    /// column contributes nulls for its rows, as a table over the folder
    /// would: null batches, after the others.
    pub(crate) fn for_each_batch(
        &self,
        name: &str,
        side: Which,
        f: &mut dyn FnMut(&ArrayRef) -> Result<(), AnalyticsError>,
    ) -> Result<(), AnalyticsError> {
        let mut absent_rows = 0usize;
        let mut seen_type = None;
        for (path, meta) in &self.files {
            let failed = |e: &dyn std::fmt::Display| {
                AnalyticsError::Execution(format!(
                    "reading column '{name}' of the {side} data ({}): {e}",
                    path.to_string_lossy()
                ))
            };
            let Some(index) = meta.schema().index_of(name).ok() else {
                absent_rows += meta.metadata().file_metadata().num_rows().max(0) as usize;
                continue;
            };
            seen_type.get_or_insert_with(|| meta.schema().field(index).data_type().clone());
            let file = File::open(path).map_err(|e| failed(&e))?;
            let mask = ProjectionMask::roots(meta.parquet_schema(), [index]);
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta.clone())
                .with_projection(mask)
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(|e| failed(&e))?;
            for batch in reader {
                let batch = batch.map_err(|e| failed(&e))?;
                f(batch.column(0))?;
            }
        }
        if absent_rows > 0 {
            let t = seen_type.unwrap_or(DataType::Null);
            while absent_rows > 0 {
                let rows = absent_rows.min(BATCH_ROWS);
                f(&new_null_array(&t, rows))?;
                absent_rows -= rows;
            }
        }
        Ok(())
    }
}
