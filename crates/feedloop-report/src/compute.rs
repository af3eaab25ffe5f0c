//! The per-column computation: worker threads take the planned columns one at
//! a time, read that column of both sides (a projection), convert it and run
//! [`column_drift_values`]; peak memory is one column per thread.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use std::collections::HashMap;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::{CastOptions, cast, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use feedloop_analytics::AnalyticsError;
use feedloop_drift::{ColumnDriftResult, ColumnValues, DriftError, column_drift_values};

use crate::input::{Columns, Which, input};
use crate::local_parquet::string_dictionary;
use crate::plan::{Class, Plan};

/// What became of one planned column.
pub(crate) enum Outcome {
    Done(ColumnDriftResult),
    Skipped(String),
    Failed(AnalyticsError),
}

/// One side of a column as read: numbers and booleans ready for the
/// statistics, strings as their arrays (which the string counts borrow).
enum Values {
    Ready(ColumnValues<'static>),
    Str(Vec<ArrayRef>),
}

/// Converts the arrays of one side, dropping each array once it is copied
/// (so a column is held once as Arrow and once as a vector only briefly).
fn convert(arrays: Vec<ArrayRef>, class: Class, name: &str) -> Result<Values, AnalyticsError> {
    let arrow_err =
        |e: datafusion::arrow::error::ArrowError| input(format!("column '{name}': {e}"));
    let rows: usize = arrays.iter().map(|a| a.len()).sum();
    Ok(match class {
        Class::Float => {
            let mut v = Vec::with_capacity(rows);
            for a in arrays {
                let f = cast(&a, &DataType::Float64).map_err(arrow_err)?;
                let f = f.as_primitive::<Float64Type>();
                if f.null_count() == 0 {
                    v.extend_from_slice(f.values());
                } else {
                    v.extend(f.iter().map(|x| x.unwrap_or(f64::NAN)));
                }
            }
            Values::Ready(ColumnValues::Float(v))
        }
        Class::Int => {
            let strict = CastOptions {
                safe: false,
                ..Default::default()
            };
            let mut v = Vec::with_capacity(rows);
            for a in arrays {
                let i = cast_with_options(&a, &DataType::Int64, &strict).map_err(arrow_err)?;
                let i = i.as_primitive::<Int64Type>();
                if i.null_count() == 0 {
                    v.extend_from_slice(i.values());
                } else {
                    v.extend(i.iter().flatten());
                }
            }
            Values::Ready(ColumnValues::Int(v))
        }
        Class::Bool => {
            let (mut falses, mut trues) = (0u64, 0u64);
            for a in &arrays {
                let b = a.as_boolean();
                let t = b.true_count() as u64;
                trues += t;
                falses += (b.len() - b.null_count()) as u64 - t;
            }
            Values::Ready(ColumnValues::Bool { falses, trues })
        }
        Class::Str => Values::Str(
            arrays
                .iter()
                .map(|a| match a.data_type() {
                    DataType::Dictionary(..) => cast(a, &string_dictionary()),
                    _ => cast(a, &DataType::Utf8),
                })
                .collect::<Result<_, _>>()
                .map_err(arrow_err)?,
        ),
    })
}

/// Counts of the non-null strings of `arrays` (dictionaries counted by key,
/// plain strings by hashing); a string may appear once per array.
fn string_counts(arrays: &[ArrayRef]) -> Vec<(&str, u64)> {
    let mut out = Vec::new();
    let mut plain: HashMap<&str, u64> = HashMap::new();
    for a in arrays {
        if let Some(dict) = a.as_dictionary_opt::<Int32Type>() {
            let values = dict.values().as_string::<i32>();
            let mut counts = vec![0u64; values.len()];
            let keys = dict.keys();
            let mut count = |k: i32| {
                if let Some(c) = usize::try_from(k).ok().and_then(|k| counts.get_mut(k)) {
                    *c += 1;
                }
            };
            if keys.null_count() == 0 {
                keys.values().iter().for_each(|&k| count(k));
            } else {
                keys.iter().flatten().for_each(count);
            }
            out.extend(
                counts
                    .into_iter()
                    .enumerate()
                    .filter(|&(i, n)| n > 0 && values.is_valid(i))
                    .map(|(i, n)| (values.value(i), n)),
            );
        } else {
            for s in a.as_string::<i32>().iter().flatten() {
                *plain.entry(s).or_default() += 1;
            }
        }
    }
    out.extend(plain);
    out
}

fn compute_column(
    rt: &tokio::runtime::Runtime,
    reference: &Columns,
    current: &Columns,
    plan: &Plan,
) -> Outcome {
    let name = plan.name.as_str();
    let read = reference
        .read_column(rt, name, Which::Reference)
        .and_then(|r| Ok((r, current.read_column(rt, name, Which::Current)?)));
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
        convert(r_arrays, class, name).and_then(|r| Ok((r, convert(c_arrays, class, name)?)));
    let (rv, cv) = match converted {
        Ok(x) => x,
        Err(e) => return Outcome::Failed(e),
    };
    let result = match (rv, cv) {
        (Values::Ready(r), Values::Ready(c)) => column_drift_values(r, c, &plan.options),
        (Values::Str(r), Values::Str(c)) => column_drift_values(
            ColumnValues::Str(string_counts(&r)),
            ColumnValues::Str(string_counts(&c)),
            &plan.options,
        ),
        _ => {
            return Outcome::Failed(AnalyticsError::Execution(format!(
                "column '{name}': conversion mismatch"
            )));
        }
    };
    match result {
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
pub(crate) fn compute_all(
    reference: &Columns,
    current: &Columns,
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
