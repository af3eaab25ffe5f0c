//! Export benchmark: join user corrections against predictions in the landing
//! zone and export the wrong ones (`feedloop export --policy wrong`), plus a 1%
//! sample export for the write rate.
//!
//!   cargo bench --bench export                                # 2M predictions, 10k corrections
//!   FEEDLOOP_BENCH_EVENTS=10000000 cargo bench --bench export  # the 10M
//!
//! Not a test: prints numbers, asserts nothing about speed.

use feedloop_datasets::{ExportConfig, ExportRequest, Policy, export_dataset};
use feedloop_events::{
    BatchBuilder, Correction, Event, FeatureValue, Lineage, Output, Prediction, StreamKind,
};
use feedloop_storage::{LandingZone, PartitionKey, Storage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

const T0: i64 = 1_795_392_000_000;

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let n: usize = std::env::var("FEEDLOOP_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let corrections = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
    let zone = LandingZone::new(storage.clone());
    let mut rng = StdRng::seed_from_u64(5);
    let t = Instant::now();
    let per_file = 250_000.min(n);
    let key = PartitionKey {
        stream: StreamKind::Predictions,
        topic: "predictions".into(),
        partition: 0,
    };
    let mut start = 0usize;
    while start < n {
        let end = (start + per_file).min(n);
        let mut b = BatchBuilder::new(StreamKind::Predictions, "predictions", 0);
        for i in start..end {
            let features = (0..8)
                .map(|f| (format!("f{f}"), FeatureValue::Number(rng.random())))
                .collect();
            let e = Event::Prediction(Prediction {
                prediction_id: format!("p{i:09}"),
                model: "bench".into(),
                model_version: "v1".into(),
                ts: T0 + i as i64,
                features,
                output: Output {
                    label: Some(if i % 2 == 0 {
                        "spam".into()
                    } else {
                        "ham".into()
                    }),
                    score: Some(rng.random()),
                    value: None,
                },
                tags: vec![("country".into(), "DE".into())],
            });
            b.append(
                &e,
                Lineage {
                    offset: i as i64,
                    kafka_ts: None,
                },
            )
            .unwrap();
        }
        zone.land(&key, start as i64, end as i64 - 1, b.finish().unwrap())
            .await
            .unwrap();
        start = end;
    }
    let ckey = PartitionKey {
        stream: StreamKind::Corrections,
        topic: "corrections".into(),
        partition: 0,
    };
    let mut b = BatchBuilder::new(StreamKind::Corrections, "corrections", 0);
    for j in 0..corrections {
        let i = rng.random_range(0..n);
        let e = Event::Correction(Correction {
            prediction_id: format!("p{i:09}"),
            ts: T0 + n as i64 + j as i64,
            label: Some(if rng.random_bool(0.6) {
                "spam".into()
            } else {
                "ham".into()
            }),
            value: None,
            source: Some("user".into()),
        });
        b.append(
            &e,
            Lineage {
                offset: j as i64,
                kafka_ts: None,
            },
        )
        .unwrap();
    }
    zone.land(&ckey, 0, corrections as i64 - 1, b.finish().unwrap())
        .await
        .unwrap();
    println!(
        "landed {n} predictions and {corrections} corrections in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    let cfg = ExportConfig::default();
    for (label, policy) in [
        ("wrong (join + export)", Policy::Wrong),
        (
            "sample 1%",
            Policy::Sample {
                rate: 0.01,
                seed: 1,
            },
        ),
    ] {
        let t = Instant::now();
        let out = export_dataset(
            &storage,
            &cfg,
            &ExportRequest::new("bench", policy, T0 + 86_400_000),
            &|_| {},
        )
        .await
        .unwrap();
        let s = t.elapsed().as_secs_f64();
        println!(
            "export {label}: {} rows, {:.1} MB in {:.2}s ({:.0} rows/s)",
            out.manifest.row_count,
            out.bytes as f64 / 1e6,
            s,
            out.manifest.row_count as f64 / s
        );
    }
}
