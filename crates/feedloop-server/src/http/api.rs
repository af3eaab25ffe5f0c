//! `/api/v1/*`: alerts, metrics and datasets as JSON; corrections in.

use super::HttpState;
use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::DataType;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use feedloop_analytics::sql::string_literal;
use feedloop_events::{DecodeError, StreamKind};
use feedloop_storage::DatasetStore;
use feedloop_storage::history::{ALERT_COLUMNS, METRIC_COLUMNS};
use rdkafka::producer::FutureRecord;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A JSON error response: `{"error": …, "field": …, "index": …}`.
pub fn error(status: StatusCode, msg: &str, field: Option<&str>, index: Option<usize>) -> Response {
    let mut body = serde_json::json!({ "error": msg });
    if let Some(f) = field {
        body["field"] = f.into();
    }
    if let Some(i) = index {
        body["index"] = i.into();
    }
    (status, axum::Json(body)).into_response()
}

/// `since`: RFC 3339 (`2026-01-01T00:00:00Z`) or a duration back from now (`24h`).
/// Returns epoch milliseconds.
pub fn parse_since(s: &str) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = humantime::parse_duration(s) {
        return Ok(chrono::Utc::now().timestamp_millis() - d.as_millis() as i64);
    }
    Err(format!(
        "expected an RFC 3339 time or a duration such as 24h, got {s:?}"
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct TableQuery {
    pub state: Option<String>,
    pub model: Option<String>,
    pub metric: Option<String>,
    pub feature: Option<String>,
    pub since: Option<String>,
    pub limit: Option<usize>,
}

/// The WHERE clause of a table query; `Err` is the message about `since`.
fn where_clause(q: &TableQuery, allow_state: bool) -> Result<String, String> {
    let mut w = vec!["1 = 1".to_string()];
    if allow_state && let Some(s) = &q.state {
        w.push(format!("state = {}", string_literal(s)));
    }
    if let Some(m) = &q.model {
        w.push(format!("model = {}", string_literal(m)));
    }
    if !allow_state && let Some(m) = &q.metric {
        w.push(format!("metric = {}", string_literal(m)));
    }
    if let Some(f) = &q.feature {
        w.push(format!("feature = {}", string_literal(f)));
    }
    if let Some(s) = &q.since {
        let ms = parse_since(s)?;
        w.push(format!("CAST(window_end AS BIGINT) > {ms}"));
    }
    Ok(w.join(" AND "))
}

async fn table_json(st: &HttpState, sql: &str, key: &str) -> Response {
    match st.inner.session.sql(sql).await {
        Ok((_, batches)) => match batches_to_json(&batches) {
            Ok(rows) => axum::Json(serde_json::json!({ key: rows })).into_response(),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e, None, None),
        },
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &e.to_string(),
            None,
            None,
        ),
    }
}

pub fn batches_to_json(batches: &[RecordBatch]) -> Result<serde_json::Value, String> {
    let mut w = arrow::json::ArrayWriter::new(Vec::new());
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    w.write_batches(&refs).map_err(|e| e.to_string())?;
    w.finish().map_err(|e| e.to_string())?;
    let buf = w.into_inner();
    if buf.is_empty() {
        return Ok(serde_json::json!([]));
    }
    serde_json::from_slice(&buf).map_err(|e| e.to_string())
}

/// `GET /api/v1/alerts?state=&model=&since=&limit=`: newest first.
pub async fn alerts(State(st): State<HttpState>, Query(q): Query<TableQuery>) -> Response {
    let w = match where_clause(&q, true) {
        Ok(w) => w,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e, Some("since"), None),
    };
    let limit = q.limit.unwrap_or(1000).min(100_000);
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE {w} ORDER BY window_start DESC, id LIMIT {limit}"
    );
    table_json(&st, &sql, "alerts").await
}

/// `GET /api/v1/metrics?model=&metric=&feature=&since=&limit=`: newest first.
pub async fn metrics(State(st): State<HttpState>, Query(q): Query<TableQuery>) -> Response {
    let w = match where_clause(&q, false) {
        Ok(w) => w,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e, Some("since"), None),
    };
    let limit = q.limit.unwrap_or(10_000).min(1_000_000);
    let sql = format!(
        "SELECT {METRIC_COLUMNS} FROM metrics WHERE {w} ORDER BY window_start DESC, model, model_version, metric, feature LIMIT {limit}"
    );
    table_json(&st, &sql, "metrics").await
}

/// Every committed dataset version, newest first per dataset.
pub async fn list_datasets(st: &HttpState) -> Result<Vec<serde_json::Value>, String> {
    let store = DatasetStore::new(st.inner.storage.clone());
    let prefix = object_store::path::Path::from(feedloop_storage::layout::DATASETS_DIR);
    let objects = st
        .inner
        .storage
        .list(&prefix, None)
        .await
        .map_err(|e| e.to_string())?;
    let names: BTreeSet<(String, String)> = objects
        .iter()
        .filter_map(|m| {
            let p: Vec<_> = m.location.parts().map(|p| p.as_ref().to_string()).collect();
            (p.len() == 5 && p[4] == feedloop_storage::layout::MANIFEST_FILE)
                .then(|| (p[1].clone(), p[2].clone()))
        })
        .collect();
    let mut out = Vec::new();
    for (model, name) in names {
        let versions = store
            .list_versions(&model, &name)
            .await
            .map_err(|e| e.to_string())?;
        let vs: Vec<_> = versions
            .iter()
            .rev()
            .map(|m| {
                let id = feedloop_storage::DatasetId {
                    model: m.model.clone(),
                    name: m.name.clone(),
                    version: m.version.clone(),
                };
                serde_json::json!({
                    "version": m.version,
                    "row_count": m.row_count,
                    "policy": m.policy,
                    "created_at": m.created_at,
                    "time_range": m.time_range,
                    "files": m.files.len(),
                    "url": store.url(&id),
                })
            })
            .collect();
        out.push(serde_json::json!({ "model": model, "name": name, "versions": vs }));
    }
    Ok(out)
}

/// `GET /api/v1/datasets`.
pub async fn datasets(State(st): State<HttpState>) -> Response {
    match list_datasets(&st).await {
        Ok(d) => axum::Json(serde_json::json!({ "datasets": d })).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e, None, None),
    }
}

fn decode_field(e: &DecodeError) -> Option<String> {
    match e {
        DecodeError::Shape { field, .. } => field.clone(),
        DecodeError::Invalid { field, .. } => Some(field.clone()),
        _ => None,
    }
}

/// `POST /api/v1/corrections`: one correction object or an array of them. All
/// are validated first; nothing is produced unless every one is valid.
pub async fn corrections(
    State(st): State<HttpState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(rej) => return error(rej.status(), &rej.body_text(), None, None),
    };
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("body is not JSON: {e}"),
                None,
                None,
            );
        }
    };
    let items = match value {
        serde_json::Value::Array(items) => items,
        obj @ serde_json::Value::Object(_) => vec![obj],
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "expected a correction object or an array of them",
                None,
                None,
            );
        }
    };
    if items.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "no corrections in the array",
            None,
            None,
        );
    }
    let mut records = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let payload = serde_json::to_vec(item).unwrap_or_default();
        match feedloop_events::decode(StreamKind::Corrections, &payload, &st.inner.limits) {
            Ok(feedloop_events::Event::Correction(c)) => records.push((c.prediction_id, payload)),
            Ok(_) => return error(StatusCode::BAD_REQUEST, "not a correction", None, Some(i)),
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &e.to_string(),
                    decode_field(&e).as_deref(),
                    Some(i),
                );
            }
        }
    }
    let topic = &st.inner.corrections_topic;
    let sends = records.iter().map(|(key, payload)| {
        let rec: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic)
            .key(key.as_str())
            .payload(payload.as_slice());
        st.inner.producer.send(rec, Duration::from_secs(30))
    });
    let results = futures::future::join_all(sends).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    st.inner
        .corrections_accepted
        .fetch_add(ok as u64, Ordering::Relaxed);
    if let Some(Err((e, _))) = results.iter().find(|r| r.is_err()) {
        tracing::warn!(error = %e, produced = ok, failed = results.len() - ok, "producing corrections failed");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"error": format!("producing to `{topic}` failed: {e}"), "accepted": ok})),
        )
            .into_response();
    }
    (
        StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({ "accepted": ok })),
    )
        .into_response()
}

// --- reading query results (shared with the page) ---

fn cast(a: &ArrayRef, t: &DataType) -> Option<ArrayRef> {
    arrow::compute::cast(a, t).ok()
}

pub fn col_strs(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let Some(a) = b
        .column_by_name(name)
        .and_then(|a| cast(a, &DataType::Utf8))
    else {
        return vec![None; b.num_rows()];
    };
    let a = a.as_any().downcast_ref::<StringArray>().expect("utf8");
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
        .collect()
}

pub fn col_i64s(b: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let Some(a) = b
        .column_by_name(name)
        .and_then(|a| cast(a, &DataType::Int64))
    else {
        return vec![None; b.num_rows()];
    };
    let a = a.as_any().downcast_ref::<Int64Array>().expect("i64");
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i)))
        .collect()
}

pub fn col_f64s(b: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let Some(a) = b
        .column_by_name(name)
        .and_then(|a| cast(a, &DataType::Float64))
    else {
        return vec![None; b.num_rows()];
    };
    let a = a.as_any().downcast_ref::<Float64Array>().expect("f64");
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_since() {
        assert_eq!(
            parse_since("2026-01-01T00:00:00Z").unwrap(),
            1_767_225_600_000
        );
        let now = chrono::Utc::now().timestamp_millis();
        let h = parse_since("1h").unwrap();
        assert!((now - h - 3_600_000).abs() < 5_000);
        assert!(parse_since("yesterday").is_err());
    }
}
