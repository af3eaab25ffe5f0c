//! The broker goes away: an outage mid-stream (librdkafka's mock cluster takes
//! its broker down for 30 s) pauses ingest, which says so and resumes with
//! nothing lost or doubled; a topic deleted and recreated behind feedloop's back
//! stops ingest with a clear error instead of taking new events for landed ones.

use crate::harness;

use feedloop_events::StreamKind;
use feedloop_ingest::{Ingest, IngestConfig, IngestError};
use feedloop_storage::{LandingZone, Storage};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn ingest(brokers: &str, group: &str, storage: &Storage) -> Ingest {
    let cfg = IngestConfig {
        flush_interval: Duration::from_millis(200),
        flush_max_events: 500,
        ..IngestConfig::default()
    };
    Ingest::new(
        harness::kafka_config(brokers, group),
        cfg,
        LandingZone::new(storage.clone()),
    )
}

/// Outage length: 30 s as the issue asks; `FEEDLOOP_OUTAGE_SECS` shortens it locally.
fn outage() -> Duration {
    Duration::from_secs(
        std::env::var("FEEDLOOP_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_pauses_ingest_which_resumes_with_nothing_lost_or_doubled() {
    let (cluster, brokers) = harness::mock_cluster(3);
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
    const N: usize = 8_000;
    let msgs = harness::predictions(N);
    let p = harness::producer(&brokers);
    harness::produce(&p, "predictions", &msgs[..N / 2]).await;

    let run = ingest(&brokers, "outage", &storage);
    let metrics = run.metrics();
    let running = harness::RunningIngest::start(run);
    assert!(harness::wait_landed(&storage, (N / 2) as i64, Duration::from_secs(60)).await);

    // The broker disappears; the second half is produced meanwhile (the
    // producer queues it until the broker is back).
    let errors_before = metrics.consumer_errors.load(Ordering::Relaxed);
    cluster.broker_down(1).unwrap();
    let brokers2 = brokers.clone();
    let second = msgs[N / 2..].to_vec();
    let producing = tokio::spawn(async move {
        let p = harness::producer(&brokers2);
        harness::produce(&p, "predictions", &second).await;
    });
    tokio::time::sleep(outage()).await;
    assert!(
        !running.task.is_finished(),
        "ingest must wait for the broker, not exit"
    );
    assert!(
        metrics.consumer_errors.load(Ordering::Relaxed) > errors_before,
        "the outage was not reported (consumer errors counter)"
    );
    assert_eq!(harness::landed_in(&storage).await.0, (N / 2) as i64);

    cluster.broker_up(1).unwrap();
    producing.await.unwrap();
    let done = harness::wait_landed(&storage, N as i64, Duration::from_secs(120)).await;
    running.stop().await.unwrap();
    assert!(done, "{:?}", harness::landed_in(&storage).await);
    assert_eq!(harness::landed_in(&storage).await, (N as i64, N as i64));
    harness::assert_chains_in(&storage, StreamKind::Predictions).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreated_topic_stops_ingest_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
    {
        let (_cluster, brokers) = harness::mock_cluster(3);
        let p = harness::producer(&brokers);
        harness::produce(&p, "predictions", &harness::predictions(900)).await;
        let run = ingest(&brokers, "recreated", &storage);
        let running = harness::RunningIngest::start(run);
        assert!(harness::wait_landed(&storage, 900, Duration::from_secs(60)).await);
        running.stop().await.unwrap();
    }
    // The topics are gone and recreated empty (a new cluster: offsets restart at 0).
    let (_cluster, brokers) = harness::mock_cluster(3);
    let p = harness::producer(&brokers);
    harness::produce(&p, "predictions", &harness::predictions(30)).await;
    let run = ingest(&brokers, "recreated", &storage);
    let result = tokio::time::timeout(Duration::from_secs(60), run.run(std::future::pending()))
        .await
        .expect("ingest must stop on a recreated topic, not wait");
    let err = result.expect_err("a recreated topic must stop ingest");
    assert!(matches!(err, IngestError::TopicReset { .. }), "{err}");
    assert!(!err.is_retryable());
    let msg = err.to_string();
    assert!(
        msg.contains("recreated") && msg.contains("topic=predictions/partition="),
        "{msg}"
    );
    // Nothing of the new topic was taken for landed, nothing new was written.
    assert_eq!(harness::landed_in(&storage).await, (900, 900));
}
