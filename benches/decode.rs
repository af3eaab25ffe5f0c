//! Criterion benches of ingest's CPU path: JSON → validated event, events → Arrow
//! batch, batch → Parquet (zstd). `cargo bench --bench decode`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use feedloop_events::{BatchBuilder, Limits, Lineage, StreamKind, decode};
use feedloop_storage::{LandingZone, PartitionKey, Storage};
use feedloop_traffic::{TrafficSpec, generate};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let traffic = generate(&TrafficSpec {
        predictions_per_model: 5_000,
        bad_rate: 0.0,
        ..TrafficSpec::default()
    });
    let msgs: Vec<&[u8]> = traffic
        .predictions
        .iter()
        .map(|(_, p)| p.as_slice())
        .collect();
    let bytes: usize = msgs.iter().map(|m| m.len()).sum();
    let limits = Limits::default();

    let mut g = c.benchmark_group("predictions");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.bench_function("decode+validate", |b| {
        b.iter(|| {
            for m in &msgs {
                black_box(decode(StreamKind::Predictions, m, &limits).ok());
            }
        })
    });
    let events: Vec<_> = msgs
        .iter()
        .map(|m| decode(StreamKind::Predictions, m, &limits).unwrap())
        .collect();
    g.bench_function("arrow batch", |b| {
        b.iter(|| {
            let mut bb = BatchBuilder::new(StreamKind::Predictions, "predictions", 0);
            for (i, e) in events.iter().enumerate() {
                bb.append(
                    e,
                    Lineage {
                        offset: i as i64,
                        kafka_ts: Some(0),
                    },
                )
                .unwrap();
            }
            black_box(bb.finish().unwrap())
        })
    });
    let mut bb = BatchBuilder::new(StreamKind::Predictions, "predictions", 0);
    for (i, e) in events.iter().enumerate() {
        bb.append(
            e,
            Lineage {
                offset: i as i64,
                kafka_ts: Some(0),
            },
        )
        .unwrap();
    }
    let batch = bb.finish().unwrap();
    let zone = LandingZone::new(Storage::open("memory://bench", []).unwrap());
    let key = PartitionKey {
        stream: StreamKind::Predictions,
        topic: "predictions".into(),
        partition: 0,
    };
    g.bench_function("parquet zstd(1)", |b| {
        b.iter(|| {
            black_box(
                zone.encode(&key, 0, events.len() as i64 - 1, &batch)
                    .unwrap(),
            )
        })
    });
    g.finish();
    eprintln!(
        "(10 000 predictions, {:.1} MB of JSON, {} B per event)",
        bytes as f64 / 1e6,
        bytes / msgs.len()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
