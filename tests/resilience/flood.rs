//! Floods of bad input: hostile messages (malformed, oversized, deeply nested,
//! invalid UTF-8, wrong types, empty) interleaved with valid ones. Every valid
//! event lands once, every bad one is dead-lettered once with its reason and
//! source offset, memory stays bounded, and when the dead-letter topic cannot
//! be written consumption pauses instead of dropping.
//!
//! Size: `FEEDLOOP_FLOOD_MESSAGES` (default 100 000 in the test suite; the
//! 1 000 000-message run is recorded in BENCHMARKS.md).

use crate::harness;

use feedloop_events::Limits;
use feedloop_ingest::{Ingest, IngestConfig};
use feedloop_storage::Storage;
use rand::{Rng, SeedableRng};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use std::collections::BTreeMap;
use std::time::Duration;

fn flood_size() -> usize {
    std::env::var("FEEDLOOP_FLOOD_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

const MAX_EVENT_BYTES: usize = 64 * 1024;

/// One hostile message of kind `k`, and that kind's name.
fn hostile(k: u32, i: usize, rng: &mut rand::rngs::StdRng) -> (&'static str, Vec<u8>) {
    match k {
        0 => (
            "malformed",
            format!("{{\"prediction_id\": \"b-{i}\", ").into_bytes(),
        ),
        1 => ("oversized", {
            let mut v = harness::prediction(&format!("b-{i}"), "spam-filter", None);
            v.truncate(v.len() - 1);
            v.extend_from_slice(b",\"tags\":{\"pad\":\"");
            v.extend(std::iter::repeat_n(b'x', MAX_EVENT_BYTES));
            v.extend_from_slice(b"\"}}");
            v
        }),
        2 => ("deeply nested", {
            let depth = 5_000 + rng.random_range(0..5_000);
            let mut v = b"{\"prediction_id\":".to_vec();
            v.extend(std::iter::repeat_n(b'[', depth));
            v.extend(std::iter::repeat_n(b']', depth));
            v.push(b'}');
            v
        }),
        3 => ("invalid utf-8", {
            let mut v = harness::prediction(&format!("b-{i}"), "spam-filter", None);
            let at = v.len() / 2;
            v[at] = 0xff;
            v[at + 1] = 0xfe;
            v
        }),
        4 => ("wrong types", {
            let mut e: serde_json::Value = serde_json::from_slice(&harness::prediction(
                &format!("b-{i}"),
                "spam-filter",
                None,
            ))
            .unwrap();
            e["ts"] = serde_json::json!("yesterday");
            serde_json::to_vec(&e).unwrap()
        }),
        5 => ("empty", Vec::new()),
        6 => ("not an object", b"[1,2,3]".to_vec()),
        _ => (
            "random bytes",
            (0..rng.random_range(1..200))
                .map(|_| rng.random())
                .collect(),
        ),
    }
}

struct Flood {
    msgs: Vec<(Option<String>, Vec<u8>)>,
    valid: usize,
    bad_by_kind: BTreeMap<&'static str, usize>,
    /// Index in `msgs` of the first hostile message.
    first_bad: Option<usize>,
}

fn flood(n: usize, seed: u64) -> Flood {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut msgs = Vec::with_capacity(n);
    let (mut valid, mut bad_by_kind, mut first_bad) = (0, BTreeMap::new(), None);
    for i in 0..n {
        if rng.random_bool(0.5) {
            msgs.push((
                Some(format!("k{i}")),
                harness::prediction(&format!("p-{i}"), "spam-filter", None),
            ));
            valid += 1;
        } else {
            // Oversized and deeply nested ones are big: 1 in 500 of the bad.
            let k = if rng.random_bool(0.002) {
                rng.random_range(1..=2)
            } else {
                [0, 3, 4, 5, 6, 7][rng.random_range(0..6)]
            };
            let (kind, bytes) = hostile(k, i, &mut rng);
            *bad_by_kind.entry(kind).or_insert(0) += 1;
            first_bad.get_or_insert(i);
            msgs.push((Some(format!("k{i}")), bytes));
        }
    }
    Flood {
        msgs,
        valid,
        bad_by_kind,
        first_bad,
    }
}

fn ingest(brokers: &str, group: &str, storage: &Storage) -> Ingest {
    let cfg = IngestConfig {
        flush_interval: Duration::from_millis(500),
        flush_max_events: 20_000,
        limits: Limits {
            max_event_bytes: MAX_EVENT_BYTES,
            ..Limits::default()
        },
        ..IngestConfig::default()
    };
    harness::ingest_into(brokers, group, storage.clone(), cfg)
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|pages| pages * 4096.0 / 1048576.0)
        .unwrap_or(0.0)
}

/// Dead letters on the topic: (count, count per reason prefix); every one has
/// a reason and its source offset.
fn read_dead_letters(brokers: &str, expect: usize) -> usize {
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "dlq-reader")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset("feedloop-dlq", 0, rdkafka::Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut n = 0;
    let mut idle = 0;
    let mut offsets = std::collections::HashSet::new();
    while idle < 20 && n <= expect {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                idle = 0;
                n += 1;
                let h = |k: &str| {
                    m.headers()
                        .and_then(|h| {
                            h.iter().find(|h| h.key == k).and_then(|h| {
                                h.value.map(|v| String::from_utf8_lossy(v).into_owned())
                            })
                        })
                        .unwrap_or_else(|| panic!("dead letter without header {k}"))
                };
                assert!(!h("feedloop.error").is_empty());
                let src = (h("feedloop.source.partition"), h("feedloop.source.offset"));
                assert!(offsets.insert(src.clone()), "dead-lettered twice: {src:?}");
            }
            _ => idle += 1,
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_hostile_messages_lands_every_valid_event_and_dead_letters_every_bad_one() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    let n = flood_size();
    // A real broker: librdkafka's mock broker stops serving a partition after
    // some batches holding tens-of-KiB messages (seen here with the oversized and
    // deeply nested ones), which a real broker does not.
    let broker = harness::Nisshi::start();
    broker.create_feedloop_topics(3);
    let brokers = broker.brokers.clone();
    let f = flood(n, 7);
    let bad: usize = f.bad_by_kind.values().sum();
    eprintln!(
        "flood: {n} messages, {} valid, bad {:?}",
        f.valid, f.bad_by_kind
    );
    let p = harness::producer(&brokers);
    for chunk in f.msgs.chunks(50_000) {
        harness::produce(&p, "predictions", chunk).await;
    }
    let valid = f.valid;
    drop(f);

    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
    let run = ingest(&brokers, "flood", &storage);
    let metrics = run.metrics();
    let started = std::time::Instant::now();
    let rss_start = rss_mib();
    let running = harness::RunningIngest::start(run);
    let mut rss_peak = rss_start;
    let deadline = started + Duration::from_secs(600);
    loop {
        let s = metrics.predictions.snapshot();
        rss_peak = rss_peak.max(rss_mib());
        if s.landed as usize >= valid && s.dead_lettered as usize >= bad {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "flood not absorbed: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let took = started.elapsed();
    running.stop().await.unwrap();
    eprintln!(
        "flood absorbed in {:.1}s ({:.0} msg/s); RSS {rss_start:.0} MiB at start, peak {rss_peak:.0} MiB",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    let s = metrics.predictions.snapshot();
    assert_eq!(s.landed as usize, valid);
    assert_eq!(s.dead_lettered as usize, bad);
    harness::assert_landed_once(&storage, valid as i64).await;
    assert_eq!(read_dead_letters(&brokers, bad), bad);
    // Bounded memory: ingest's buffers are capped by `max_inflight_bytes`, not
    // by the size of the backlog (the mock broker's own log is in this process too).
    assert!(
        rss_peak - rss_start < 1024.0,
        "RSS grew by {:.0} MiB while absorbing the flood",
        rss_peak - rss_start
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_dead_letter_topic_pauses_consumption_instead_of_dropping() {
    let (cluster, brokers) = harness::mock_cluster(1);
    let f = flood(4_000, 11);
    let bad: usize = f.bad_by_kind.values().sum();
    let p = harness::producer(&brokers);
    harness::produce(&p, "predictions", &f.msgs).await;
    // From now on every produce request fails (the dead-letter topic is not
    // writable: the broker refuses it).
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 100_000],
    );
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
    let run = ingest(&brokers, "dlq-down", &storage);
    let metrics = run.metrics();
    let running = harness::RunningIngest::start(run);
    tokio::time::sleep(Duration::from_secs(8)).await;
    // One partition and one producer without errors: offsets follow `msgs`.
    // Ingest stops at the first bad event, whose dead letter cannot be written:
    // nothing at or past it is landed or committed, and nothing is dropped.
    let first_bad = f.first_bad.expect("the flood holds bad events") as i64;
    let valid_after = f.valid as i64 - first_bad;
    assert!(
        valid_after > 1_000,
        "too few valid events past the first bad one"
    );
    let s = metrics.predictions.snapshot();
    assert_eq!(s.dead_lettered, 0, "{s:?}");
    let landed = harness::one_row_of_ints(
        &storage,
        "SELECT count(*), coalesce(max(_offset), -1) FROM predictions",
    )
    .await;
    assert!(
        landed[1] < first_bad,
        "offset {} landed past the first bad event (offset {first_bad}) while its dead letter was unwritten",
        landed[1]
    );
    for (p, committed) in harness::committed_offsets(&brokers, "dlq-down", "predictions", 1) {
        assert!(
            committed.is_none_or(|o| o <= first_bad),
            "partition {p}: committed {committed:?} past the first bad event ({first_bad})"
        );
    }
    assert!(!running.task.is_finished());

    cluster.clear_request_errors(RDKafkaApiKey::Produce);
    let m = std::sync::Arc::clone(&metrics);
    let ok = harness::wait_for(Duration::from_secs(120), || {
        let m = std::sync::Arc::clone(&m);
        async move {
            let s = m.predictions.snapshot();
            s.landed as usize >= f.valid && s.dead_lettered as usize >= bad
        }
    })
    .await;
    running.stop().await.unwrap();
    assert!(ok, "{:?}", metrics.predictions.snapshot());
    assert_eq!(
        harness::landed_in(&storage).await,
        (f.valid as i64, f.valid as i64)
    );
    assert_eq!(read_dead_letters(&brokers, bad), bad);
}
