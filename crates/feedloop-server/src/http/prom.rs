//! `GET /metrics`: the Prometheus text exposition format (version 0.0.4),
//! written by hand. Every metric name is listed in [`METRIC_NAMES`].

use super::HttpState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use feedloop_events::StreamKind;
use feedloop_kit::HistogramSnapshot;
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// Every metric family `/metrics` exposes (the deploy tests check dashboards against it).
pub const METRIC_NAMES: &[&str] = &[
    "feedloop_events_consumed_total",
    "feedloop_events_landed_total",
    "feedloop_events_dead_lettered_total",
    "feedloop_events_skipped_landed_total",
    "feedloop_consumed_bytes_total",
    "feedloop_landed_bytes_total",
    "feedloop_files_landed_total",
    "feedloop_consumer_lag_messages",
    "feedloop_uncommitted_messages",
    "feedloop_assigned_partitions",
    "feedloop_landing_retries_total",
    "feedloop_consumer_errors_total",
    "feedloop_kafka_brokers_down_seconds",
    "feedloop_alert_deliveries_total",
    "feedloop_alert_queue_length",
    "feedloop_alerts_firing",
    "feedloop_corrections_accepted_total",
    "feedloop_start_time_seconds",
    "feedloop_flush_duration_seconds",
    "feedloop_window_job_duration_seconds",
    "feedloop_windows_closed_total",
    "feedloop_export_rows_total",
    "feedloop_export_failures_total",
    "feedloop_jobs_lease_held",
    "feedloop_jobs_lease_acquisitions_total",
];

/// Escapes a label value (`\`, `"`, newline).
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Builds an exposition: one `family` call per metric family.
#[derive(Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    pub fn family(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        samples: &[(Vec<(&str, String)>, f64)],
    ) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            self.out.push_str(name);
            if !labels.is_empty() {
                self.out.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    let _ = write!(self.out, "{k}=\"{}\"", escape(v));
                }
                self.out.push('}');
            }
            let _ = writeln!(self.out, " {}", fmt_value(*value));
        }
    }

    /// A histogram family (`_bucket` with cumulative `le` buckets, `_sum`, `_count`).
    pub fn histogram(&mut self, name: &str, help: &str, h: &HistogramSnapshot) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} histogram");
        for (le, n) in &h.buckets {
            let _ = writeln!(self.out, "{name}_bucket{{le=\"{}\"}} {n}", fmt_value(*le));
        }
        let _ = writeln!(self.out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(self.out, "{name}_sum {}", fmt_value(h.sum_seconds));
        let _ = writeln!(self.out, "{name}_count {}", h.count);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Alerts currently firing: alert ids whose latest transition is `firing`.
async fn alerts_firing(st: &HttpState) -> Option<f64> {
    let sql = "SELECT count(*) AS n FROM (SELECT id, last_value(state ORDER BY window_start) AS s FROM alerts GROUP BY id) t WHERE s = 'firing'";
    let (_, batches) = st.inner.session.sql(sql).await.ok()?;
    let b = batches.first()?;
    let col = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Int64).ok()?;
    let a = col.as_any().downcast_ref::<arrow::array::Int64Array>()?;
    (a.len() == 1).then(|| a.value(0) as f64)
}

pub async fn render(st: &HttpState) -> String {
    let m = &st.inner.ingest;
    let mut e = Exposition::default();
    type Pick = fn(&feedloop_ingest::metrics::CountersSnapshot) -> u64;
    let per_stream: [(&str, &str, Pick); 7] = [
        (
            "feedloop_events_consumed_total",
            "Messages received from Kafka (valid or not).",
            |s| s.consumed,
        ),
        (
            "feedloop_events_landed_total",
            "Events written to the landing zone by this process.",
            |s| s.landed,
        ),
        (
            "feedloop_events_dead_lettered_total",
            "Invalid events sent to the dead-letter topic.",
            |s| s.dead_lettered,
        ),
        (
            "feedloop_events_skipped_landed_total",
            "Re-delivered messages skipped because storage already holds them.",
            |s| s.skipped_landed,
        ),
        (
            "feedloop_consumed_bytes_total",
            "Payload bytes of consumed messages.",
            |s| s.consumed_bytes,
        ),
        (
            "feedloop_landed_bytes_total",
            "Parquet bytes written to the landing zone.",
            |s| s.landed_bytes,
        ),
        (
            "feedloop_files_landed_total",
            "Parquet files written to the landing zone.",
            |s| s.files,
        ),
    ];
    let snaps: Vec<_> = StreamKind::ALL
        .iter()
        .map(|s| (s.table_name().to_string(), m.stream(*s).snapshot()))
        .collect();
    for (name, help, pick) in per_stream {
        let samples: Vec<_> = snaps
            .iter()
            .map(|(s, c)| (vec![("stream", s.clone())], pick(c) as f64))
            .collect();
        e.family(name, "counter", help, &samples);
    }
    let lag: Vec<_> = m
        .lag
        .lock()
        .map(|l| {
            l.iter()
                .map(|((t, p), v)| {
                    (
                        vec![("topic", t.clone()), ("partition", p.to_string())],
                        *v as f64,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    e.family(
        "feedloop_consumer_lag_messages",
        "gauge",
        "Consumer lag per assigned partition (messages).",
        &lag,
    );
    let uncommitted: Vec<_> = m
        .uncommitted()
        .into_iter()
        .map(|((t, p), v)| (vec![("topic", t), ("partition", p.to_string())], v as f64))
        .collect();
    e.family(
        "feedloop_uncommitted_messages",
        "gauge",
        "Messages this process consumed past the offset it last committed, per owned partition (buffered, being landed, or landed and awaiting the commit).",
        &uncommitted,
    );
    let assigned = m.assigned.lock().map(|a| a.len()).unwrap_or(0) as f64;
    e.family(
        "feedloop_assigned_partitions",
        "gauge",
        "Kafka partitions assigned to this process.",
        &[(vec![], assigned)],
    );
    e.family(
        "feedloop_landing_retries_total",
        "counter",
        "Landing attempts that failed and were retried.",
        &[(vec![], m.landing_retries.load(Ordering::Relaxed) as f64)],
    );
    e.family(
        "feedloop_consumer_errors_total",
        "counter",
        "Consumer errors reported by librdkafka.",
        &[(vec![], m.consumer_errors.load(Ordering::Relaxed) as f64)],
    );
    e.family(
        "feedloop_kafka_brokers_down_seconds",
        "gauge",
        "How long librdkafka has reported all brokers down (0 while one is reachable).",
        &[(
            vec![],
            m.brokers_down_for().map_or(0.0, |d| d.as_secs_f64()),
        )],
    );
    let stats = st
        .inner
        .dispatcher
        .upgrade()
        .map(|d| d.stats())
        .unwrap_or_default();
    let mut deliveries = Vec::new();
    let mut queued = Vec::new();
    for s in &stats {
        for (outcome, n) in [
            ("sent", s.sent),
            ("failed", s.failed),
            ("dropped", s.dropped),
        ] {
            deliveries.push((
                vec![("sink", s.sink.clone()), ("outcome", outcome.to_string())],
                n as f64,
            ));
        }
        queued.push((vec![("sink", s.sink.clone())], s.queued as f64));
    }
    e.family(
        "feedloop_alert_deliveries_total",
        "counter",
        "Alert deliveries per sink and outcome (sent, failed, dropped).",
        &deliveries,
    );
    e.family(
        "feedloop_alert_queue_length",
        "gauge",
        "Alerts waiting in each sink's queue.",
        &queued,
    );
    let firing: Vec<_> = alerts_firing(st)
        .await
        .map(|n| (vec![], n))
        .into_iter()
        .collect();
    e.family(
        "feedloop_alerts_firing",
        "gauge",
        "Alerts whose latest transition in the alerts table is firing.",
        &firing,
    );
    e.family(
        "feedloop_corrections_accepted_total",
        "counter",
        "Corrections accepted by POST /api/v1/corrections and produced to Kafka.",
        &[(
            vec![],
            st.inner.corrections_accepted.load(Ordering::Relaxed) as f64,
        )],
    );
    e.histogram(
        "feedloop_flush_duration_seconds",
        "Time to make one landing file durable (encode, write, fsync or PUT).",
        &m.flush_seconds.snapshot(),
    );
    let jobs = &st.inner.jobs;
    e.histogram(
        "feedloop_window_job_duration_seconds",
        "Duration of window-job runs that closed windows.",
        &jobs.window_tick_seconds.snapshot(),
    );
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed) as f64;
    e.family(
        "feedloop_windows_closed_total",
        "counter",
        "Event-time windows closed by this process.",
        &[(vec![], load(&jobs.windows_closed))],
    );
    e.family(
        "feedloop_export_rows_total",
        "counter",
        "Rows written by scheduled exports of this process (new dataset versions).",
        &[(vec![], load(&jobs.export_rows))],
    );
    e.family(
        "feedloop_export_failures_total",
        "counter",
        "Scheduled export runs that failed.",
        &[(vec![], load(&jobs.export_failures))],
    );
    e.family(
        "feedloop_jobs_lease_held",
        "gauge",
        "1 when this instance holds the jobs lease (runs window jobs and exports).",
        &[(vec![], f64::from(u8::from(jobs.lease_held().is_some())))],
    );
    e.family(
        "feedloop_jobs_lease_acquisitions_total",
        "counter",
        "Times this instance acquired the jobs lease.",
        &[(vec![], load(&jobs.lease_acquisitions))],
    );
    e.family(
        "feedloop_start_time_seconds",
        "gauge",
        "Start time of the HTTP server, seconds since the Unix epoch.",
        &[(vec![], st.inner.started_at)],
    );
    e.finish()
}

pub async fn metrics(State(st): State<HttpState>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&st).await,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format() {
        let mut e = Exposition::default();
        e.family(
            "x_total",
            "counter",
            "X.",
            &[
                (vec![("a", "q\"\\\n".into()), ("b", "2".into())], 3.0),
                (vec![], 0.5),
            ],
        );
        let s = e.finish();
        assert_eq!(
            s,
            "# HELP x_total X.\n# TYPE x_total counter\nx_total{a=\"q\\\"\\\\\\n\",b=\"2\"} 3\nx_total 0.5\n"
        );
    }

    #[test]
    fn histogram_is_cumulative_with_inf_sum_and_count() {
        let h = feedloop_kit::Histogram::new(&[0.1, 1.0]);
        h.observe(std::time::Duration::from_millis(50));
        h.observe(std::time::Duration::from_millis(500));
        h.observe(std::time::Duration::from_secs(3));
        let mut e = Exposition::default();
        e.histogram("d_seconds", "D.", &h.snapshot());
        assert_eq!(
            e.finish(),
            "# HELP d_seconds D.\n# TYPE d_seconds histogram\nd_seconds_bucket{le=\"0.1\"} 1\nd_seconds_bucket{le=\"1\"} 2\nd_seconds_bucket{le=\"+Inf\"} 3\nd_seconds_sum 3.55\nd_seconds_count 3\n"
        );
    }
}
