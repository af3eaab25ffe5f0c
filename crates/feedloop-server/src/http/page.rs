//! `GET /`: one HTML page, no scripts, charts as inline SVG. Per model: drift
//! per feature, each watched metric with the ±kσ band the alert rule judged it
//! against (stored with each metric row: `band_*` columns) and alert windows in
//! red, latency percentiles; then the latest datasets. [`charts`] is the page's
//! content as data, [`render`] its HTML.

use super::HttpState;
use super::api::{col_f64s, col_i64s, col_strs, list_datasets};
use super::svg::{Series, esc, line_chart};
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use feedloop_analytics::LandingSession;
use feedloop_storage::MetricBand;
use feedloop_storage::history::alert_rows;
use std::collections::BTreeMap;
use std::fmt::Write;

const NOT_CHARTED_ALONE: [&str; 7] = [
    "drift",
    "prediction_drift",
    "late_events",
    "requests",
    "latency_p50",
    "latency_p95",
    "latency_p99",
];

struct Point {
    version: String,
    metric: String,
    feature: Option<String>,
    ts: i64,
    value: f64,
    band: Option<MetricBand>,
}

/// (model, model version, metric, feature) → alert spans of the overall segment.
type Spans = BTreeMap<(String, String, String, Option<String>), Vec<(i64, i64)>>;

/// One chart of the page: its series, each with its alert windows (marked in red).
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub series: Vec<Series>,
}

/// What the page shows, as data: per model its charts, and what could not be read.
#[derive(Debug, Default)]
pub struct PageCharts {
    pub models: BTreeMap<String, Vec<Chart>>,
    pub errors: Vec<String>,
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:16px;color:#222;background:#fff}h1{font-size:20px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}.grid{display:flex;flex-wrap:wrap;gap:10px}.chart{border:1px solid #eee;background:#fcfcfc}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}.muted{color:#777;font-size:12px}";

pub async fn page(State(st): State<HttpState>) -> Response {
    Html(render(&st).await).into_response()
}

/// The page's charts from the `metrics` and `alerts` tables (overall segment).
pub async fn charts(session: &LandingSession) -> PageCharts {
    let mut points: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    let mut errors = Vec::new();
    let sql = "SELECT model, model_version, metric, feature, CAST(window_start AS BIGINT) AS ws, value, \
               band_mean, band_sigma, band_k, band_direction FROM metrics \
               WHERE segment = '{}' ORDER BY ws";
    match session.sql(sql).await {
        Ok((_, batches)) => {
            for b in &batches {
                let (m, v, me, f, ts, val) = (
                    col_strs(b, "model"),
                    col_strs(b, "model_version"),
                    col_strs(b, "metric"),
                    col_strs(b, "feature"),
                    col_i64s(b, "ws"),
                    col_f64s(b, "value"),
                );
                let (bm, bs, bk, bd) = (
                    col_f64s(b, "band_mean"),
                    col_f64s(b, "band_sigma"),
                    col_f64s(b, "band_k"),
                    col_strs(b, "band_direction"),
                );
                for i in 0..b.num_rows() {
                    let (Some(model), Some(ts), Some(value)) = (m[i].clone(), ts[i], val[i]) else {
                        continue;
                    };
                    if !value.is_finite() {
                        continue;
                    }
                    points.entry(model).or_default().push(Point {
                        version: v[i].clone().unwrap_or_default(),
                        metric: me[i].clone().unwrap_or_default(),
                        feature: f[i].clone(),
                        ts,
                        value,
                        band: match (bm[i], bs[i], bk[i], &bd[i]) {
                            (Some(mean), Some(sigma), Some(k), Some(direction)) => {
                                Some(MetricBand {
                                    mean,
                                    sigma,
                                    k,
                                    direction: direction.clone(),
                                })
                            }
                            _ => None,
                        },
                    });
                }
            }
        }
        Err(e) => errors.push(format!("metrics: {e}")),
    }
    // The page charts the overall segment: only its alerts are marked.
    let mut spans = Spans::new();
    match session
        .sql("SELECT * FROM alerts WHERE segment = '{}' ORDER BY window_start")
        .await
    {
        Ok((_, batches)) => {
            // id → (series, firing window start, resolving window end)
            let mut by_id = BTreeMap::new();
            for b in &batches {
                let rows = match alert_rows(b) {
                    Ok(rows) => rows,
                    Err(e) => {
                        errors.push(format!("alerts: {e}"));
                        continue;
                    }
                };
                for a in rows {
                    let e = by_id.entry(a.id).or_insert_with(|| {
                        let series = (a.model, a.model_version, a.metric, a.feature);
                        (series, a.window_start, i64::MAX)
                    });
                    e.1 = e.1.min(a.window_start);
                    if a.state != "firing" {
                        e.2 = a.window_end;
                    }
                }
            }
            for (series, start, end) in by_id.into_values() {
                spans.entry(series).or_default().push((start, end));
            }
        }
        Err(e) => errors.push(format!("alerts: {e}")),
    }
    let mut by_model = BTreeMap::new();
    for (model, pts) in &points {
        let mut out = Vec::new();
        let versions: std::collections::BTreeSet<&str> =
            pts.iter().map(|p| p.version.as_str()).collect();
        let multi = versions.len() > 1;
        let series_of = |metric: &str, by_feature: bool| -> Vec<Series> {
            let mut groups: BTreeMap<_, Vec<(i64, f64, Option<MetricBand>)>> = BTreeMap::new();
            for p in pts.iter().filter(|p| p.metric == metric) {
                let f = if by_feature { p.feature.clone() } else { None };
                groups.entry((p.version.clone(), f)).or_default().push((
                    p.ts,
                    p.value,
                    p.band.clone(),
                ));
            }
            groups
                .into_iter()
                .map(|((v, f), points)| {
                    let base = f.clone().unwrap_or_else(|| metric.to_string());
                    let key = (model.clone(), v.clone(), metric.to_string(), f.clone());
                    Series {
                        alerts: spans.get(&key).cloned().unwrap_or_default(),
                        label: if multi { format!("{base} {v}") } else { base },
                        metric: metric.to_string(),
                        feature: f,
                        model_version: v.clone(),
                        band: points
                            .iter()
                            .filter_map(|(ts, _, b)| b.as_ref().map(|b| (*ts, b.low(), b.high())))
                            .collect(),
                        points: points.iter().map(|(ts, v, _)| (*ts, *v)).collect(),
                    }
                })
                .collect()
        };
        // Drift per feature.
        let drift = series_of("drift", true);
        if !drift.is_empty() {
            out.push(Chart {
                title: "drift per feature".into(),
                series: drift,
            });
        }
        // Latency percentiles together.
        let mut lat = Vec::new();
        for m in ["latency_p50", "latency_p95", "latency_p99"] {
            lat.extend(series_of(m, false).into_iter().map(|mut s| {
                s.label = s.label.replace("latency_", "");
                s
            }));
        }
        if !lat.is_empty() {
            out.push(Chart {
                title: "latency percentiles (ms)".into(),
                series: lat,
            });
        }
        // Every other metric with its band, error rate and coverage first.
        let mut metrics: Vec<&str> = pts
            .iter()
            .map(|p| p.metric.as_str())
            .filter(|m| !NOT_CHARTED_ALONE.contains(m))
            .collect();
        metrics.sort_by_key(|m| {
            (
                !matches!(*m, "error_rate" | "correction_coverage" | "drift_share"),
                *m,
            )
        });
        metrics.dedup();
        for m in metrics {
            let s = series_of(m, false);
            // The k the rule used for this metric (it may be overridden per metric).
            let k = pts
                .iter()
                .filter(|p| p.metric == m)
                .find_map(|p| p.band.as_ref().map(|b| b.k));
            out.push(Chart {
                title: match k {
                    Some(k) => format!("{m} ± {k}σ"),
                    None => m.to_string(),
                },
                series: s,
            });
        }
        by_model.insert(model.clone(), out);
    }
    PageCharts {
        models: by_model,
        errors,
    }
}

/// The page's HTML.
pub async fn render(st: &HttpState) -> String {
    let PageCharts { models, mut errors } = charts(&st.inner.session).await;
    let datasets = list_datasets(st).await.unwrap_or_else(|e| {
        errors.push(format!("datasets: {e}"));
        Vec::new()
    });

    let k = st.inner.k;
    let total = st.inner.ingest.total();
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>feedloop</title><style>{STYLE}</style></head><body><h1>feedloop</h1>\
         <p class=\"muted\">this process: {} consumed, {} landed, {} dead-lettered, lag {} · bands: the alert rule's mean ± {k}σ as each window was judged (alerting sides only; per-metric k may differ) · red: alert windows</p>",
        total.consumed,
        total.landed,
        total.dead_lettered,
        st.inner.ingest.total_lag()
    );
    for e in &errors {
        let _ = write!(html, "<p class=\"muted\">could not read {}</p>", esc(e));
    }
    if models.is_empty() {
        html.push_str("<p>No window metrics yet: the window jobs write them as windows close.</p>");
    }
    for (model, charts) in &models {
        let _ = write!(html, "<h2>{}</h2><div class=\"grid\">", esc(model));
        for c in charts {
            html.push_str(&line_chart(&c.title, &c.series));
        }
        html.push_str("</div>");
    }
    html.push_str("<h2>Datasets</h2>");
    if datasets.is_empty() {
        html.push_str("<p class=\"muted\">No datasets exported yet.</p>");
    } else {
        html.push_str("<table><tr><th>model</th><th>dataset</th><th>latest version</th><th>rows</th><th>created</th><th>versions</th></tr>");
        for d in datasets.iter().take(50) {
            let latest = d["versions"].get(0).cloned().unwrap_or_default();
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(d["model"].as_str().unwrap_or_default()),
                esc(d["name"].as_str().unwrap_or_default()),
                esc(latest["version"].as_str().unwrap_or_default()),
                latest["row_count"],
                esc(latest["created_at"].as_str().unwrap_or_default()),
                d["versions"].as_array().map_or(0, |v| v.len())
            );
        }
        html.push_str("</table>");
    }
    html.push_str("</body></html>");
    html
}
