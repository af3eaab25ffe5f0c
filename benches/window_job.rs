//! Window-job benchmark: time for a running job to close one window of 1M
//! predictions × 20 features (and 1M latency events) and compute every metric
//! (volume, drift of each feature against the reference profile, prediction
//! drift, latency percentiles), as `feedloop run` does: the windows' files land
//! one window after another and the job ticks after each, closing the window
//! the watermark just passed. The first close also builds the reference
//! profile and is reported apart; the median of the others is the number.
//!
//!   cargo bench --bench window_job
//!   FEEDLOOP_BENCH_EVENTS=1000 FEEDLOOP_BENCH_WINDOWS=50 cargo bench --bench window_job
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

    let size = 300_000i64;
    let windows: usize = std::env::var("FEEDLOOP_BENCH_WINDOWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4)
        .max(2);
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
    let mut job = WindowJob::open(config, storage.clone(), session.context().clone())
        .await
        .unwrap();
    // Each window's n predictions and n latency events land in 10 files per
    // stream, then one event 2 minutes into the next window moves the
    // watermark past the window's end and the job ticks.
    let per_file = (n / 10).max(1);
    let mut offset = 0i64;
    let mut landing = Duration::ZERO;
    let mut times = Vec::new();
    for w in 0..windows {
        let w0 = T0 + w as i64 * size;
        let land_start = Instant::now();
        for stream in [StreamKind::Predictions, StreamKind::Latency] {
            let key = PartitionKey {
                stream,
                topic: stream.table_name().into(),
                partition: 0,
            };
            let event = |rng: &mut StdRng, i: usize, ts: i64| match stream {
                StreamKind::Predictions => prediction(rng, i, ts),
                _ => Event::Latency(feedloop_events::Latency {
                    prediction_id: None,
                    model: "bench".into(),
                    model_version: "v1".into(),
                    ts,
                    latency_ms: 10.0 + rng.random::<f64>() * 50.0,
                    status: feedloop_events::LatencyStatus::Ok,
                }),
            };
            let mut first = offset;
            let mut file_rows = Vec::new();
            for i in 0..n {
                file_rows.push(event(&mut rng, i, w0 + (i as i64 * size) / n as i64));
                if file_rows.len() == per_file || i + 1 == n {
                    first = land(&zone, &key, stream, first, std::mem::take(&mut file_rows)).await;
                }
            }
            let marker = event(&mut rng, n, w0 + size + 120_000);
            first = land(&zone, &key, stream, first, vec![marker]).await;
            if stream == StreamKind::Latency {
                offset = first;
            }
        }
        landing += land_start.elapsed();
        let t = Instant::now();
        let reports = job.tick().await.unwrap();
        let took = t.elapsed().as_secs_f64();
        assert_eq!(reports.len(), 1, "one window closes per tick");
        let drift_rows = reports[0]
            .rows
            .iter()
            .filter(|r| r.metric == "drift")
            .count();
        assert_eq!(drift_rows, FEATURES, "a drift row per feature");
        if w == 0 {
            println!(
                "first window (including building the reference profile from 50 000 rows): {took:.3}s, {} metric rows",
                reports[0].rows.len()
            );
        } else {
            times.push(took);
        }
    }
    println!(
        "landed {windows} windows of {n} predictions × {FEATURES} features + {n} latency events in {:.1}s",
        landing.as_secs_f64()
    );
    times.sort_by(f64::total_cmp);
    println!(
        "window close, running job: median {:.4}s, min {:.4}s, max {:.4}s over {} windows of {n} events × {FEATURES} features",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        times.len()
    );
}

/// Lands `events` as one file of `stream` from offset `first`; returns the next offset.
async fn land(
    zone: &LandingZone,
    key: &PartitionKey,
    stream: StreamKind,
    first: i64,
    events: Vec<Event>,
) -> i64 {
    let mut b = BatchBuilder::new(stream, &key.topic, 0);
    for (j, e) in events.iter().enumerate() {
        b.append(
            e,
            Lineage {
                offset: first + j as i64,
                kafka_ts: None,
            },
        )
        .unwrap();
    }
    let last = first + events.len() as i64 - 1;
    zone.land(key, first, last, b.finish().unwrap())
        .await
        .unwrap();
    last + 1
}
