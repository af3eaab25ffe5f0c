//! End-to-end tests against a standalone Kafka-compatible broker process
//! (`nisshi`, started on 127.0.0.1 by the harness) and `feedloop` child
//! processes: the CLI path, and crash tests that SIGKILL the pipeline at random
//! moments while 200k events flow.

mod harness;

use feedloop_events::StreamKind;
use harness::{FeedloopProc, Nisshi};
use rand::{Rng, SeedableRng};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn seed() -> u64 {
    let s = std::env::var("FEEDLOOP_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("seed: {s} (rerun with FEEDLOOP_TEST_SEED={s})");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_produce_run_query_against_a_real_broker() {
    let broker = Nisshi::start();
    broker.create_feedloop_topics(2);
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("store");
    let cfg = harness::write_config(dir.path(), &broker.brokers, "e2e", &storage, "500ms");
    let traffic = feedloop_traffic::generate(&feedloop_traffic::TrafficSpec {
        predictions_per_model: 1500,
        bad_rate: 0.0,
        ..Default::default()
    });
    for (topic, msgs) in [
        ("predictions", &traffic.predictions),
        ("corrections", &traffic.corrections),
        ("latency", &traffic.latency),
    ] {
        let file = dir.path().join(format!("{topic}.jsonl"));
        let body: Vec<u8> = msgs
            .iter()
            .flat_map(|(_, p)| p.iter().copied().chain([b'\n']))
            .collect();
        std::fs::write(&file, body).unwrap();
        let out = Command::new(harness::feedloop_bin())
            .args(["produce", "--config"])
            .arg(&cfg)
            .args(["--topic", topic])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("produced {} messages to {topic}", msgs.len())
        );
    }
    let run = FeedloopProc::run(&cfg, &dir.path().join("run.log"));
    let want = traffic.predictions.len() as i64;
    let ok = harness::wait_for(Duration::from_secs(90), || {
        harness::landed_at_least(&storage, want)
    })
    .await;
    assert!(
        ok,
        "not landed in time; log:\n{}",
        std::fs::read_to_string(dir.path().join("run.log")).unwrap_or_default()
    );
    assert!(
        harness::wait_for(Duration::from_secs(30), || async {
            harness::landed(&storage, "latency").await.0 == traffic.latency.len() as i64
                && harness::landed(&storage, "corrections").await.0
                    == traffic.corrections.len() as i64
        })
        .await
    );
    assert!(
        run.terminate(Duration::from_secs(30)),
        "feedloop run did not exit cleanly on SIGTERM"
    );

    let out = Command::new(harness::feedloop_bin())
        .args(["query", "--config"])
        .arg(&cfg)
        .args([
            "--format",
            "csv",
            "SELECT model, count(*) AS n FROM predictions GROUP BY model ORDER BY model",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "model,n\nhouse-price,1500\nspam-filter,1500\n"
    );
}

/// Produces valid predictions `id-0000000`, … in chunks of `chunk` with a
/// pause after each (plus a malformed message after every fourth chunk), until
/// `stop` is set or `max` valid ones are sent: a stream that lasts as long as
/// the kills below. Returns how many valid ones the broker acknowledged.
async fn produce_stream(
    brokers: String,
    stop: Arc<AtomicBool>,
    max: usize,
    chunk: usize,
    pause: Duration,
) -> usize {
    let p = harness::producer(&brokers);
    let (mut sent, mut acked, mut chunks) = (0, 0, 0);
    while sent < max && !stop.load(Ordering::Relaxed) {
        let k = chunk.min(max - sent);
        let msgs: Vec<_> = (sent..sent + k)
            .map(|i| {
                (
                    Some(format!("id-{i:07}")),
                    harness::prediction(&format!("id-{i:07}"), "crash-model", None),
                )
            })
            .collect();
        acked += harness::produce(&p, "predictions", &msgs).await;
        if chunks % 4 == 0 {
            harness::produce(&p, "predictions", &[(None, b"{not json".to_vec())]).await;
        }
        sent += k;
        chunks += 1;
        tokio::time::sleep(pause).await;
    }
    eprintln!("producer: {sent} valid events sent, {acked} acknowledged by the broker");
    acked
}

/// What one scrape of a process's `/metrics` showed.
struct Scrape {
    at: Instant,
    assigned: f64,
    uncommitted: f64,
}

async fn scrape(port: u16) -> Option<Scrape> {
    let body = tokio::task::spawn_blocking(move || harness::scrape_metrics(port))
        .await
        .unwrap()?;
    let sum = |name| harness::prometheus::metric_sum(&body, name).unwrap_or(0.0);
    Some(Scrape {
        at: Instant::now(),
        assigned: sum("feedloop_assigned_partitions"),
        uncommitted: sum("feedloop_uncommitted_messages"),
    })
}

/// Longest wait for a new process to own partitions and consume (a fresh
/// member waits for the group to drop the member killed before it: a 6 s
/// session timeout).
const SIGNAL_WITHIN: Duration = Duration::from_secs(30);
/// Longest wait, after the random delay, for a scrape showing in-flight data.
const KILL_WITHIN: Duration = Duration::from_secs(5);
const SCRAPE_EVERY: Duration = Duration::from_millis(15);

/// SIGKILLs `proc` (serving `/metrics` on `port`) while it holds messages it
/// consumed past its committed offsets: waits until it owns partitions and
/// shows `feedloop_uncommitted_messages` > 0, then a random 0–1.5 s, then
/// kills it right after a scrape that shows uncommitted messages again. Every
/// wait is bounded; when a bound runs out it kills anyway. Returns whether the
/// kill hit in-flight data: the last scrape before the SIGKILL showed
/// uncommitted messages.
async fn kill_in_flight(
    i: usize,
    proc: FeedloopProc,
    port: u16,
    rng: &mut rand::rngs::StdRng,
    storage: &std::path::Path,
) -> bool {
    let started = Instant::now();
    let delay = Duration::from_millis(rng.random_range(0..1500));
    let mut last = None;
    let mut seen = None;
    while started.elapsed() < SIGNAL_WITHIN {
        last = scrape(port).await;
        if let Some(s) = &last
            && s.assigned >= 1.0
            && s.uncommitted > 0.0
        {
            seen = Some(s.at);
            break;
        }
        tokio::time::sleep(SCRAPE_EVERY).await;
    }
    if let Some(seen) = seen {
        let fire_at = seen + delay;
        loop {
            let now = Instant::now();
            if now >= fire_at && last.as_ref().is_some_and(|s| s.uncommitted > 0.0) {
                break;
            }
            if now >= fire_at + KILL_WITHIN {
                break;
            }
            tokio::time::sleep(SCRAPE_EVERY.min(fire_at.saturating_duration_since(now))).await;
            last = scrape(port).await;
        }
    }
    let killed_at = started.elapsed();
    let scraped_before = last.as_ref().map(|s| s.at.elapsed());
    proc.kill9();
    let hit = last.as_ref().is_some_and(|s| s.uncommitted > 0.0);
    let shown = match (&last, scraped_before) {
        (Some(s), Some(before)) => format!(
            "{} partitions, {} uncommitted messages in the last scrape ({before:.1?} before the SIGKILL)",
            s.assigned, s.uncommitted
        ),
        _ => "no /metrics answer in the last scrape".to_string(),
    };
    let timing = match seen {
        Some(_) => format!("{delay:?} after in-flight data first showed"),
        None => format!("in-flight data never showed within {SIGNAL_WITHIN:?}"),
    };
    eprintln!(
        "kill #{i} at {killed_at:.2?} after start ({timing}): {shown} => {}; landed so far: {}",
        if hit { "hit in-flight data" } else { "MISS" },
        harness::landed(storage, "predictions").await.0
    );
    hit
}

/// Asserts that most kills hit a process holding in-flight data.
fn assert_most_kills_hit(hits: usize, kills: usize, log: &std::path::Path) {
    eprintln!("kills that hit in-flight data: {hits} of {kills}");
    assert!(
        2 * hits > kills,
        "only {hits} of {kills} kills hit a process holding consumed but uncommitted messages; log tail:\n{}",
        tail(log)
    );
}

async fn finish_and_check(
    storage: &std::path::Path,
    n: usize,
    procs: Vec<FeedloopProc>,
    log: &std::path::Path,
) {
    assert!(n > 0, "the broker acknowledged no event");
    let ok = harness::wait_for(Duration::from_secs(240), || {
        harness::landed_at_least(storage, n as i64)
    })
    .await;
    // Give any duplicate a chance to show up before checking.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for p in procs {
        assert!(
            p.terminate(Duration::from_secs(60)),
            "graceful shutdown failed"
        );
    }
    let (rows, ids, offsets) = harness::landed(storage, "predictions").await;
    assert!(ok, "only {rows} of {n} landed; log tail:\n{}", tail(log));
    assert_eq!(rows as usize, n, "rows landed");
    assert_eq!(ids as usize, n, "every event id exactly once");
    assert_eq!(offsets, rows, "every offset exactly once");
    let files = harness::assert_chains(storage, StreamKind::Predictions).await;
    eprintln!("{n} events in {files} files, exactly once");
}

fn tail(log: &std::path::Path) -> String {
    let s = std::fs::read_to_string(log).unwrap_or_default();
    s.lines()
        .rev()
        .take(40)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    let broker = Nisshi::start();
    broker.create_feedloop_topics(4);
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("store");
    let log = dir.path().join("run.log");
    let cfg = harness::write_config(dir.path(), &broker.brokers, "crash", &storage, "300ms");
    let stop = Arc::new(AtomicBool::new(false));
    let producer = tokio::spawn(produce_stream(
        broker.brokers.clone(),
        Arc::clone(&stop),
        MAX_EVENTS,
        CHUNK,
        PAUSE,
    ));

    const KILLS: usize = 6;
    let mut hits = 0;
    for i in 0..KILLS {
        let (proc, port) = harness::run_with_http(&cfg, &log);
        hits += usize::from(kill_in_flight(i, proc, port, &mut rng, &storage).await);
    }
    stop.store(true, Ordering::Relaxed);
    let n = producer.await.unwrap();
    let last = FeedloopProc::run(&cfg, &log);
    finish_and_check(&storage, n, vec![last], &log).await;
    assert_most_kills_hit(hits, KILLS, &log);
}

/// The crash tests' stream: a few thousand events a second until the kills
/// are over (about 100k events in all).
const CHUNK: usize = 1_000;
const PAUSE: Duration = Duration::from_millis(250);
const MAX_EVENTS: usize = 200_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_one_of_two_group_members_repeatedly() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    let broker = Nisshi::start();
    broker.create_feedloop_topics(4);
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("store");
    let log = dir.path().join("run.log");
    let cfg = harness::write_config(dir.path(), &broker.brokers, "pair", &storage, "300ms");
    let stop = Arc::new(AtomicBool::new(false));
    let producer = tokio::spawn(produce_stream(
        broker.brokers.clone(),
        Arc::clone(&stop),
        MAX_EVENTS,
        CHUNK,
        PAUSE,
    ));

    let steady = FeedloopProc::run(&cfg, &log);
    const KILLS: usize = 5;
    let mut hits = 0;
    for i in 0..KILLS {
        let (victim, port) = harness::run_with_http(&cfg, &log);
        hits += usize::from(kill_in_flight(i, victim, port, &mut rng, &storage).await);
    }
    stop.store(true, Ordering::Relaxed);
    let n = producer.await.unwrap();
    let second = FeedloopProc::run(&cfg, &log);
    finish_and_check(&storage, n, vec![steady, second], &log).await;
    assert_most_kills_hit(hits, KILLS, &log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_raises_and_resolves_alerts_on_kafka_webhook_and_log() {
    const MINUTE: i64 = 60_000;
    let broker = Nisshi::start();
    broker.create_feedloop_topics(2);
    broker.create_topic("feedloop-alerts", 1);
    let (port, hooked) = harness::webhook_server().await;
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("store");
    let log = dir.path().join("run.log");
    let cfg = harness::write_config(dir.path(), &broker.brokers, "alerting", &storage, "300ms");
    let mut body = std::fs::read_to_string(&cfg).unwrap();
    body.push_str(&format!(
        "[windows]\nsize = \"1m\"\nallowed_lateness = \"2m\"\npoll_interval = \"500ms\"\n\
         [alerts]\nk = 3.0\nconsecutive = 2\nwebhook = \"http://127.0.0.1:{port}/hook\"\n"
    ));
    std::fs::write(&cfg, body).unwrap();

    // 36 one-minute windows; house-price latency ×4 and a spam-filter drift from minute 24 to 28.
    let spec = feedloop_traffic::TrafficSpec::default();
    let incident = (spec.start_ms + 24 * MINUTE, spec.start_ms + 28 * MINUTE);
    const PER_MINUTE: usize = 400;
    let traffic = feedloop_traffic::generate(&feedloop_traffic::TrafficSpec {
        predictions_per_model: 36 * PER_MINUTE,
        span_ms: 36 * MINUTE,
        incident: Some(incident),
        bad_rate: 0.0,
        ..spec
    });
    let run = FeedloopProc::run(&cfg, &log);
    // A live stream: one minute of event time at a time (both models, predictions
    // and latency), so every partition keeps landing as the watermark advances.
    let brokers = broker.brokers.clone();
    let producing = tokio::spawn(async move {
        let p = harness::producer(&brokers);
        let chunk = 2 * PER_MINUTE;
        for m in 0..36 {
            harness::produce(
                &p,
                "predictions",
                &traffic.predictions[m * chunk..(m + 1) * chunk],
            )
            .await;
            harness::produce(&p, "latency", &traffic.latency[m * chunk..(m + 1) * chunk]).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });

    let key = |a: &serde_json::Value| {
        (
            a["model"].as_str().unwrap_or_default().to_string(),
            a["metric"].as_str().unwrap_or_default().to_string(),
            a["feature"].as_str().map(str::to_string),
            a["state"].as_str().unwrap_or_default().to_string(),
        )
    };
    let wanted = [
        ("house-price", "latency_p95", None, "firing"),
        ("house-price", "latency_p95", None, "resolved"),
        ("spam-filter", "drift", Some("sender_reputation"), "firing"),
        (
            "spam-filter",
            "drift",
            Some("sender_reputation"),
            "resolved",
        ),
    ];
    let have_all = |alerts: &[serde_json::Value]| {
        wanted.iter().all(|w| {
            alerts.iter().any(|a| {
                let k = key(a);
                k.0 == w.0
                    && k.1 == w.1
                    && k.2.as_deref() == w.2
                    && k.3 == w.3
                    && a["segment"] == serde_json::json!({})
            })
        })
    };
    let ok = harness::wait_for(Duration::from_secs(240), || {
        let hooked = std::sync::Arc::clone(&hooked);
        async move { have_all(&hooked.lock().unwrap()) }
    })
    .await;
    producing.await.unwrap();
    assert!(
        ok,
        "webhook got {:#?}\nlog tail:\n{}",
        hooked.lock().unwrap().iter().map(key).collect::<Vec<_>>(),
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(run.terminate(Duration::from_secs(60)));

    let on_kafka = harness::consume_all(&broker.brokers, "feedloop-alerts");
    assert!(
        have_all(&on_kafka),
        "{:#?}",
        on_kafka.iter().map(key).collect::<Vec<_>>()
    );
    // The firing and resolved alert of a series share their id, and fired in the incident.
    for (model, metric) in [("house-price", "latency_p95"), ("spam-filter", "drift")] {
        let series: Vec<_> = on_kafka
            .iter()
            .filter(|a| {
                a["model"] == model
                    && a["metric"] == metric
                    && a["segment"] == serde_json::json!({})
            })
            .collect();
        let firing = series.iter().find(|a| a["state"] == "firing").unwrap();
        let resolved = series.iter().find(|a| a["state"] == "resolved").unwrap();
        assert_eq!(firing["id"], resolved["id"]);
        let at = chrono::DateTime::parse_from_rfc3339(firing["window_start"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
        assert!(
            at >= incident.0 && at < incident.1,
            "{model} {metric} fired outside the incident: {firing}"
        );
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("latency_p95 of house-price"),
        "alerts are logged"
    );

    // The metrics and alerts tables are queryable.
    let out = Command::new(harness::feedloop_bin())
        .args(["query", "--config"])
        .arg(&cfg)
        .args(["--format", "csv", "SELECT count(*) > 0 AS has_firing FROM alerts WHERE state = 'firing' AND metric = 'latency_p95'"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "has_firing\ntrue\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_export_in_run_writes_the_user_labelled_wrong_predictions() {
    let broker = Nisshi::start();
    broker.create_feedloop_topics(2);
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("store");
    let log = dir.path().join("run.log");
    let cfg = harness::write_config(dir.path(), &broker.brokers, "exporting", &storage, "300ms");
    let mut body = std::fs::read_to_string(&cfg).unwrap();
    body.push_str("[windows]\nenabled = false\n[[export.datasets]]\nname = \"retrain\"\nmodel = \"spam-filter\"\npolicy = \"wrong\"\nevery = \"2s\"\n");
    std::fs::write(&cfg, body).unwrap();
    let traffic = feedloop_traffic::generate(&feedloop_traffic::TrafficSpec {
        predictions_per_model: 3000,
        bad_rate: 0.0,
        ..Default::default()
    });
    // The known answer: spam-filter predictions whose (only) correction disagrees.
    let mut predicted = std::collections::HashMap::new();
    for (_, p) in &traffic.predictions {
        let v: serde_json::Value = serde_json::from_slice(p).unwrap();
        if v["model"] == "spam-filter" {
            predicted.insert(
                v["prediction_id"].as_str().unwrap().to_string(),
                v["output"]["label"].as_str().unwrap().to_string(),
            );
        }
    }
    let mut wrong = std::collections::BTreeSet::new();
    for (_, c) in &traffic.corrections {
        let v: serde_json::Value = serde_json::from_slice(c).unwrap();
        if let (Some(label), Some(p)) = (
            v["label"].as_str(),
            predicted.get(v["prediction_id"].as_str().unwrap()),
        ) && label != p
        {
            wrong.insert(v["prediction_id"].as_str().unwrap().to_string());
        }
    }
    assert!(wrong.len() > 50);
    let p = harness::producer(&broker.brokers);
    harness::produce(&p, "predictions", &traffic.predictions).await;
    harness::produce(&p, "corrections", &traffic.corrections).await;
    let run = FeedloopProc::run(&cfg, &log);

    // Versions are content hashes: each scheduled run over new data commits a new
    // one; wait for the version that holds every wrong prediction.
    let manifests = |dir: &std::path::Path| -> Vec<serde_json::Value> {
        let root = dir.join("datasets/spam-filter/retrain");
        std::fs::read_dir(&root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("_manifest.json")).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect()
    };
    let want = wrong.len() as u64;
    let ok = harness::wait_for(Duration::from_secs(120), || {
        let storage = storage.clone();
        async move { manifests(&storage).iter().any(|m| m["row_count"] == want) }
    })
    .await;
    assert!(
        ok,
        "no scheduled export with {want} rows: {:?}\n{}",
        manifests(&storage)
            .iter()
            .map(|m| m["row_count"].clone())
            .collect::<Vec<_>>(),
        tail(&log)
    );
    assert!(run.terminate(Duration::from_secs(30)));
    let m = manifests(&storage)
        .into_iter()
        .find(|m| m["row_count"] == want)
        .unwrap();
    assert_eq!(m["policy"], "wrong");
    assert!(
        m["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["sha256"].as_str().is_some_and(|s| s.len() == 64))
    );
}
