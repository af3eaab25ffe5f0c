//! Window-job benchmark: time to close one window of 1M predictions × 20
//! features and compute every metric (volume, drift of each feature against a
//! stored reference profile, prediction drift, latency percentiles).
//!
//!   cargo bench --bench window_job
//!   FEEDLOOP_BENCH_EVENTS=200000 cargo bench --bench window_job
//!
//! Not a test: prints numbers, asserts nothing about speed.

use arrow::array::{Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use feedloop_analytics::LandingSession;
use feedloop_events::{
    BatchBuilder, Event, FeatureValue, Limits, Lineage, Output, Prediction, StreamKind,
};
use feedloop_storage::{LandingZone, PartitionKey, Storage};
use feedloop_windows::{ReferenceSource, WindowJob, WindowsConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const T0: i64 = 1_795_392_000_000;
const FEATURES: usize = 20;

fn prediction(rng: &mut StdRng, i: usize, ts: i64) -> Event {
    let mut features: Vec<(String, FeatureValue)> = (0..16)
        .map(|f| {
            (
                format!("num_{f:02}"),
                FeatureValue::Number(rng.random::<f64>() * (f + 1) as f64),
            )
        })
        .collect();
    for f in 0..4 {
        features.push((
            format!("cat_{f:02}"),
            FeatureValue::String(["a", "b", "c", "d", "e"][rng.random_range(0..5)].into()),
        ));
    }
    features.sort_by(|a, b| a.0.cmp(&b.0));
    Event::Prediction(Prediction {
        prediction_id: format!("p{i}"),
        model: "bench".into(),
        model_version: "v1".into(),
        ts,
        features,
        output: Output {
            label: Some(if rng.random_bool(0.5) {
                "yes".into()
            } else {
                "no".into()
            }),
            score: Some(rng.random()),
            value: None,
        },
        tags: vec![],
    })
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let _ = Limits::default();
    // RUST_LOG=feedloop_windows=debug shows where a window's time goes.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let n: usize = std::env::var("FEEDLOOP_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
    let zone = LandingZone::new(storage.clone());
    let mut rng = StdRng::seed_from_u64(1);

    // A flat reference file: 50 000 rows, one column per feature.
    let rows = 50_000;
    let mut fields = Vec::new();
    let mut cols: Vec<Arc<dyn arrow::array::Array>> = Vec::new();
    for f in 0..16 {
        fields.push(Field::new(format!("num_{f:02}"), DataType::Float64, false));
        cols.push(Arc::new(Float64Array::from_iter_values(
            (0..rows).map(|_| rng.random::<f64>() * (f + 1) as f64),
        )));
    }
    for f in 0..4 {
        fields.push(Field::new(format!("cat_{f:02}"), DataType::Utf8, false));
        cols.push(Arc::new(StringArray::from_iter_values(
            (0..rows).map(|_| ["a", "b", "c", "d", "e"][rng.random_range(0..5)]),
        )));
    }
    fields.push(Field::new("output_score", DataType::Float64, false));
    cols.push(Arc::new(Float64Array::from_iter_values(
        (0..rows).map(|_| rng.random::<f64>()),
    )));
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    let ref_path = dir.path().join("reference.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&ref_path).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();

    // One 5-minute window of n predictions and n latency events, in 10 files per stream.
    let size = 300_000i64;
    let per_file = n / 10;
    let land_start = Instant::now();
    for stream in [StreamKind::Predictions, StreamKind::Latency] {
        let key = PartitionKey {
            stream,
            topic: stream.table_name().into(),
            partition: 0,
        };
        for file in 0..10 {
            let mut b = BatchBuilder::new(stream, &key.topic, 0);
            for j in 0..per_file {
                let i = file * per_file + j;
                let ts = T0 + (i as i64 * size) / n as i64;
                let e = match stream {
                    StreamKind::Predictions => prediction(&mut rng, i, ts),
                    _ => Event::Latency(feedloop_events::Latency {
                        prediction_id: None,
                        model: "bench".into(),
                        model_version: "v1".into(),
                        ts,
                        latency_ms: 10.0 + rng.random::<f64>() * 50.0,
                        status: feedloop_events::LatencyStatus::Ok,
                    }),
                };
                b.append(
                    &e,
                    Lineage {
                        offset: i as i64,
                        kafka_ts: None,
                    },
                )
                .unwrap();
            }
            let start = (file * per_file) as i64;
            zone.land(
                &key,
                start,
                start + per_file as i64 - 1,
                b.finish().unwrap(),
            )
            .await
            .unwrap();
        }
        // One event past the window moves the watermark beyond its end.
        let mut b = BatchBuilder::new(stream, &key.topic, 0);
        let e = match stream {
            StreamKind::Predictions => prediction(&mut rng, n, T0 + size + 120_000),
            _ => Event::Latency(feedloop_events::Latency {
                prediction_id: None,
                model: "bench".into(),
                model_version: "v1".into(),
                ts: T0 + size + 120_000,
                latency_ms: 1.0,
                status: feedloop_events::LatencyStatus::Ok,
            }),
        };
        b.append(
            &e,
            Lineage {
                offset: n as i64,
                kafka_ts: None,
            },
        )
        .unwrap();
        zone.land(&key, n as i64, n as i64, b.finish().unwrap())
            .await
            .unwrap();
    }
    println!(
        "landed {n} predictions × {FEATURES} features + {n} latency events in {:.1}s",
        land_start.elapsed().as_secs_f64()
    );

    let config = WindowsConfig {
        size: Duration::from_secs(300),
        allowed_lateness: Duration::from_secs(60),
        models: BTreeMap::from([(
            "bench".to_string(),
            feedloop_windows::ModelConfig {
                reference: Some(ReferenceSource::File {
                    file: ref_path.display().to_string(),
                }),
            },
        )]),
        ..WindowsConfig::default()
    };
    let session = LandingSession::new(&storage).await.unwrap();
    let mut job = WindowJob::open(config.clone(), storage.clone(), session.context().clone())
        .await
        .unwrap();
    // The first tick also builds and stores the reference profile; time it separately.
    let t = Instant::now();
    let reports = job.tick().await.unwrap();
    let first = t.elapsed();
    assert_eq!(reports.len(), 1);
    let drift_rows = reports[0]
        .rows
        .iter()
        .filter(|r| r.metric == "drift")
        .count();
    println!(
        "first window (including building the reference profile from 50 000 rows): {:.2}s, {} metric rows ({drift_rows} feature drift rows)",
        first.as_secs_f64(),
        reports[0].rows.len()
    );

    // The same window again, on a fresh job with the stored profile: the steady-state cost.
    let _ = std::fs::remove_dir_all(dir.path().join("metrics"));
    let _ = std::fs::remove_dir_all(dir.path().join("state"));
    let session = LandingSession::new(&storage).await.unwrap();
    let mut job = WindowJob::open(config, storage.clone(), session.context().clone())
        .await
        .unwrap();
    let t = Instant::now();
    let reports = job.tick().await.unwrap();
    println!(
        "window close with a stored profile: {:.2}s for {n} events × {FEATURES} features ({} metric rows)",
        t.elapsed().as_secs_f64(),
        reports[0].rows.len()
    );
}
