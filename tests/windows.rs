//! Window jobs on a landing zone written directly (no Kafka): deterministic
//! streams with a drift and a latency spike injected at known windows, late
//! events, a restart in the middle, and two ingest instances feeding one analysis.

use feedloop_alerts::AlertsConfig;
use feedloop_analytics::LandingSession;
use feedloop_events::{BatchBuilder, Limits, Lineage, StreamKind, decode};
use feedloop_server::alerting::AlertObserver;
use feedloop_storage::{LandingZone, PartitionKey, Storage};
use feedloop_windows::{WindowJob, WindowsConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::time::Duration;

const MIN: i64 = 60_000;
const T0: i64 = 1_795_392_000_000;
/// Events per 1-minute window. Evidently's drift thresholds (normed Wasserstein
/// ≥ 0.1) are tuned for samples of this size; at a few hundred events sampling
/// noise alone crosses them.
const PER_WINDOW: usize = 1500;

fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Events of window `w` (1-minute windows from T0): predictions of model `m`
/// with a numeric `x`, a categorical `color` and tag `country`; latency events.
/// `x` shifts by +3σ in windows 25..30; latency ×5 in windows 20..23.
fn window_events(w: i64, rng: &mut StdRng) -> (Vec<String>, Vec<String>) {
    let mut preds = Vec::new();
    let mut lats = Vec::new();
    for i in 0..PER_WINDOW {
        let ts = T0 + w * MIN + (i as i64 * MIN) / PER_WINDOW as i64;
        let shift = if (25..30).contains(&w) { 3.0 } else { 0.0 };
        let x = normal(rng) + shift;
        let color = ["red", "green", "blue"][rng.random_range(0..3)];
        let country = ["DE", "FR"][i % 2];
        preds.push(
            serde_json::json!({"prediction_id": format!("w{w}-{i}"), "model": "m", "model_version": "v1", "ts": ts,
                "features": {"x": x, "color": color}, "output": {"score": (x / 10.0 + 0.5).clamp(0.0, 1.0)},
                "tags": {"country": country}})
            .to_string(),
        );
        let spike = if (20..23).contains(&w) { 5.0 } else { 1.0 };
        let latency = (3.0 + 0.2 * normal(rng)).exp() * spike;
        lats.push(
            serde_json::json!({"prediction_id": format!("w{w}-{i}"), "model": "m", "model_version": "v1", "ts": ts,
                "latency_ms": latency, "status": "ok"})
            .to_string(),
        );
    }
    (preds, lats)
}

/// Lands events as one file per call, continuing each partition's offset chain.
async fn land(
    zone: &LandingZone,
    stream: StreamKind,
    partition: i32,
    next: &mut BTreeMap<(StreamKind, i32), i64>,
    events: &[String],
) {
    let key = PartitionKey {
        stream,
        topic: stream.table_name().into(),
        partition,
    };
    let start = *next.get(&(stream, partition)).unwrap_or(&0);
    let mut b = BatchBuilder::new(stream, &key.topic, partition);
    for (i, e) in events.iter().enumerate() {
        let ev = decode(stream, e.as_bytes(), &Limits::default()).unwrap();
        b.append(
            &ev,
            Lineage {
                offset: start + i as i64,
                kafka_ts: None,
            },
        )
        .unwrap();
    }
    let end = start + events.len() as i64 - 1;
    assert!(
        zone.land(&key, start, end, b.finish().unwrap())
            .await
            .unwrap()
            .created
    );
    next.insert((stream, partition), end + 1);
}

fn windows_config() -> WindowsConfig {
    WindowsConfig {
        size: Duration::from_secs(60),
        allowed_lateness: Duration::from_secs(5),
        segments: vec!["country".into()],
        reference_windows: 12,
        ..WindowsConfig::default()
    }
}

fn alerts_config() -> AlertsConfig {
    // k = 3 keeps sampling noise of 300-event windows from firing in this
    // deterministic test; the k = 2 false-alarm rate is tested in feedloop-alerts.
    AlertsConfig {
        k: 3.0,
        ..AlertsConfig::default()
    }
}

async fn open_job(
    storage: &Storage,
) -> (
    WindowJob,
    std::sync::Arc<std::sync::Mutex<Vec<feedloop_alerts::Alert>>>,
) {
    let session = LandingSession::new(storage).await.unwrap();
    let observer = AlertObserver::new(alerts_config(), None);
    let delivered = std::sync::Arc::clone(&observer.delivered);
    let job = WindowJob::open(windows_config(), storage.clone(), session.context().clone())
        .await
        .unwrap()
        .with_observer(Box::new(observer))
        .unwrap();
    (job, delivered)
}

fn window_of(a: &feedloop_alerts::Alert) -> i64 {
    (chrono::DateTime::parse_from_rfc3339(&a.window_start)
        .unwrap()
        .timestamp_millis()
        - T0)
        / MIN
}

fn state(a: &feedloop_alerts::Alert) -> String {
    serde_json::to_value(a.state)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// (window, state, metric, feature) of every alert on the overall segment.
fn summary(alerts: &[feedloop_alerts::Alert]) -> Vec<(i64, String, String, Option<String>)> {
    alerts
        .iter()
        .filter(|a| a.segment.is_empty())
        .map(|a| (window_of(a), state(a), a.metric.clone(), a.feature.clone()))
        .collect()
}

async fn land_windows(
    zone: &LandingZone,
    range: std::ops::Range<i64>,
    rng: &mut StdRng,
    next: &mut BTreeMap<(StreamKind, i32), i64>,
) {
    for w in range {
        let (p, l) = window_events(w, rng);
        land(zone, StreamKind::Predictions, 0, next, &p).await;
        land(zone, StreamKind::Latency, 0, next, &l).await;
    }
}

/// 40 windows of traffic (drift and a latency spike injected from window 20)
/// landed and judged by one tick of the job: the storage and every alert
/// delivered.
async fn forty_windows_judged() -> (tempfile::TempDir, Storage, Vec<feedloop_alerts::Alert>) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
    let zone = LandingZone::new(storage.clone());
    let mut rng = StdRng::seed_from_u64(7);
    let mut next = BTreeMap::new();
    land_windows(&zone, 0..40, &mut rng, &mut next).await;
    let (mut job, delivered) = open_job(&storage).await;
    let reports = job.tick().await.unwrap();
    assert_eq!(reports.len(), 39, "the last window waits for the watermark");
    let alerts = delivered.lock().unwrap().clone();
    (dir, storage, alerts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_drift_and_latency_spike_fire_in_their_windows_and_resolve() {
    let (_dir, storage, alerts) = forty_windows_judged().await;
    let s = summary(&alerts);
    let drift_x: Vec<_> = s
        .iter()
        .filter(|a| a.2 == "drift" && a.3.as_deref() == Some("x"))
        .collect();
    assert_eq!(
        drift_x
            .iter()
            .map(|a| (a.0, a.1.as_str()))
            .collect::<Vec<_>>(),
        vec![(25, "firing"), (30, "resolved")],
        "{s:#?}"
    );
    let p95: Vec<_> = s.iter().filter(|a| a.2 == "latency_p95").collect();
    assert_eq!(
        p95.iter().map(|a| (a.0, a.1.as_str())).collect::<Vec<_>>(),
        vec![(20, "firing"), (23, "resolved")],
        "{s:#?}"
    );
    // The injected series fire in their window and not before (the k-σ
    // false-alarm rate of unrelated series is tested in feedloop-alerts).
    assert!(
        s.iter()
            .filter(|a| a.2 == "drift" || a.2 == "latency_p95" || a.2 == "latency_p50")
            .all(|a| a.0 >= 20),
        "{s:#?}"
    );
    // Drift of the categorical feature that did not change never fires.
    assert!(!s.iter().any(|a| a.3.as_deref() == Some("color")), "{s:#?}");

    // The history is queryable.
    let session = LandingSession::new(&storage).await.unwrap();
    let (_, b) = session
        .sql("SELECT count(DISTINCT window_start) AS w, sum(CASE WHEN metric = 'volume' AND segment = '{}' THEN value END) AS n FROM metrics")
        .await
        .unwrap();
    let out = arrow::util::pretty::pretty_format_batches(&b)
        .unwrap()
        .to_string();
    assert!(
        out.contains(&format!("| 39 | {}.0 |", 39 * PER_WINDOW)),
        "{out}"
    );
    // Volume per segment: every event is tagged `country`, alternately DE and FR.
    let (_, b) = session
        .sql("SELECT segment, sum(value) AS n FROM metrics WHERE metric = 'volume' AND segment <> '{}' GROUP BY segment ORDER BY segment")
        .await
        .unwrap();
    let out = arrow::util::pretty::pretty_format_batches(&b)
        .unwrap()
        .to_string();
    for country in ["DE", "FR"] {
        let row = format!(
            "| {{\"country\":\"{country}\"}} | {}.0 |",
            39 * PER_WINDOW / 2
        );
        assert!(out.contains(&row), "{row} not in {out}");
    }
    let (_, b) = session.sql("SELECT state, count(*) AS n FROM alerts WHERE segment = '{}' GROUP BY state ORDER BY state").await.unwrap();
    let out = arrow::util::pretty::pretty_format_batches(&b)
        .unwrap()
        .to_string();
    assert!(
        out.contains("| firing   |") && out.contains("| resolved |"),
        "{out}"
    );
}

/// The page draws the band that fires alerts: every firing alert's value lies
/// outside the band drawn at its window, and every value outside its drawn
/// band lies in an alert of its series (firing, or open until it resolves).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_draws_the_band_the_alerts_were_judged_against() {
    let (_dir, storage, alerts) = forty_windows_judged().await;
    let alerts: Vec<_> = alerts
        .into_iter()
        .filter(|a| a.segment.is_empty())
        .collect();
    let ms = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_millis()
    };

    // A segment's alert on a charted series: the page charts the overall
    // segment, so it must not be marked there.
    let p95 = alerts
        .iter()
        .find(|a| a.metric == "latency_p95")
        .expect("the latency spike fires");
    let segment_alert = feedloop_storage::AlertRow {
        id: "segment-only".into(),
        state: "firing".into(),
        model: p95.model.clone(),
        model_version: p95.model_version.clone(),
        segment: BTreeMap::from([("country".to_string(), "DE".to_string())]),
        metric: p95.metric.clone(),
        feature: None,
        window_start: T0 + 5 * MIN,
        window_end: T0 + 6 * MIN,
        value: 1e6,
        mean: None,
        sigma: None,
        k: None,
        direction: None,
        severity: "warning".into(),
        test: None,
        threshold: None,
        summary: String::new(),
    };
    use feedloop_storage::history::{ALERTS_DIR, alerts_batch, write_window};
    let batch = alerts_batch(&[segment_alert]).unwrap();
    write_window(&storage, ALERTS_DIR, T0 + 5 * MIN, &batch)
        .await
        .unwrap();

    let session = LandingSession::new(&storage).await.unwrap();
    let page = feedloop_server::http::page::charts(&session).await;
    assert!(page.errors.is_empty(), "{:?}", page.errors);
    let (mut banded, mut firing_checked, mut outside_checked) = (0, 0, 0);
    for chart in page.models.values().flatten() {
        for s in &chart.series {
            let of_series: Vec<_> = alerts
                .iter()
                .filter(|a| {
                    a.metric == s.metric
                        && a.feature == s.feature
                        && a.model_version == s.model_version
                })
                .collect();
            // [firing window start, resolving window end) per alert id.
            let mut open: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
            for a in &of_series {
                let e = open.entry(a.id.as_str()).or_insert((i64::MAX, i64::MAX));
                match state(a).as_str() {
                    "firing" => e.0 = ms(&a.window_start),
                    _ => e.1 = ms(&a.window_end),
                }
            }
            // The page marks exactly the series' own alerts.
            let mut want: Vec<(i64, i64)> = open.values().copied().collect();
            let mut marked = s.alerts.clone();
            want.sort();
            marked.sort();
            assert_eq!(marked, want, "{} ({})", s.label, chart.title);
            if s.band.is_empty() {
                continue;
            }
            banded += 1;
            for &(ts, v) in &s.points {
                let Some(&(_, low, high)) = s.band.iter().find(|b| b.0 == ts) else {
                    continue;
                };
                let outside = low.is_some_and(|l| v < l) || high.is_some_and(|h| v > h);
                let fires_here = of_series
                    .iter()
                    .any(|a| state(a) == "firing" && ms(&a.window_start) == ts);
                if fires_here {
                    firing_checked += 1;
                    assert!(
                        outside,
                        "{} fired at {ts} inside its drawn band {low:?}..{high:?}: {v}",
                        s.label
                    );
                }
                if outside {
                    outside_checked += 1;
                    assert!(
                        open.values().any(|&(a, z)| a <= ts && ts < z),
                        "{} at {ts}: {v} is outside its drawn band {low:?}..{high:?} but no alert covers it",
                        s.label
                    );
                }
            }
        }
    }
    // The latency spike (windows 20–22) fires on a banded series.
    assert!(
        banded > 0 && firing_checked > 0,
        "banded {banded}, firing {firing_checked}"
    );
    assert!(outside_checked >= firing_checked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_in_the_middle_neither_refires_nor_forgets() {
    // One uninterrupted run, for comparison.
    let dir_a = tempfile::tempdir().unwrap();
    let a = Storage::open(dir_a.path().to_str().unwrap(), []).unwrap();
    let mut next = BTreeMap::new();
    land_windows(
        &LandingZone::new(a.clone()),
        0..40,
        &mut StdRng::seed_from_u64(7),
        &mut next,
    )
    .await;
    let (mut job, all) = open_job(&a).await;
    job.tick().await.unwrap();
    let expected = summary(&all.lock().unwrap());

    // The same stream, with the job restarted while the drift alert is open.
    let dir_b = tempfile::tempdir().unwrap();
    let b = Storage::open(dir_b.path().to_str().unwrap(), []).unwrap();
    let zone = LandingZone::new(b.clone());
    let mut rng = StdRng::seed_from_u64(7);
    let mut next = BTreeMap::new();
    land_windows(&zone, 0..28, &mut rng, &mut next).await;
    let (mut job, first) = open_job(&b).await;
    job.tick().await.unwrap();
    let before = summary(&first.lock().unwrap());
    assert!(
        before
            .iter()
            .any(|a| a.0 == 25 && a.1 == "firing" && a.2 == "drift"),
        "{before:#?}"
    );
    drop(job);
    land_windows(&zone, 28..40, &mut rng, &mut next).await;
    let (mut job, second) = open_job(&b).await;
    job.tick().await.unwrap();
    let after = summary(&second.lock().unwrap());
    assert!(
        !after.iter().any(|a| a.1 == "firing" && a.0 < 28),
        "an old alert fired again: {after:#?}"
    );
    assert!(
        after
            .iter()
            .any(|a| a.0 == 30 && a.1 == "resolved" && a.3.as_deref() == Some("x")),
        "the open alert was forgotten: {after:#?}"
    );
    let mut combined = before;
    combined.extend(after);
    assert_eq!(combined, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_events_are_counted_and_two_instances_feed_one_analysis() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
    let zone = LandingZone::new(storage.clone());
    let mut rng = StdRng::seed_from_u64(3);
    let mut next = BTreeMap::new();
    // Two ingest instances: even windows land through partition 0, odd ones through partition 1.
    for w in 0..10 {
        let (p, l) = window_events(w, &mut rng);
        let part = (w % 2) as i32;
        land(&zone, StreamKind::Predictions, part, &mut next, &p).await;
        land(&zone, StreamKind::Latency, part, &mut next, &l).await;
    }
    let (mut job, _) = open_job(&storage).await;
    // Instance 1 is one window behind instance 0 (its latest event is in window
    // 9, instance 0's in window 8): the lagging instance holds the watermark, so
    // windows 0..=7 close.
    assert_eq!(job.tick().await.unwrap().len(), 8);
    // 40 events of window 3 arrive late through instance 1, then both instances move on.
    let (late, _) = window_events(3, &mut rng);
    let late: Vec<String> = late
        .into_iter()
        .take(40)
        .map(|e| e.replace("\"w3-", "\"late-w3-"))
        .collect();
    land(&zone, StreamKind::Predictions, 1, &mut next, &late).await;
    for (w, part) in [(10, 0), (11, 1)] {
        let (p, l) = window_events(w, &mut rng);
        land(&zone, StreamKind::Predictions, part, &mut next, &p).await;
        land(&zone, StreamKind::Latency, part, &mut next, &l).await;
    }
    let reports = job.tick().await.unwrap();
    assert_eq!(reports.len(), 2, "windows 8 and 9 close");
    let late_rows: Vec<_> = reports[0]
        .rows
        .iter()
        .filter(|r| r.metric == "late_events")
        .collect();
    assert_eq!(late_rows.len(), 1);
    assert_eq!((late_rows[0].window_start - T0) / MIN, 3);
    assert_eq!(late_rows[0].value, 40.0);

    let session = LandingSession::new(&storage).await.unwrap();
    let (_, b) = session
        .sql("SELECT CAST((CAST(window_start AS BIGINT) - 1795392000000) / 60000 AS BIGINT) AS w, metric, value FROM metrics WHERE segment = '{}' AND metric IN ('volume', 'late_events') ORDER BY 1, 2")
        .await
        .unwrap();
    let out = arrow::util::pretty::pretty_format_batches(&b)
        .unwrap()
        .to_string();
    // Every window holds both instances' events; window 3 keeps its on-time volume.
    assert!(out.contains("| 3 | late_events | 40.0   |"), "{out}");
    assert!(out.contains("| 3 | volume      | 1500.0 |"), "{out}");
    assert_eq!(out.matches("| volume      | 1500.0 |").count(), 10, "{out}");
}
