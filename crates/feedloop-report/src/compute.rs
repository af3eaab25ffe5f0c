//! The per-column computation: worker threads take the planned columns one at
//! a time and compute each from both sides (a projection each). Exact mode
//! reads the whole column, converts it and runs [`column_drift_values`]: peak
//! memory is one column per thread. Sketch mode hands the column over batch
//! by batch into a [`NumericSketch`] (numbers) or counts (booleans, strings)
//! and runs [`column_drift_sketched`]: peak memory is one batch per thread,
//! plus the sketches and the distinct strings' counts.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use std::collections::HashMap;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::{CastOptions, cast, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use feedloop_analytics::AnalyticsError;
use feedloop_drift::{
    ColumnDriftResult, ColumnValues, DriftError, NumericSketch, column_drift_sketched,
    column_drift_values,
};

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

fn arrow_error(name: &str) -> impl Fn(datafusion::arrow::error::ArrowError) -> AnalyticsError {
    move |e| input(format!("column '{name}': {e}"))
}

/// An array of a float column as Float64.
fn float64(a: &ArrayRef, name: &str) -> Result<ArrayRef, AnalyticsError> {
    cast(a, &DataType::Float64).map_err(arrow_error(name))
}

/// An array of an integer column as Int64 (a value that does not fit, a
/// UInt64 past `i64::MAX`, is an error rather than a null).
fn int64(a: &ArrayRef, name: &str) -> Result<ArrayRef, AnalyticsError> {
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    cast_with_options(a, &DataType::Int64, &strict).map_err(arrow_error(name))
}

/// An array of a string column as plain UTF-8, or a dictionary of it.
fn utf8(a: &ArrayRef, name: &str) -> Result<ArrayRef, AnalyticsError> {
    match a.data_type() {
        DataType::Dictionary(..) => cast(a, &string_dictionary()),
        _ => cast(a, &DataType::Utf8),
    }
    .map_err(arrow_error(name))
}

/// `(falses, trues)` of a boolean array.
fn bool_counts(a: &ArrayRef) -> (u64, u64) {
    let b = a.as_boolean();
    let t = b.true_count() as u64;
    ((b.len() - b.null_count()) as u64 - t, t)
}

/// Converts the arrays of one side, dropping each array once it is copied
/// (so a column is held once as Arrow and once as a vector only briefly).
fn convert(arrays: Vec<ArrayRef>, class: Class, name: &str) -> Result<Values, AnalyticsError> {
    let rows: usize = arrays.iter().map(|a| a.len()).sum();
    Ok(match class {
        Class::Float => {
            let mut v = Vec::with_capacity(rows);
            for a in arrays {
                let f = float64(&a, name)?;
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
            let mut v = Vec::with_capacity(rows);
            for a in arrays {
                let i = int64(&a, name)?;
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
                let (f, t) = bool_counts(a);
                falses += f;
                trues += t;
            }
            Values::Ready(ColumnValues::Bool { falses, trues })
        }
        Class::Str => Values::Str(
            arrays
                .iter()
                .map(|a| utf8(a, name))
                .collect::<Result<_, _>>()?,
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
    outcome(result, plan)
}

/// A drift result as the column's outcome: a column with no value on one
/// side is skipped when it was not asked for, an error when it was.
fn outcome(result: Result<ColumnDriftResult, DriftError>, plan: &Plan) -> Outcome {
    let name = plan.name.as_str();
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

/// One side of a column summarised batch by batch (sketch mode).
enum Summary {
    /// Floats or integers (nulls counted as dropped).
    Num(Box<NumericSketch>),
    Bool {
        falses: u64,
        trues: u64,
    },
    /// Each distinct string with its count.
    Str(HashMap<String, u64>),
}

/// Reads one side of a column batch by batch into its summary.
fn summarise(
    rt: &tokio::runtime::Runtime,
    columns: &Columns,
    plan: &Plan,
    side: Which,
    k: u16,
) -> Result<Summary, AnalyticsError> {
    let name = plan.name.as_str();
    let sketch_error = |e: DriftError| input(format!("column '{name}': {e}"));
    let mut summary = match plan.class {
        Class::Float => Summary::Num(Box::new(NumericSketch::new(k).map_err(sketch_error)?)),
        Class::Int => Summary::Num(Box::new(NumericSketch::integers(k).map_err(sketch_error)?)),
        Class::Bool => Summary::Bool {
            falses: 0,
            trues: 0,
        },
        Class::Str => Summary::Str(HashMap::new()),
    };
    // Reused for the non-null values of a batch with nulls.
    let mut floats: Vec<f64> = Vec::new();
    let mut ints: Vec<i64> = Vec::new();
    columns.for_each_batch(rt, name, side, &mut |a| {
        match &mut summary {
            Summary::Num(s) if plan.class == Class::Float => {
                let f = float64(a, name)?;
                let f = f.as_primitive::<Float64Type>();
                if f.null_count() == 0 {
                    s.update_slice(f.values());
                } else {
                    floats.clear();
                    floats.extend(f.iter().flatten());
                    s.update_slice(&floats);
                    s.add_nulls(f.null_count() as u64);
                }
            }
            Summary::Num(s) => {
                let i = int64(a, name)?;
                let i = i.as_primitive::<Int64Type>();
                if i.null_count() == 0 {
                    s.update_integers(i.values());
                } else {
                    ints.clear();
                    ints.extend(i.iter().flatten());
                    s.update_integers(&ints);
                    s.add_nulls(i.null_count() as u64);
                }
            }
            Summary::Bool { falses, trues } => {
                let (f, t) = bool_counts(a);
                *falses += f;
                *trues += t;
            }
            Summary::Str(counts) => {
                let strings = [utf8(a, name)?];
                for (s, n) in string_counts(&strings) {
                    match counts.get_mut(s) {
                        Some(c) => *c += n,
                        None => {
                            counts.insert(s.to_owned(), n);
                        }
                    }
                }
            }
        }
        Ok(())
    })?;
    Ok(summary)
}

/// Sketch mode: both sides of a column summarised batch by batch, numbers
/// compared by [`column_drift_sketched`], counts by [`column_drift_values`].
fn sketch_column(
    rt: &tokio::runtime::Runtime,
    reference: &Columns,
    current: &Columns,
    plan: &Plan,
    k: u16,
) -> Outcome {
    let read = summarise(rt, reference, plan, Which::Reference, k)
        .and_then(|r| Ok((r, summarise(rt, current, plan, Which::Current, k)?)));
    let result = match read {
        Err(e) => return Outcome::Failed(e),
        Ok((Summary::Num(r), Summary::Num(c))) => {
            // As in exact mode: an integer column with a NULL in the current
            // data is compared as floats.
            if r.is_integer() && c.dropped() > 0 {
                column_drift_sketched(&r.into_floats(), &c.into_floats(), &plan.options)
            } else {
                column_drift_sketched(&r, &c, &plan.options)
            }
        }
        Ok((
            Summary::Bool {
                falses: rf,
                trues: rt,
            },
            Summary::Bool {
                falses: cf,
                trues: ct,
            },
        )) => column_drift_values(
            ColumnValues::Bool {
                falses: rf,
                trues: rt,
            },
            ColumnValues::Bool {
                falses: cf,
                trues: ct,
            },
            &plan.options,
        ),
        Ok((Summary::Str(r), Summary::Str(c))) => {
            fn counts(m: &HashMap<String, u64>) -> Vec<(&str, u64)> {
                m.iter().map(|(s, n)| (s.as_str(), *n)).collect()
            }
            column_drift_values(
                ColumnValues::Str(counts(&r)),
                ColumnValues::Str(counts(&c)),
                &plan.options,
            )
        }
        Ok(_) => {
            return Outcome::Failed(AnalyticsError::Execution(format!(
                "column '{}': conversion mismatch",
                plan.name
            )));
        }
    };
    outcome(result, plan)
}

/// Computes every planned column on `threads` threads, one column per thread
/// at a time; `sketch` is the KLL size of sketch mode (`None`: exact).
pub(crate) fn compute_all(
    reference: &Columns,
    current: &Columns,
    plans: &[Plan],
    threads: usize,
    sketch: Option<u16>,
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
                        let out = match sketch {
                            None => compute_column(&rt, reference, current, plan),
                            Some(k) => sketch_column(&rt, reference, current, plan, k),
                        };
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
