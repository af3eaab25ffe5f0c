//! Which columns are compared, and how: each side's Arrow type mapped to a
//! class of [`ColumnData`](feedloop_drift::ColumnData), requested or common
//! columns chosen, skipped ones given a reason, forced tests and thresholds checked.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::arrow::datatypes::DataType;
use feedloop_analytics::AnalyticsError;
use feedloop_drift::{ColumnKind, ColumnOptions, StatTest};

use crate::input::input;
use crate::request::DriftRequest;

/// How a column's values become [`ColumnData`](feedloop_drift::ColumnData).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Float,
    Int,
    Bool,
    Str,
}

impl Class {
    pub(crate) fn name(self) -> &'static str {
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
pub(crate) struct Plan {
    pub(crate) name: String,
    pub(crate) class: Class,
    pub(crate) requested: bool,
    pub(crate) options: ColumnOptions,
}

/// Plans the columns: which are compared (and how), which are skipped (and why).
pub(crate) fn plan_columns(
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
