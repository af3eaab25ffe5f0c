//! The per-column computation: worker threads take the planned columns one at
//! a time, read that column of both sides (a projection), convert it and run
//! [`column_drift`]; peak memory is one column per thread.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::compute::{CastOptions, cast, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::dataframe::DataFrame;
use feedloop_analytics::AnalyticsError;
use feedloop_drift::{ColumnData, ColumnDriftResult, DriftError, column_drift};

use crate::input::{Which, input, read_column};
use crate::plan::{Class, Plan};

/// What became of one planned column.
pub(crate) enum Outcome {
    Done(ColumnDriftResult),
    Skipped(String),
    Failed(AnalyticsError),
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
pub(crate) fn compute_all(
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
