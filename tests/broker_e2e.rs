//! End-to-end tests against a standalone Kafka-compatible broker process
//! (`nisshi`, started on 127.0.0.1 by the harness) and `feedloop` child
//! processes: the CLI path, and crash tests that SIGKILL the pipeline at random
//! moments while 200k events flow.

mod harness;

use feedloop_events::StreamKind;
use harness::{FeedloopProc, Nisshi};
use rand::{Rng, SeedableRng};
use std::process::Command;
use std::time::Duration;

fn seed() -> u64 {
    let s = std::env::var("FEEDLOOP_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
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
    let traffic = feedloop_cli::traffic::generate(&feedloop_cli::traffic::TrafficSpec {
        predictions_per_model: 1500,
        bad_rate: 0.0,
        ..Default::default()
    });
    for (topic, msgs) in [("predictions", &traffic.predictions), ("corrections", &traffic.corrections), ("latency", &traffic.latency)] {
        let file = dir.path().join(format!("{topic}.jsonl"));
        let body: Vec<u8> = msgs.iter().flat_map(|(_, p)| p.iter().copied().chain([b'\n'])).collect();
        std::fs::write(&file, body).unwrap();
        let out = Command::new(harness::feedloop_bin())
            .args(["produce", "--config"])
            .arg(&cfg)
            .args(["--topic", topic])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("produced {} messages to {topic}", msgs.len()));
    }
    let run = FeedloopProc::run(&cfg, &dir.path().join("run.log"));
    let want = traffic.predictions.len() as i64;
    let ok = harness::wait_for(Duration::from_secs(90), || harness::landed_at_least(&storage, want)).await;
    assert!(ok, "not landed in time; log:\n{}", std::fs::read_to_string(dir.path().join("run.log")).unwrap_or_default());
    assert!(harness::wait_for(Duration::from_secs(30), || async {
        harness::landed(&storage, "latency").await.0 == traffic.latency.len() as i64
            && harness::landed(&storage, "corrections").await.0 == traffic.corrections.len() as i64
    })
    .await);
    assert!(run.terminate(Duration::from_secs(30)), "feedloop run did not exit cleanly on SIGTERM");

    let out = Command::new(harness::feedloop_bin())
        .args(["query", "--config"])
        .arg(&cfg)
        .args(["--format", "csv", "SELECT model, count(*) AS n FROM predictions GROUP BY model ORDER BY model"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "model,n\nhouse-price,1500\nspam-filter,1500\n");
}

/// Produces `n` valid predictions (plus 0.5% malformed ones) in chunks, slowly
/// enough that the kills below land mid-stream. Returns the number of valid ones.
async fn produce_stream(brokers: String, n: usize, chunk: usize, pause: Duration) -> usize {
    let p = harness::producer(&brokers);
    let mut sent = 0;
    while sent < n {
        let k = chunk.min(n - sent);
        let mut msgs: Vec<_> = (sent..sent + k)
            .map(|i| (Some(format!("id-{i:07}")), harness::prediction(&format!("id-{i:07}"), "crash-model", None)))
            .collect();
        if sent % (chunk * 4) == 0 {
            msgs.push((None, b"{not json".to_vec()));
        }
        harness::produce(&p, "predictions", &msgs).await;
        sent += k;
        tokio::time::sleep(pause).await;
    }
    n
}

async fn finish_and_check(storage: &std::path::Path, n: usize, procs: Vec<FeedloopProc>, log: &std::path::Path) {
    let ok = harness::wait_for(Duration::from_secs(240), || harness::landed_at_least(storage, n as i64)).await;
    // Give any duplicate a chance to show up before checking.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for p in procs {
        assert!(p.terminate(Duration::from_secs(60)), "graceful shutdown failed");
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
    s.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
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
    let n = 200_000;
    let producer = tokio::spawn(produce_stream(broker.brokers.clone(), n, 10_000, Duration::from_millis(400)));

    for i in 0..6 {
        let proc = FeedloopProc::run(&cfg, &log);
        let after = Duration::from_millis(rng.random_range(1500..5000));
        tokio::time::sleep(after).await;
        eprintln!("kill #{i} after {after:?}; landed so far: {}", harness::landed(&storage, "predictions").await.0);
        proc.kill9();
    }
    assert_eq!(producer.await.unwrap(), n);
    let last = FeedloopProc::run(&cfg, &log);
    finish_and_check(&storage, n, vec![last], &log).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_one_of_two_group_members_repeatedly() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    let broker = Nisshi::start();
    broker.create_feedloop_topics(4);
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("store");
    let log = dir.path().join("run.log");
    let cfg = harness::write_config(dir.path(), &broker.brokers, "pair", &storage, "300ms");
    let n = 200_000;
    let producer = tokio::spawn(produce_stream(broker.brokers.clone(), n, 10_000, Duration::from_millis(400)));

    let steady = FeedloopProc::run(&cfg, &log);
    for i in 0..5 {
        let victim = FeedloopProc::run(&cfg, &log);
        let after = Duration::from_millis(rng.random_range(2000..7000));
        tokio::time::sleep(after).await;
        eprintln!("kill #{i} after {after:?}; landed so far: {}", harness::landed(&storage, "predictions").await.0);
        victim.kill9();
    }
    assert_eq!(producer.await.unwrap(), n);
    let second = FeedloopProc::run(&cfg, &log);
    finish_and_check(&storage, n, vec![steady, second], &log).await;
}
