//! Drift statistics as DataFusion aggregate functions.
//!
//! [`register_drift_functions`] registers, on a [`SessionContext`]:
//!
//! | function | input | result |
//! |---|---|---|
//! | `ks_2samp(value, is_current)` | numeric | `STRUCT<statistic DOUBLE, p_value DOUBLE>` |
//! | `wasserstein(value, is_current)` | numeric | `DOUBLE` |
//! | `wasserstein_normed(value, is_current)` | numeric | `DOUBLE` |
//! | `psi(value, is_current)` | numeric or string | `DOUBLE` |
//! | `jensenshannon(value, is_current)` | numeric or string | `DOUBLE` |
//! | `chisquare(value, is_current)` | numeric or string | `STRUCT<statistic DOUBLE, p_value DOUBLE>` |
//!
//! `value` rows with `is_current = true` form the current sample, rows with
//! `is_current = false` the reference sample. Rows where either argument is
//! NULL are ignored, and so are NaN and ±infinity (as the drift crate's
//! `column_drift` does). The result is NULL when either sample is empty.
//!
//! Numeric input (any integer, unsigned, float or decimal type) is cast to
//! `DOUBLE` and binned for PSI / Jensen–Shannon / chi-squared with
//! Evidently's numeric binning ([`feedloop_drift::bin_numeric`]); string
//! input (`VARCHAR`, large or view strings, string dictionaries) is
//! categorical and binned by value ([`feedloop_drift::bin_by_value`]). To
//! treat a numeric column as categorical, cast it to `VARCHAR`.
//!
//! Each accumulator keeps both samples (its state is two lists) so that
//! partial aggregates can be merged ([`Accumulator::merge_batch`]); samples
//! are sorted before the statistic is computed, so the result does not
//! depend on how DataFusion partitioned the input.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, ListArray, StringArray, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err, plan_err};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use feedloop_drift as drift;

/// Which statistic an aggregate computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum DriftFn {
    Ks,
    Wasserstein,
    WassersteinNormed,
    Psi,
    JensenShannon,
    ChiSquare,
}

impl DriftFn {
    const ALL: [DriftFn; 6] = [
        DriftFn::Ks,
        DriftFn::Wasserstein,
        DriftFn::WassersteinNormed,
        DriftFn::Psi,
        DriftFn::JensenShannon,
        DriftFn::ChiSquare,
    ];

    fn name(self) -> &'static str {
        match self {
            DriftFn::Ks => "ks_2samp",
            DriftFn::Wasserstein => "wasserstein",
            DriftFn::WassersteinNormed => "wasserstein_normed",
            DriftFn::Psi => "psi",
            DriftFn::JensenShannon => "jensenshannon",
            DriftFn::ChiSquare => "chisquare",
        }
    }

    fn numeric_only(self) -> bool {
        matches!(
            self,
            DriftFn::Ks | DriftFn::Wasserstein | DriftFn::WassersteinNormed
        )
    }

    fn returns_struct(self) -> bool {
        matches!(self, DriftFn::Ks | DriftFn::ChiSquare)
    }
}

fn struct_fields() -> Fields {
    Fields::from(vec![
        Field::new("statistic", DataType::Float64, true),
        Field::new("p_value", DataType::Float64, true),
    ])
}

fn is_string(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_string(v),
        _ => false,
    }
}

/// One drift aggregate function.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DriftUdaf {
    func: DriftFn,
    signature: Signature,
}

impl DriftUdaf {
    fn new(func: DriftFn) -> Self {
        DriftUdaf {
            func,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for DriftUdaf {
    fn name(&self) -> &str {
        self.func.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.func.name();
        let [value, is_current] = arg_types else {
            return plan_err!(
                "{name}(value, is_current) takes 2 arguments, got {}",
                arg_types.len()
            );
        };
        let value = if value.is_numeric() || *value == DataType::Null {
            DataType::Float64
        } else if is_string(value) {
            if self.func.numeric_only() {
                return plan_err!(
                    "{name} needs a numeric value, got {value} (it has no categorical form)"
                );
            }
            DataType::Utf8
        } else {
            return plan_err!("{name}: value must be numeric or a string, got {value}");
        };
        if !matches!(is_current, DataType::Boolean | DataType::Null) {
            return plan_err!("{name}: is_current must be BOOLEAN, got {is_current}");
        }
        Ok(vec![value, DataType::Boolean])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(if self.func.returns_struct() {
            DataType::Struct(struct_fields())
        } else {
            DataType::Float64
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let item = match args.input_fields.first().map(|f| f.data_type()) {
            Some(DataType::Utf8) => DataType::Utf8,
            _ => DataType::Float64,
        };
        let list = DataType::List(Arc::new(Field::new_list_field(item, true)));
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "reference"),
                list.clone(),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "current"),
                list,
                true,
            )),
        ])
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        match acc_args.expr_fields.first().map(|f| f.data_type()) {
            Some(DataType::Utf8) => Ok(Box::new(StrAccumulator {
                func: self.func,
                reference: vec![],
                current: vec![],
            })),
            Some(DataType::Float64) => Ok(Box::new(NumAccumulator {
                func: self.func,
                reference: vec![],
                current: vec![],
            })),
            other => exec_err!("{}: unexpected input type {other:?}", self.func.name()),
        }
    }
}

/// Registers `ks_2samp`, `wasserstein`, `wasserstein_normed`, `psi`,
/// `jensenshannon` and `chisquare` (see the module docs).
pub fn register_drift_functions(ctx: &SessionContext) {
    for f in DriftFn::ALL {
        ctx.register_udaf(AggregateUDF::new_from_impl(DriftUdaf::new(f)));
    }
}

fn drift_err(func: DriftFn, e: drift::DriftError) -> DataFusionError {
    DataFusionError::Execution(format!("{}: {e}", func.name()))
}

fn null_result(func: DriftFn) -> ScalarValue {
    if func.returns_struct() {
        ScalarValue::Struct(Arc::new(StructArray::new_null(struct_fields(), 1)))
    } else {
        ScalarValue::Float64(None)
    }
}

fn pair(statistic: f64, p_value: f64) -> ScalarValue {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(vec![statistic])),
        Arc::new(Float64Array::from(vec![p_value])),
    ];
    ScalarValue::Struct(Arc::new(StructArray::new(struct_fields(), columns, None)))
}

/// Statistics on binned counts (PSI, Jensen–Shannon, chi-squared), as `column_drift` computes them.
fn binned(func: DriftFn, bins: &drift::BinnedCounts) -> Result<ScalarValue> {
    let (rp, cp) = bins.proportions();
    let e = |e| drift_err(func, e);
    Ok(match func {
        DriftFn::Psi => ScalarValue::Float64(Some(
            drift::psi(&drift::fill_zeroes(&rp), &drift::fill_zeroes(&cp)).map_err(e)?,
        )),
        DriftFn::JensenShannon => {
            ScalarValue::Float64(Some(drift::jensenshannon(&rp, &cp).map_err(e)?))
        }
        DriftFn::ChiSquare => {
            let r = drift::chisquare_counts(bins).map_err(e)?;
            pair(r.statistic, r.p_value)
        }
        _ => return exec_err!("{} has no binned form", func.name()),
    })
}

fn one_list_state<A: Array + 'static>(values: A, item: DataType) -> ScalarValue {
    let n = values.len();
    let list = ListArray::new(
        Arc::new(Field::new_list_field(item, true)),
        OffsetBuffer::from_lengths([n]),
        Arc::new(values),
        None,
    );
    ScalarValue::List(Arc::new(list))
}

fn bool_arg(values: &[ArrayRef], func: DriftFn) -> Result<&datafusion::arrow::array::BooleanArray> {
    match values.get(1).and_then(|a| a.as_boolean_opt()) {
        Some(b) => Ok(b),
        None => exec_err!("{}: is_current must be a BOOLEAN array", func.name()),
    }
}

fn list_arg(states: &[ArrayRef], i: usize, func: DriftFn) -> Result<&ListArray> {
    match states.get(i).and_then(|a| a.as_list_opt::<i32>()) {
        Some(l) => Ok(l),
        None => exec_err!("{}: state {i} is not a list", func.name()),
    }
}

/// Accumulator of numeric samples.
#[derive(Debug)]
struct NumAccumulator {
    func: DriftFn,
    reference: Vec<f64>,
    current: Vec<f64>,
}

impl NumAccumulator {
    fn extend_from(dst: &mut Vec<f64>, values: &ArrayRef) -> Result<()> {
        let Some(v) = values.as_primitive_opt::<Float64Type>() else {
            return exec_err!(
                "drift state holds {} values, expected DOUBLE",
                values.data_type()
            );
        };
        dst.extend(v.iter().flatten().filter(|x| x.is_finite()));
        Ok(())
    }
}

impl Accumulator for NumAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(v) = values
            .first()
            .and_then(|a| a.as_primitive_opt::<Float64Type>())
        else {
            return exec_err!("{}: value must be a DOUBLE array", self.func.name());
        };
        let is_current = bool_arg(values, self.func)?;
        for (x, cur) in v.iter().zip(is_current.iter()) {
            match (x, cur) {
                (Some(x), Some(true)) if x.is_finite() => self.current.push(x),
                (Some(x), Some(false)) if x.is_finite() => self.reference.push(x),
                _ => {}
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            one_list_state(
                Float64Array::from(std::mem::take(&mut self.reference)),
                DataType::Float64,
            ),
            one_list_state(
                Float64Array::from(std::mem::take(&mut self.current)),
                DataType::Float64,
            ),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for (i, dst) in [&mut self.reference, &mut self.current]
            .into_iter()
            .enumerate()
        {
            let list = list_arg(states, i, self.func)?;
            for row in list.iter().flatten() {
                Self::extend_from(dst, &row)?;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let func = self.func;
        if self.reference.is_empty() || self.current.is_empty() {
            return Ok(null_result(func));
        }
        // Sorted samples: the result does not depend on partitioning or row order.
        self.reference.sort_unstable_by(f64::total_cmp);
        self.current.sort_unstable_by(f64::total_cmp);
        let (r, c) = (&self.reference[..], &self.current[..]);
        let e = |e| drift_err(func, e);
        match func {
            DriftFn::Ks => {
                let k = drift::ks_2samp(r, c).map_err(e)?;
                Ok(pair(k.statistic, k.p_value))
            }
            DriftFn::Wasserstein => Ok(ScalarValue::Float64(Some(
                drift::wasserstein_distance(r, c).map_err(e)?,
            ))),
            DriftFn::WassersteinNormed => Ok(ScalarValue::Float64(Some(
                drift::wasserstein_normed(r, c).map_err(e)?,
            ))),
            DriftFn::Psi | DriftFn::JensenShannon | DriftFn::ChiSquare => {
                binned(func, &drift::bin_numeric(r, c).map_err(e)?)
            }
        }
    }

    fn size(&self) -> usize {
        size_of_val(self) + (self.reference.capacity() + self.current.capacity()) * size_of::<f64>()
    }
}

/// Accumulator of categorical (string) samples.
#[derive(Debug)]
struct StrAccumulator {
    func: DriftFn,
    reference: Vec<String>,
    current: Vec<String>,
}

impl Accumulator for StrAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(v) = values.first().and_then(|a| a.as_string_opt::<i32>()) else {
            return exec_err!("{}: value must be a VARCHAR array", self.func.name());
        };
        let is_current = bool_arg(values, self.func)?;
        for (x, cur) in v.iter().zip(is_current.iter()) {
            match (x, cur) {
                (Some(x), Some(true)) => self.current.push(x.to_string()),
                (Some(x), Some(false)) => self.reference.push(x.to_string()),
                _ => {}
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let r = StringArray::from_iter_values(std::mem::take(&mut self.reference));
        let c = StringArray::from_iter_values(std::mem::take(&mut self.current));
        Ok(vec![
            one_list_state(r, DataType::Utf8),
            one_list_state(c, DataType::Utf8),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let func = self.func;
        for (i, dst) in [&mut self.reference, &mut self.current]
            .into_iter()
            .enumerate()
        {
            let list = list_arg(states, i, func)?;
            for row in list.iter().flatten() {
                let Some(s) = row.as_string_opt::<i32>() else {
                    return exec_err!(
                        "{}: state holds {} values, expected VARCHAR",
                        func.name(),
                        row.data_type()
                    );
                };
                dst.extend(s.iter().flatten().map(str::to_string));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.reference.is_empty() || self.current.is_empty() {
            return Ok(null_result(self.func));
        }
        let bins = drift::bin_by_value(&self.reference, &self.current)
            .map_err(|e| drift_err(self.func, e))?;
        binned(self.func, &bins)
    }

    fn size(&self) -> usize {
        size_of_val(self)
            + self
                .reference
                .iter()
                .chain(&self.current)
                .map(|s| s.capacity() + size_of::<String>())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::BooleanArray;

    fn batch(values: &[f64], current: &[bool]) -> Vec<ArrayRef> {
        vec![
            Arc::new(Float64Array::from(values.to_vec())),
            Arc::new(BooleanArray::from(current.to_vec())),
        ]
    }

    /// merge_batch of two partial states equals one accumulator over all rows.
    #[test]
    fn merged_states_equal_single_accumulator() {
        let xs: Vec<f64> = (0..400)
            .map(|i| ((i * 7919) % 1000) as f64 / 37.0)
            .collect();
        let cur: Vec<bool> = (0..400).map(|i| i % 3 == 0).collect();
        for func in DriftFn::ALL {
            let mut whole = NumAccumulator {
                func,
                reference: vec![],
                current: vec![],
            };
            whole.update_batch(&batch(&xs, &cur)).unwrap();
            let want = whole.evaluate().unwrap();

            let mut a = NumAccumulator {
                func,
                reference: vec![],
                current: vec![],
            };
            let mut b = NumAccumulator {
                func,
                reference: vec![],
                current: vec![],
            };
            a.update_batch(&batch(&xs[..150], &cur[..150])).unwrap();
            b.update_batch(&batch(&xs[150..], &cur[150..])).unwrap();
            let mut fin = NumAccumulator {
                func,
                reference: vec![],
                current: vec![],
            };
            for part in [&mut b, &mut a] {
                let states: Vec<ArrayRef> = part
                    .state()
                    .unwrap()
                    .iter()
                    .map(|s| s.to_array().unwrap())
                    .collect();
                fin.merge_batch(&states).unwrap();
            }
            assert_eq!(fin.evaluate().unwrap(), want, "{}", func.name());
            assert!(!want.is_null(), "{}", func.name());
        }
    }

    #[test]
    fn empty_side_is_null() {
        let mut a = NumAccumulator {
            func: DriftFn::Ks,
            reference: vec![],
            current: vec![],
        };
        a.update_batch(&batch(&[1.0, 2.0], &[false, false]))
            .unwrap();
        assert!(a.evaluate().unwrap().is_null());
    }
}
