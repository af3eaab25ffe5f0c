//! Integration tests on librdkafka's in-process mock cluster: the real ingest
//! pipeline, in process, against a real Kafka protocol implementation.

mod harness;

use feedloop_events::StreamKind;
use feedloop_ingest::{Ingest, IngestConfig, IngestMetrics, KafkaConfig};
use feedloop_storage::{LandingZone, Storage};
use feedloop_traffic::{TrafficSpec, generate};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn kafka(brokers: &str, group: &str) -> KafkaConfig {
    let mut k = KafkaConfig {
        brokers: brokers.into(),
        group_id: group.into(),
        ..KafkaConfig::default()
    };
    k.options.insert("session.timeout.ms".into(), "6000".into());
    k.options
        .insert("heartbeat.interval.ms".into(), "500".into());
    k
}

fn cluster() -> (
    MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    String,
) {
    let c = MockCluster::new(1).unwrap();
    for t in ["predictions", "corrections", "latency"] {
        c.create_topic(t, 3, 1).unwrap();
    }
    c.create_topic("feedloop-dlq", 1, 1).unwrap();
    let b = c.bootstrap_servers();
    (c, b)
}

/// Runs ingest until `done(metrics)` or the timeout, then shuts it down gracefully.
async fn ingest_until(
    brokers: &str,
    group: &str,
    dir: &Path,
    done: impl Fn(&IngestMetrics) -> bool,
) -> Arc<IngestMetrics> {
    let storage = Storage::open(dir.to_str().unwrap(), []).unwrap();
    let cfg = IngestConfig {
        flush_interval: Duration::from_millis(300),
        flush_max_events: 700,
        ..IngestConfig::default()
    };
    let ingest = Ingest::new(kafka(brokers, group), cfg, LandingZone::new(storage));
    let metrics = ingest.metrics();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(ingest.run(async move {
        let _ = rx.await;
    }));
    let m = Arc::clone(&metrics);
    let ok = harness::wait_for(Duration::from_secs(60), || {
        let m = Arc::clone(&m);
        let d = &done;
        async move { d(&m) }
    })
    .await;
    let _ = tx.send(());
    task.await.unwrap().unwrap();
    assert!(
        ok,
        "ingest did not reach its goal in time: {:?}",
        metrics.total()
    );
    metrics
}

fn dead_letters(brokers: &str, expect: usize) -> Vec<rdkafka::message::OwnedMessage> {
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "dlq-reader")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset("feedloop-dlq", 0, rdkafka::Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while out.len() < expect && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            out.push(m.detach());
        }
    }
    // Nothing beyond what we expect.
    if let Some(Ok(m)) = c.poll(Duration::from_millis(500)) {
        out.push(m.detach());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_three_streams_land_once_and_bad_events_are_dead_lettered() {
    let (_cluster, brokers) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let traffic = generate(&TrafficSpec {
        predictions_per_model: 2000,
        bad_rate: 0.01,
        ..TrafficSpec::default()
    });
    let p = harness::producer(&brokers);
    harness::produce(&p, "predictions", &traffic.predictions).await;
    harness::produce(&p, "corrections", &traffic.corrections).await;
    harness::produce(&p, "latency", &traffic.latency).await;
    let total =
        (traffic.predictions.len() + traffic.corrections.len() + traffic.latency.len()) as u64;
    let bad = traffic.bad_predictions + traffic.bad_corrections + traffic.bad_latency;

    let m = ingest_until(&brokers, "g1", dir.path(), |m| {
        let t = m.total();
        t.landed + t.dead_lettered >= total
    })
    .await;

    for (stream, msgs, bad) in [
        (
            StreamKind::Predictions,
            &traffic.predictions,
            traffic.bad_predictions,
        ),
        (
            StreamKind::Corrections,
            &traffic.corrections,
            traffic.bad_corrections,
        ),
        (StreamKind::Latency, &traffic.latency, traffic.bad_latency),
    ] {
        let c = m.stream(stream).snapshot();
        assert_eq!(c.landed as usize, msgs.len() - bad, "{stream}");
        assert_eq!(c.dead_lettered as usize, bad, "{stream}");
        let (rows, ids, offsets) = harness::landed(dir.path(), stream.table_name()).await;
        assert_eq!(rows as usize, msgs.len() - bad, "{stream} rows");
        assert_eq!(offsets, rows, "{stream}: an offset landed twice");
        if stream != StreamKind::Latency {
            assert_eq!(ids, rows, "{stream}: a prediction id landed twice");
        }
        assert!(harness::assert_chains(dir.path(), stream).await > 0);
    }

    let dl = dead_letters(&brokers, bad);
    assert_eq!(
        dl.len(),
        bad,
        "every bad event is dead-lettered exactly once"
    );
    for m in &dl {
        let h = |k: &str| {
            m.headers()
                .and_then(|h| {
                    h.iter()
                        .find(|h| h.key == k)
                        .and_then(|h| h.value.map(|v| String::from_utf8_lossy(v).into_owned()))
                })
                .unwrap_or_else(|| panic!("dead letter without header {k}"))
        };
        assert!(!h("feedloop.error").is_empty());
        let topic = h("feedloop.source.topic");
        let offset: i64 = h("feedloop.source.offset").parse().unwrap();
        let partition: i32 = h("feedloop.source.partition").parse().unwrap();
        assert!(["predictions", "corrections", "latency"].contains(&topic.as_str()));
        assert!(offset >= 0 && (0..3).contains(&partition));
        // The original bytes are preserved.
        let payload = m.payload().unwrap_or_default();
        let originals = match topic.as_str() {
            "predictions" => &traffic.predictions,
            "corrections" => &traffic.corrections,
            _ => &traffic.latency,
        };
        assert!(
            originals.iter().any(|(_, p)| p.as_slice() == payload),
            "payload of a dead letter was altered"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_features_appear_mid_stream_without_restart() {
    let (_cluster, brokers) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let p = harness::producer(&brokers);
    let first: Vec<_> = (0..500)
        .map(|i| {
            (
                Some(format!("a{i}")),
                harness::prediction(&format!("a{i}"), "m1", None),
            )
        })
        .collect();
    let later: Vec<_> = (0..300)
        .map(|i| {
            (
                Some(format!("b{i}")),
                harness::prediction(&format!("b{i}"), "m2", Some(("new_signal", i as f64))),
            )
        })
        .collect();
    harness::produce(&p, "predictions", &first).await;
    // While the pipeline runs, once the first 500 have landed, a new model with a
    // new feature starts producing: no restart, no config change.
    let dir_path = dir.path().to_path_buf();
    let late = tokio::spawn(async move {
        assert!(
            harness::wait_for(Duration::from_secs(60), || harness::landed_at_least(
                &dir_path, 500
            ))
            .await
        );
        harness::produce(&p, "predictions", &later).await;
    });
    let m = ingest_until(&brokers, "g-evolve", dir.path(), |m| {
        m.predictions
            .landed
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 800
    })
    .await;
    late.await.unwrap();
    assert_eq!(m.total().landed, 800);

    let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
    let s = feedloop_analytics::LandingSession::new(&storage)
        .await
        .unwrap();
    let (_, b) = s
        .sql("SELECT e['key'] AS feature, count(*) AS n, sum(e['value']['number']) AS total FROM (SELECT unnest(map_entries(features)) AS e FROM predictions) GROUP BY 1 ORDER BY 1")
        .await
        .unwrap();
    let out = arrow::util::pretty::pretty_format_batches(&b)
        .unwrap()
        .to_string();
    assert!(out.contains("| new_signal | 300 | 44850.0 |"), "{out}");
    assert!(out.contains("| x          | 800 |"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_resume_from_storage_not_from_kafka() {
    let (_cluster, brokers) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let p = harness::producer(&brokers);
    let batch = |from: usize, n: usize| -> Vec<_> {
        (from..from + n)
            .map(|i| {
                (
                    Some(format!("p{i}")),
                    harness::prediction(&format!("p{i}"), "m", None),
                )
            })
            .collect()
    };
    harness::produce(&p, "predictions", &batch(0, 3000)).await;
    ingest_until(&brokers, "g", dir.path(), |m| m.total().landed >= 3000).await;
    harness::produce(&p, "predictions", &batch(3000, 3000)).await;
    let second = ingest_until(&brokers, "g", dir.path(), |m| m.total().landed >= 3000).await;
    assert_eq!(
        second.total().skipped_landed,
        0,
        "the committed offsets were honoured"
    );
    // A group that never committed anything re-reads the topic from the start, and
    // storage tells it everything is already landed.
    let third = ingest_until(&brokers, "another-group", dir.path(), |m| {
        m.total().skipped_landed >= 6000
    })
    .await;
    assert_eq!(third.total().landed, 0);
    let (rows, ids, _) = harness::landed(dir.path(), "predictions").await;
    assert_eq!((rows, ids), (6000, 6000));
    harness::assert_chains(dir.path(), StreamKind::Predictions).await;
}
