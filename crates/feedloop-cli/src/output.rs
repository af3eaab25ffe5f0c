//! Printing query results as a table, CSV or JSON.

use crate::cli::OutputFormat;
use arrow::array::{Array, ArrayRef, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use std::io::Write;
use std::sync::Arc;

/// Writes `batches` to `out` in `format`.
pub fn write_batches(
    out: &mut impl Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: OutputFormat,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Table => {
            let table = if batches.is_empty() {
                arrow::util::pretty::pretty_format_batches(&[RecordBatch::new_empty(Arc::clone(
                    schema,
                ))])?
            } else {
                arrow::util::pretty::pretty_format_batches(batches)?
            };
            writeln!(out, "{table}")?;
        }
        OutputFormat::Csv => {
            let flat_schema = flat(schema);
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            if batches.is_empty() {
                // Still print the header line.
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                drop(w);
                writeln!(out, "{}", names.join(","))?;
            } else {
                for b in batches {
                    w.write(&flatten(b, &flat_schema)?)?;
                }
            }
        }
        OutputFormat::Json => {
            let mut w = arrow::json::ArrayWriter::new(&mut *out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
            drop(w);
            if batches.is_empty() {
                write!(out, "[]")?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

fn is_nested(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Map(..)
            | DataType::Struct(_)
            | DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(..)
            | DataType::ListView(_)
            | DataType::Union(..)
    )
}

fn flat(schema: &SchemaRef) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| {
                if is_nested(f.data_type()) {
                    Field::new(f.name(), DataType::Utf8, true)
                } else {
                    f.as_ref().clone()
                }
            })
            .collect::<Vec<_>>(),
    ))
}

/// CSV cannot hold nested values: render them as text (`{a: 1, b: x}`).
fn flatten(batch: &RecordBatch, schema: &SchemaRef) -> anyhow::Result<RecordBatch> {
    let opts = FormatOptions::default();
    let cols: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| -> anyhow::Result<ArrayRef> {
            if !is_nested(c.data_type()) {
                return Ok(Arc::clone(c));
            }
            let f = ArrayFormatter::try_new(c.as_ref(), &opts)?;
            let mut b = StringBuilder::new();
            for i in 0..c.len() {
                if c.is_null(i) {
                    b.append_null();
                } else {
                    b.append_value(f.value(i).to_string());
                }
            }
            Ok(Arc::new(b.finish()))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), cols)?)
}
