//! Which rows a policy selects: the selection SQL over the `feedback` view
//! (filters, policy predicate, deterministic order) and the deterministic
//! sample hash behind `sample` and `stratified`.

use crate::policy::Policy;
use crate::request::ExportRequest;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Builder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use feedloop_analytics::feedback::{
    CORRECTION_COLUMNS, FeedbackOptions, PREDICTION_COLUMNS, feedback_sql,
};
use feedloop_analytics::sql::{f64_literal, string_literal, ts_literal};
use feedloop_analytics::{AnalyticsError, LandingSession};
use feedloop_storage::history::AlertRow;
use feedloop_storage::layout::ALERTS_DIR;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::Arc;

/// A number in [0, 1) fixed by `(prediction_id, seed)`: the first 8 bytes of
/// SHA-256(`"<seed>:<prediction_id>"`), big-endian, divided by 2^64.
pub fn unit_hash(prediction_id: &str, seed: i64) -> f64 {
    let d = Sha256::digest(format!("{seed}:{prediction_id}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    let x = u64::from_be_bytes(first);
    (x as f64) / 18_446_744_073_709_551_616.0
}

/// Registers `feedloop_unit_hash(prediction_id VARCHAR, seed BIGINT) → DOUBLE`.
pub fn register_unit_hash(session: &LandingSession) {
    let f = create_udf(
        "feedloop_unit_hash",
        vec![DataType::Utf8, DataType::Int64],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let n = args.iter().find_map(|a| match a {
                ColumnarValue::Array(a) => Some(a.len()),
                _ => None,
            });
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let ids = cast(&arrays[0], &DataType::Utf8)?;
            let ids = ids.as_string::<i32>();
            let seeds = cast(&arrays[1], &DataType::Int64)?;
            let seeds = seeds.as_primitive::<Int64Type>();
            let mut b = Float64Builder::with_capacity(ids.len());
            for i in 0..ids.len() {
                if ids.is_valid(i) && seeds.is_valid(i) {
                    b.append_value(unit_hash(ids.value(i), seeds.value(i)));
                } else {
                    b.append_null();
                }
            }
            let out: ArrayRef = Arc::new(b.finish());
            Ok(match n {
                Some(_) => ColumnarValue::Array(out),
                None => {
                    ColumnarValue::Scalar(datafusion::common::ScalarValue::try_from_array(&out, 0)?)
                }
            })
        }),
    );
    session.context().register_udf(f);
}

/// The predicate of an alert's segment: every tag equal to its value
/// (`true` for the whole model version).
fn segment_predicate(segment: &BTreeMap<String, String>) -> String {
    let mut terms = vec!["true".to_string()];
    for (k, v) in segment {
        terms.push(format!(
            "tags[{}] = {}",
            string_literal(k),
            string_literal(v)
        ));
    }
    terms.join(" AND ")
}

const INACTIVE_STATES: [&str; 4] = ["ok", "resolved", "inactive", "normal"];

/// The output columns of the feedback view (prediction columns, then the join's).
fn feedback_columns() -> Vec<&'static str> {
    let mut c = PREDICTION_COLUMNS.to_vec();
    c.extend(CORRECTION_COLUMNS);
    c
}

pub(crate) fn prediction_filter(req: &ExportRequest) -> String {
    let mut f = vec![format!("model = {}", string_literal(&req.model))];
    if let Some(v) = &req.model_version {
        f.push(format!("model_version = {}", string_literal(v)));
    }
    if let Some(s) = req.since_ms {
        f.push(format!("ts >= {}", ts_literal(s)));
    }
    if let Some(u) = req.until_ms {
        f.push(format!("ts < {}", ts_literal(u)));
    }
    f.join(" AND ")
}

/// The selection SQL of a policy, and remarks about it.
pub(crate) fn selection_sql(
    req: &ExportRequest,
    policy: &Policy,
    opts: &FeedbackOptions,
    alerts: Option<&[AlertRow]>,
) -> Result<(String, Vec<String>), AnalyticsError> {
    let base = feedback_sql(opts, Some(&prediction_filter(req)));
    let cols = feedback_columns().join(", ");
    let order = "ORDER BY ts, prediction_id, _topic, _partition, _offset";
    let mut notes = Vec::new();
    let filtered = |pred: String| format!("SELECT {cols} FROM ({base}) f WHERE {pred} {order}");
    let sql = match policy {
        Policy::Wrong => filtered("is_wrong".into()),
        Policy::Corrected => filtered("is_corrected".into()),
        Policy::Sample { rate, seed } => filtered(format!(
            "feedloop_unit_hash(prediction_id, CAST({} AS BIGINT)) < {}",
            *seed as i64,
            f64_literal(*rate)
        )),
        Policy::Uncertain { boundary, band } => filtered(format!(
            "output_score >= {} AND output_score <= {}",
            f64_literal(boundary - band),
            f64_literal(boundary + band)
        )),
        Policy::Sql { where_clause } => filtered(format!("({where_clause})")),
        Policy::Stratified { cap, by, seed } => {
            let keys: Vec<String> = by
                .iter()
                .map(|k| match k.as_str() {
                    "label" => "COALESCE(corrected_label, output_label)".to_string(),
                    "model_version" => "model_version".to_string(),
                    t => format!("tags[{}]", string_literal(t.trim_start_matches("tag:"))),
                })
                .collect();
            format!(
                "SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY {} \
                   ORDER BY feedloop_unit_hash(prediction_id, CAST({} AS BIGINT)), prediction_id, _topic, _partition, _offset) AS _stratum_rank \
                   FROM ({base}) f) WHERE _stratum_rank <= {cap} {order}",
                keys.join(", "),
                *seed as i64
            )
        }
        Policy::Drifted { states } => {
            let mut preds = BTreeSet::new();
            match alerts {
                None => notes.push(format!(
                    "no alerts table (no Parquet files under `{ALERTS_DIR}/`): the drifted policy selects nothing"
                )),
                Some(rows) => {
                    for a in rows {
                        let raised = if states.is_empty() {
                            !INACTIVE_STATES.contains(&a.state.to_ascii_lowercase().as_str())
                        } else {
                            states.iter().any(|s| s.eq_ignore_ascii_case(&a.state))
                        };
                        if !raised || a.model != req.model {
                            continue;
                        }
                        let seg = segment_predicate(&a.segment);
                        preds.insert(format!(
                            "(model_version = {} AND ts >= {} AND ts < {} AND {seg})",
                            string_literal(&a.model_version),
                            ts_literal(a.window_start),
                            ts_literal(a.window_end)
                        ));
                    }
                    if preds.is_empty() {
                        notes.push("no raised alert for this model in the alerts table: the drifted policy selects nothing".into());
                    }
                }
            }
            let pred = if preds.is_empty() {
                "false".to_string()
            } else {
                format!("({})", preds.into_iter().collect::<Vec<_>>().join(" OR "))
            };
            filtered(pred)
        }
    };
    Ok((sql, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_unit_hash() {
        assert_eq!(segment_predicate(&BTreeMap::new()), "true");
        let seg = BTreeMap::from([
            ("country".to_string(), "D'E".to_string()),
            ("device".to_string(), "ios".to_string()),
        ]);
        assert_eq!(
            segment_predicate(&seg),
            "true AND tags['country'] = 'D''E' AND tags['device'] = 'ios'"
        );
        let u = unit_hash("p1", 7);
        assert!((0.0..1.0).contains(&u));
        assert_eq!(u, unit_hash("p1", 7));
        assert_ne!(u, unit_hash("p1", 8));
    }
}
