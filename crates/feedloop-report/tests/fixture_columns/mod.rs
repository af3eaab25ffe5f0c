//! The drift crate's fixture columns (`crates/feedloop-drift/tests/fixtures/columns.json`),
//! and writing them as Parquet and CSV, for `drift_report.rs`.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use serde_json::Value;

#[path = "../../../../tests/support/fixture_values.rs"]
mod fixture_values;
use fixture_values::decode_f64;

/// One side of one fixture column.
#[derive(Debug, Clone)]
pub enum Col {
    Float(Vec<f64>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Str(Vec<Option<String>>),
}

impl Col {
    pub fn len(&self) -> usize {
        match self {
            Col::Float(v) => v.len(),
            Col::Int(v) => v.len(),
            Col::Bool(v) => v.len(),
            Col::Str(v) => v.len(),
        }
    }

    /// Arrow array padded with nulls to `n` rows (NaN floats become nulls).
    pub fn to_arrow(&self, n: usize) -> ArrayRef {
        let pad = n - self.len();
        match self {
            Col::Float(v) => Arc::new(Float64Array::from_iter(
                v.iter()
                    .map(|&x| if x.is_nan() { None } else { Some(x) })
                    .chain(std::iter::repeat_n(None, pad)),
            )),
            Col::Int(v) => Arc::new(Int64Array::from_iter(
                v.iter().copied().chain(std::iter::repeat_n(None, pad)),
            )),
            Col::Bool(v) => Arc::new(BooleanArray::from_iter(
                v.iter().copied().chain(std::iter::repeat_n(None, pad)),
            )),
            Col::Str(v) => Arc::new(StringArray::from_iter(
                v.iter().cloned().chain(std::iter::repeat_n(None, pad)),
            )),
        }
    }

    pub fn data_type(&self) -> DataType {
        match self {
            Col::Float(_) => DataType::Float64,
            Col::Int(_) => DataType::Int64,
            Col::Bool(_) => DataType::Boolean,
            Col::Str(_) => DataType::Utf8,
        }
    }

    /// CSV field of row `i` (empty = null); floats in Rust's round-trip format.
    pub fn csv_field(&self, i: usize) -> String {
        match self {
            Col::Float(v) => v
                .get(i)
                .filter(|x| !x.is_nan())
                .map(|x| format!("{x:?}"))
                .unwrap_or_default(),
            Col::Int(v) => v
                .get(i)
                .copied()
                .flatten()
                .map(|x| x.to_string())
                .unwrap_or_default(),
            Col::Bool(v) => v
                .get(i)
                .copied()
                .flatten()
                .map(|x| x.to_string())
                .unwrap_or_default(),
            Col::Str(v) => v.get(i).cloned().flatten().unwrap_or_default(),
        }
    }
}

/// One fixture case of `crates/feedloop-drift/tests/fixtures/columns.json`.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub reference: Col,
    pub current: Col,
    pub expected: Value,
}

fn decode(ty: &str, v: &Value) -> Col {
    let arr = || v.as_array().expect("array");
    match ty {
        "float" => Col::Float(decode_f64(v)),
        "int" => Col::Int(arr().iter().map(|x| x.as_i64()).collect()),
        "bool" => Col::Bool(arr().iter().map(|x| x.as_bool()).collect()),
        "str" => Col::Str(
            arr()
                .iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect(),
        ),
        t => panic!("type {t}"),
    }
}

pub fn fixture_cases() -> Vec<Case> {
    let path = format!(
        "{}/../feedloop-drift/tests/fixtures/columns.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture file");
    let cases: Value = serde_json::from_str(&text).expect("fixture json");
    cases
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let ty = c["type"].as_str().expect("type");
            Case {
                name: c["name"].as_str().expect("name").to_string(),
                reference: decode(ty, &c["reference"]),
                current: decode(ty, &c["current"]),
                expected: c["expected"].clone(),
            }
        })
        .collect()
}

/// Writes named columns (padded with nulls to the longest) as one Parquet file.
pub fn write_parquet(path: &Path, cols: &[(&str, &Col)]) {
    write_parquet_arrays(
        path,
        &cols
            .iter()
            .map(|(n, c)| (*n, c.to_arrow(max_len(cols))))
            .collect::<Vec<_>>(),
    );
}

pub fn write_parquet_arrays(path: &Path, cols: &[(&str, ArrayRef)]) {
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        cols.iter().map(|(_, a)| Arc::clone(a)).collect(),
    )
    .expect("batch");
    let file = std::fs::File::create(path).expect("create parquet");
    let mut w = ArrowWriter::try_new(file, schema, None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

fn max_len(cols: &[(&str, &Col)]) -> usize {
    cols.iter().map(|(_, c)| c.len()).max().unwrap_or(0)
}

/// Writes named columns (padded with empty fields) as a CSV file with a header.
pub fn write_csv(path: &Path, cols: &[(&str, &Col)]) {
    let n = max_len(cols);
    let mut s = cols.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(",");
    s.push('\n');
    for i in 0..n {
        s.push_str(
            &cols
                .iter()
                .map(|(_, c)| c.csv_field(i))
                .collect::<Vec<_>>()
                .join(","),
        );
        s.push('\n');
    }
    std::fs::write(path, s).expect("write csv");
}

/// `|a − b| ≤ rtol·|b| + atol`; infinities must match exactly.
pub fn close(a: f64, b: f64, rtol: f64, atol: f64) -> bool {
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= rtol * b.abs() + atol
}

/// A JSON float that may be the string "inf".
pub fn jf(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        Value::String(s) if s == "nan" => f64::NAN,
        v => v.as_f64().unwrap_or_else(|| panic!("not a float: {v}")),
    }
}
