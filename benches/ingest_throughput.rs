//! Ingest throughput harness: events/s and MB/s from a real broker (nisshi on
//! 127.0.0.1) into the landing zone, side by side with a raw librdkafka consumer
//! that only drains the same topic (no decoding), plus the pipeline's RSS over time.
//!
//!   cargo bench --bench ingest_throughput            # 1M events, 8 partitions
//!   FEEDLOOP_BENCH_EVENTS=200000 cargo bench --bench ingest_throughput
//!
//! Not a test: it prints numbers and asserts nothing about speed.

#[path = "../tests/harness/mod.rs"]
mod harness;

use feedloop_events::StreamKind;
use feedloop_storage::{LandingZone, Storage};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Rows landed so far, reading only the footers of files not seen before.
async fn landed_rows(zone: &LandingZone, seen: &mut HashMap<String, usize>) -> usize {
    for key in zone
        .partitions(StreamKind::Predictions)
        .await
        .unwrap_or_default()
    {
        for path in zone.list_partition(&key, None).await.unwrap_or_default() {
            if !seen.contains_key(path.as_ref())
                && let Ok((_, _, rows)) = zone.read_range(&path).await
            {
                seen.insert(path.to_string(), rows);
            }
        }
    }
    seen.values().sum()
}

fn raw_drain(brokers: &str, partitions: i32, n: usize) -> (Duration, u64) {
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "raw-drain")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset("predictions", p, rdkafka::Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let start = Instant::now();
    let (mut count, mut bytes) = (0usize, 0u64);
    while count < n {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            count += 1;
            bytes += m.payload().map_or(0, |p| p.len() as u64);
        }
    }
    (start.elapsed(), bytes)
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` / `--list`: nothing to do.
    }
    let n: usize = std::env::var("FEEDLOOP_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let partitions = 8;
    let broker = harness::Nisshi::start();
    broker.create_feedloop_topics(partitions);
    let traffic = feedloop_traffic::generate(&feedloop_traffic::TrafficSpec {
        predictions_per_model: n / 2,
        bad_rate: 0.0,
        ..Default::default()
    });
    let msgs = &traffic.predictions;
    let produce_start = Instant::now();
    harness::produce(&harness::producer(&broker.brokers), "predictions", msgs).await;
    let json_bytes: u64 = msgs.iter().map(|(_, p)| p.len() as u64).sum();
    println!(
        "produced {} predictions ({:.1} MB JSON, {} B/event) in {:.1}s",
        msgs.len(),
        json_bytes as f64 / 1e6,
        json_bytes / msgs.len() as u64,
        produce_start.elapsed().as_secs_f64()
    );

    let (raw_t, raw_bytes) = raw_drain(&broker.brokers, partitions, msgs.len());
    let raw_rate = msgs.len() as f64 / raw_t.as_secs_f64();
    println!(
        "raw librdkafka drain: {:.2}s  {:>9.0} events/s  {:>6.1} MB/s",
        raw_t.as_secs_f64(),
        raw_rate,
        raw_bytes as f64 / 1e6 / raw_t.as_secs_f64()
    );

    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("store");
    let cfg = harness::write_config(dir.path(), &broker.brokers, "bench", &storage, "5s");
    // The harness config lowers flush_max_events for tests; the bench uses the defaults.
    let body = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("flush_max_events = 5000\n", "");
    std::fs::write(&cfg, body).unwrap();
    let zone = LandingZone::new(Storage::open(storage.to_str().unwrap(), []).unwrap());
    let start = Instant::now();
    let proc = harness::FeedloopProc::run(&cfg, &dir.path().join("run.log"));
    let pid = proc.child.id();
    let mut seen = HashMap::new();
    let mut rss = Vec::new();
    let mut landed = 0;
    while landed < msgs.len() {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Some(r) = rss_kib(pid) {
            rss.push((start.elapsed().as_secs_f64(), r));
        }
        landed = landed_rows(&zone, &mut seen).await;
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "ingest did not finish"
        );
    }
    let t = start.elapsed();
    let rate = msgs.len() as f64 / t.as_secs_f64();
    let parquet_bytes: u64 = walk_size(&storage.join("landing"));
    println!(
        "feedloop run → landing zone: {:.2}s  {:>9.0} events/s  {:>6.1} MB/s of JSON  ({:.0}% of raw; {} files, {:.1} MB Parquet)",
        t.as_secs_f64(),
        rate,
        json_bytes as f64 / 1e6 / t.as_secs_f64(),
        100.0 * rate / raw_rate,
        seen.len(),
        parquet_bytes as f64 / 1e6
    );
    let peak = rss.iter().map(|r| r.1).max().unwrap_or(0);
    let q = |f: f64| {
        rss.get(((rss.len() as f64 - 1.0) * f) as usize)
            .map_or(0, |r| r.1)
    };
    println!(
        "feedloop RSS: peak {:.0} MiB; at 25/50/75/100% of the run {:.0}/{:.0}/{:.0}/{:.0} MiB ({} samples)",
        peak as f64 / 1024.0,
        q(0.25) as f64 / 1024.0,
        q(0.5) as f64 / 1024.0,
        q(0.75) as f64 / 1024.0,
        q(1.0) as f64 / 1024.0,
        rss.len()
    );
    proc.terminate(Duration::from_secs(30));
}

fn walk_size(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let m = e.metadata().ok();
            if m.as_ref().is_some_and(|m| m.is_dir()) {
                walk_size(&e.path())
            } else {
                m.map_or(0, |m| m.len())
            }
        })
        .sum()
}
