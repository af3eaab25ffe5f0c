//! The corrections join: every prediction with its latest correction.
//!
//! [`register_feedback`] adds three views to a [`LandingSession`]:
//!
//! * `latest_corrections` — one row per corrected `prediction_id`: the latest
//!   correction by `ts`; ties broken by the highest `(_topic, _partition,
//!   _offset)` (the one landed last). `correction_count` counts every correction
//!   row of the id (duplicates included). The `corrections` table keeps the whole
//!   history; nothing is ever deleted.
//! * `feedback` — every prediction `LEFT JOIN` its latest correction: all the
//!   prediction columns, then `corrected_label`, `corrected_value`,
//!   `correction_source`, `correction_ts`, `correction_count`, `is_corrected`,
//!   `is_wrong`. A prediction id landed more than once (producer retries) is kept
//!   once: its earliest row by `(ts, _topic, _partition, _offset)`.
//! * `unmatched_corrections` — corrections whose `prediction_id` has no
//!   prediction and whose `ts` is older than `now − horizon` (default 7 days).
//!   Younger ones are *pending*: their prediction may still arrive.
//!
//! Views are queries over the landing zone evaluated when run, so the arrival
//! order of a prediction and its corrections does not matter. "Now" is never
//! the wall clock of the query engine: the caller passes it (`now_ms`: the
//! export's clock, a window job's watermark), so a view answers the same for
//! the same data and the same `now_ms`, whatever the date it runs on.
//!
//! `is_wrong` is NULL for uncorrected predictions and when the correction holds
//! nothing comparable with the output; otherwise, for a correction with a label
//! and a prediction with an `output_label`: `corrected_label <> output_label`;
//! else for a value and an `output_value`:
//! `|corrected_value − output_value| > abs_tolerance + rel_tolerance × max(|corrected_value|, |output_value|)`
//! (defaults: `rel_tolerance = 1e-9`, `abs_tolerance = 0`: any difference beyond
//! floating-point noise is wrong; set a tolerance for regression models where
//! "close enough" is right).

use crate::error::AnalyticsError;
use crate::session::LandingSession;
use crate::sql::{f64_literal, string_literal, ts_literal};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// How corrections are judged and matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedbackOptions {
    /// Relative tolerance of regression corrections (see the module docs).
    pub rel_tolerance: f64,
    /// Absolute tolerance of regression corrections.
    pub abs_tolerance: f64,
    /// A correction without a prediction counts as unmatched once its `ts` is
    /// older than this.
    #[serde(with = "humantime_serde")]
    pub horizon: Duration,
}

impl Default for FeedbackOptions {
    fn default() -> Self {
        FeedbackOptions {
            rel_tolerance: 1e-9,
            abs_tolerance: 0.0,
            horizon: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl FeedbackOptions {
    /// Corrections without a prediction and with `ts` before this (epoch ms)
    /// are unmatched at `now_ms`; from it on they are pending.
    pub fn unmatched_cutoff_ms(&self, now_ms: i64) -> i64 {
        let horizon = i64::try_from(self.horizon.as_millis()).unwrap_or(i64::MAX);
        now_ms.saturating_sub(horizon)
    }

    pub fn validate(&self) -> Result<(), String> {
        for (k, v) in [
            ("rel_tolerance", self.rel_tolerance),
            ("abs_tolerance", self.abs_tolerance),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("`{k}` must be a finite number ≥ 0, got {v}"));
            }
        }
        Ok(())
    }
}

/// The prediction columns, in table order.
pub const PREDICTION_COLUMNS: [&str; 13] = [
    "prediction_id",
    "model",
    "model_version",
    "ts",
    "features",
    "output_label",
    "output_score",
    "output_value",
    "tags",
    "_topic",
    "_partition",
    "_offset",
    "_kafka_ts",
];

/// The columns the `feedback` view adds after the prediction columns, in view order.
pub const CORRECTION_COLUMNS: [&str; 7] = [
    "corrected_label",
    "corrected_value",
    "correction_source",
    "correction_ts",
    "correction_count",
    "is_corrected",
    "is_wrong",
];

const LATEST_CORRECTIONS: &str = "SELECT prediction_id, label AS corrected_label, value AS corrected_value, \
     source AS correction_source, ts AS correction_ts, correction_count \
     FROM (SELECT prediction_id, label, value, source, ts, \
             row_number() OVER (PARTITION BY prediction_id ORDER BY ts DESC, _topic DESC, _partition DESC, _offset DESC) AS _rn, \
             count(*) OVER (PARTITION BY prediction_id) AS correction_count \
           FROM corrections) \
     WHERE _rn = 1";

/// The `feedback` query, with `prediction_filter` (a SQL predicate over the
/// `predictions` columns) applied before the join so that Parquet statistics
/// prune the scan.
pub fn feedback_sql(opts: &FeedbackOptions, prediction_filter: Option<&str>) -> String {
    let filter = prediction_filter
        .map(|f| format!("WHERE ({f})"))
        .unwrap_or_default();
    let pcols = PREDICTION_COLUMNS.map(|c| format!("p.{c}")).join(", ");
    let cols = PREDICTION_COLUMNS.join(", ");
    format!(
        "SELECT {pcols}, c.corrected_label, c.corrected_value, c.correction_source, c.correction_ts, \
           COALESCE(c.correction_count, 0) AS correction_count, \
           c.prediction_id IS NOT NULL AS is_corrected, \
           CASE WHEN c.prediction_id IS NULL THEN CAST(NULL AS BOOLEAN) \
                WHEN c.corrected_label IS NOT NULL AND p.output_label IS NOT NULL THEN c.corrected_label <> p.output_label \
                WHEN c.corrected_value IS NOT NULL AND p.output_value IS NOT NULL THEN \
                  abs(c.corrected_value - p.output_value) > {abs} + {rel} * greatest(abs(c.corrected_value), abs(p.output_value)) \
                ELSE CAST(NULL AS BOOLEAN) END AS is_wrong \
         FROM (SELECT {cols} FROM (SELECT {cols}, row_number() OVER (PARTITION BY prediction_id ORDER BY ts, _topic, _partition, _offset) AS _dup \
                                   FROM predictions {filter}) WHERE _dup = 1) p \
         LEFT JOIN ({LATEST_CORRECTIONS}) c ON p.prediction_id = c.prediction_id",
        abs = f64_literal(opts.abs_tolerance),
        rel = f64_literal(opts.rel_tolerance),
    )
}

/// The `unmatched_corrections` query at `now_ms`: corrections older than
/// `now_ms − horizon` whose prediction never landed.
pub fn unmatched_corrections_sql(opts: &FeedbackOptions, now_ms: i64) -> String {
    format!(
        "SELECT c.* FROM corrections c \
         WHERE c.ts < {cut} \
           AND NOT EXISTS (SELECT 1 FROM predictions p WHERE p.prediction_id = c.prediction_id)",
        cut = ts_literal(opts.unmatched_cutoff_ms(now_ms))
    )
}

/// Registers the `latest_corrections`, `feedback` and `unmatched_corrections`
/// views (replacing earlier ones) on `session`, as of `now_ms` (epoch ms; it
/// decides which corrections without a prediction are unmatched).
pub async fn register_feedback(
    session: &LandingSession,
    opts: &FeedbackOptions,
    now_ms: i64,
) -> Result<(), AnalyticsError> {
    opts.validate().map_err(AnalyticsError::Input)?;
    let ctx = session.context();
    for (name, sql) in [
        ("latest_corrections", LATEST_CORRECTIONS.to_string()),
        ("feedback", feedback_sql(opts, None)),
        (
            "unmatched_corrections",
            unmatched_corrections_sql(opts, now_ms),
        ),
    ] {
        ctx.sql(&format!("CREATE OR REPLACE VIEW {name} AS {sql}"))
            .await?
            .collect()
            .await?;
    }
    Ok(())
}

/// How the corrections relate to the predictions, at `now_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CorrectionMatchStats {
    /// Correction rows whose prediction landed.
    pub matched: u64,
    /// Correction rows without a prediction, younger than the horizon.
    pub pending: u64,
    /// Correction rows without a prediction, older than the horizon (kept, never deleted).
    pub unmatched: u64,
}

/// Counts matched, pending and unmatched correction rows as of `now_ms`.
pub async fn correction_match_stats(
    session: &LandingSession,
    opts: &FeedbackOptions,
    now_ms: i64,
) -> Result<CorrectionMatchStats, AnalyticsError> {
    let cutoff = opts.unmatched_cutoff_ms(now_ms);
    let sql = format!(
        "SELECT \
           sum(CASE WHEN p.prediction_id IS NOT NULL THEN 1 ELSE 0 END), \
           sum(CASE WHEN p.prediction_id IS NULL AND c.ts >= {cut} THEN 1 ELSE 0 END), \
           sum(CASE WHEN p.prediction_id IS NULL AND c.ts < {cut} THEN 1 ELSE 0 END) \
         FROM corrections c LEFT JOIN (SELECT DISTINCT prediction_id FROM predictions) p \
           ON c.prediction_id = p.prediction_id",
        cut = ts_literal(cutoff)
    );
    let (_, batches) = session.sql(&sql).await?;
    let get = |i: usize| -> u64 {
        batches
            .first()
            .filter(|b| b.num_rows() > 0)
            .and_then(|b| b.column(i).as_primitive_opt::<Int64Type>().cloned())
            .filter(|a| a.is_valid(0))
            .map_or(0, |a| a.value(0) as u64)
    };
    Ok(CorrectionMatchStats {
        matched: get(0),
        pending: get(1),
        unmatched: get(2),
    })
}

/// The schema of [`error_metrics`]' result.
pub fn error_metrics_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new(
            "window_start",
            feedloop_events::arrow_schema::ts_type(),
            false,
        ),
        Field::new(
            "window_end",
            feedloop_events::arrow_schema::ts_type(),
            false,
        ),
        Field::new("model", DataType::Utf8, false),
        Field::new("model_version", DataType::Utf8, false),
        Field::new("segment", DataType::Utf8, false),
        Field::new("predictions", DataType::Int64, false),
        Field::new("corrections", DataType::Int64, false),
        Field::new("corrected", DataType::Int64, false),
        Field::new("coverage", DataType::Float64, false),
        Field::new("wrong", DataType::Int64, false),
        Field::new("error_rate", DataType::Float64, true),
    ]))
}

/// Error metrics of the predictions with `ts` in `[from_ms, to_ms)`, per model ×
/// model version × segment, as known now (corrections that arrive later are
/// counted when the function is run again).
///
/// Segments: one overall row per model and version (`segment = "{}"`), plus, for
/// each tag name in `segments`, one row per value of that tag
/// (`segment = {"country":"DE"}`; `{"country":null}` for predictions without the
/// tag). Columns ([`error_metrics_schema`]): `predictions`; `corrections`
/// (correction rows received for them); `corrected` (predictions with at least
/// one); `coverage = corrected / predictions`; `wrong` (`is_wrong` true);
/// `error_rate = wrong / corrected` (NULL when nothing is corrected). Rows are
/// sorted by model, version, segment.
pub async fn error_metrics(
    session: &LandingSession,
    opts: &FeedbackOptions,
    from_ms: i64,
    to_ms: i64,
    segments: &[String],
) -> Result<RecordBatch, AnalyticsError> {
    error_metrics_in(session, opts, from_ms, to_ms, None, segments).await
}

/// [`error_metrics`] of `count` consecutive windows of `size_ms` from
/// `from_ms` in one pass (one query per segment dimension instead of one per
/// window): rows are per window (`window_start`, `window_end`) × model ×
/// version × segment. A prediction id landed twice counts once, in the window
/// of its first event time.
pub async fn error_metrics_windows(
    session: &LandingSession,
    opts: &FeedbackOptions,
    from_ms: i64,
    size_ms: i64,
    count: usize,
    segments: &[String],
) -> Result<RecordBatch, AnalyticsError> {
    if size_ms <= 0 {
        return Err(AnalyticsError::Input(format!(
            "window size must be positive, got {size_ms} ms"
        )));
    }
    let to_ms = from_ms.saturating_add(size_ms.saturating_mul(count as i64));
    error_metrics_in(session, opts, from_ms, to_ms, Some(size_ms), segments).await
}

async fn error_metrics_in(
    session: &LandingSession,
    opts: &FeedbackOptions,
    from_ms: i64,
    to_ms: i64,
    window: Option<i64>,
    segments: &[String],
) -> Result<RecordBatch, AnalyticsError> {
    opts.validate().map_err(AnalyticsError::Input)?;
    let w_expr = match window {
        None => format!("CAST({from_ms} AS BIGINT)"),
        Some(size) => format!(
            "CAST({from_ms} AS BIGINT) + ((CAST(ts AS BIGINT) - {from_ms}) / {size}) * {size}"
        ),
    };
    let filter = format!(
        "ts >= {} AND ts < {}",
        ts_literal(from_ms),
        ts_literal(to_ms)
    );
    let fb = feedback_sql(opts, Some(&filter));
    let mut dims: Vec<Option<&str>> = vec![None];
    dims.extend(segments.iter().map(|s| Some(s.as_str())));
    // (window start, model, version, segment json) → counts
    let mut rows: Vec<(i64, String, String, String, [i64; 4])> = Vec::new();
    for dim in dims {
        let seg_expr = match dim {
            None => "CAST(NULL AS VARCHAR)".to_string(),
            Some(tag) => format!("tags[{}]", string_literal(tag)),
        };
        let sql = format!(
            "SELECT model, model_version, {seg_expr} AS seg, count(*) AS n, \
               CAST(sum(correction_count) AS BIGINT) AS c, \
               sum(CASE WHEN is_corrected THEN 1 ELSE 0 END) AS k, \
               sum(CASE WHEN is_wrong THEN 1 ELSE 0 END) AS w, \
               {w_expr} AS window_start \
             FROM ({fb}) GROUP BY 1, 2, 3, 8"
        );
        let (_, batches) = session.sql(&sql).await?;
        for b in batches {
            let s = |i: usize| {
                b.column(i)
                    .as_string_opt::<i32>()
                    .cloned()
                    .map(|a| Arc::new(a) as Arc<StringArray>)
            };
            let (m, v) = (
                s(0).ok_or_else(|| bad("model"))?,
                s(1).ok_or_else(|| bad("model_version"))?,
            );
            let seg = datafusion::arrow::compute::cast(b.column(2), &DataType::Utf8)?;
            let seg = seg.as_string::<i32>();
            let n = |i: usize| -> Result<Int64Array, AnalyticsError> {
                let a = datafusion::arrow::compute::cast(b.column(i), &DataType::Int64)?;
                Ok(a.as_primitive::<Int64Type>().clone())
            };
            let (cn, cc, ck, cw, ws) = (n(3)?, n(4)?, n(5)?, n(6)?, n(7)?);
            for r in 0..b.num_rows() {
                let segment = match dim {
                    None => "{}".to_string(),
                    Some(tag) => {
                        let val = seg.is_valid(r).then(|| seg.value(r).to_string());
                        serde_json::json!({ tag: val }).to_string()
                    }
                };
                let g = |a: &Int64Array| if a.is_valid(r) { a.value(r) } else { 0 };
                rows.push((
                    g(&ws),
                    m.value(r).to_string(),
                    v.value(r).to_string(),
                    segment,
                    [g(&cn), g(&cc), g(&ck), g(&cw)],
                ));
            }
        }
    }
    rows.sort_by(|a, b| (a.0, &a.1, &a.2, &a.3).cmp(&(b.0, &b.1, &b.2, &b.3)));
    let end_of = |w: i64| window.map_or(to_ms, |size| w + size);
    let col_i =
        |i: usize| Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.4[i]))) as ArrayRef;
    let cols: Vec<ArrayRef> = vec![
        Arc::new(
            TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.0))
                .with_timezone(feedloop_events::arrow_schema::UTC),
        ),
        Arc::new(
            TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| end_of(r.0)))
                .with_timezone(feedloop_events::arrow_schema::UTC),
        ),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.1.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.2.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.3.as_str()),
        )),
        col_i(0),
        col_i(1),
        col_i(2),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.4[2] as f64 / r.4[0].max(1) as f64),
        )),
        col_i(3),
        Arc::new(Float64Array::from_iter(
            rows.iter()
                .map(|r| (r.4[2] > 0).then(|| r.4[3] as f64 / r.4[2] as f64)),
        )),
    ];
    Ok(RecordBatch::try_new(error_metrics_schema(), cols)?)
}

fn bad(col: &str) -> AnalyticsError {
    AnalyticsError::Execution(format!("error metrics: column `{col}` is not a string"))
}
