//! Landing events for the crates' tests, as ingest would (one landing file per
//! call, offsets chained per partition), and the prediction/correction JSON of
//! the feedback tests: `#[path = "../../../tests/support/landing.rs"] mod landing;`.

#![allow(dead_code)]

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use feedloop_events::wire::{Latency, Prediction};
use feedloop_events::{BatchBuilder, Event, Limits, Lineage, StreamKind, decode};
use feedloop_storage::{LandingZone, PartitionKey, Storage};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Lands events as one file per call, continuing each partition's offset chain.
pub struct Lz {
    pub zone: LandingZone,
    /// The next offset of each (stream, partition).
    pub next: HashMap<(StreamKind, i32), i64>,
}

impl Lz {
    pub fn new(storage: Storage) -> Lz {
        Lz {
            zone: LandingZone::new(storage),
            next: HashMap::new(),
        }
    }

    /// Lands `events` after the ingest gate (`decode`) accepted each one.
    pub async fn land(&mut self, stream: StreamKind, partition: i32, events: &[Value]) {
        let decoded = events
            .iter()
            .map(|e| {
                decode(stream, e.to_string().as_bytes(), &Limits::default())
                    .unwrap_or_else(|err| panic!("{e}: {err}"))
            })
            .collect();
        self.land_events(stream, partition, decoded).await;
    }

    /// Lands `events` only parsed, around the ingest gate, as a landing file
    /// written by some other tool could hold them (predictions and latency).
    pub async fn land_unchecked(&mut self, stream: StreamKind, partition: i32, events: &[Value]) {
        let parsed = events
            .iter()
            .map(|e| match stream {
                StreamKind::Predictions => {
                    Event::Prediction(serde_json::from_value::<Prediction>(e.clone()).unwrap())
                }
                StreamKind::Latency => {
                    Event::Latency(serde_json::from_value::<Latency>(e.clone()).unwrap())
                }
                StreamKind::Corrections => unreachable!("corrections carry no names"),
            })
            .collect();
        self.land_events(stream, partition, parsed).await;
    }

    async fn land_events(&mut self, stream: StreamKind, partition: i32, events: Vec<Event>) {
        let key = PartitionKey {
            stream,
            topic: stream.table_name().to_string(),
            partition,
        };
        let start = *self.next.get(&(stream, partition)).unwrap_or(&0);
        let mut b = BatchBuilder::new(stream, &key.topic, partition);
        for (i, ev) in events.iter().enumerate() {
            let lineage = Lineage {
                offset: start + i as i64,
                kafka_ts: None,
            };
            b.append(ev, lineage).unwrap();
        }
        let end = start + events.len() as i64 - 1;
        let f = self
            .zone
            .land(&key, start, end, b.finish().unwrap())
            .await
            .unwrap();
        assert!(f.created);
        self.next.insert((stream, partition), end + 1);
    }
}

/// A `v1` prediction with feature `x = 1.0` and tag `country`; the output holds
/// whichever of label, score and value are given.
pub fn pred(
    id: &str,
    model: &str,
    ts: i64,
    label: Option<&str>,
    score: Option<f64>,
    value: Option<f64>,
    country: &str,
) -> Value {
    let mut output = serde_json::Map::new();
    if let Some(l) = label {
        output.insert("label".into(), json!(l));
    }
    if let Some(s) = score {
        output.insert("score".into(), json!(s));
    }
    if let Some(v) = value {
        output.insert("value".into(), json!(v));
    }
    json!({"prediction_id": id, "model": model, "model_version": "v1", "ts": ts,
           "features": {"x": 1.0}, "output": output, "tags": {"country": country}})
}

/// A correction by `user` with a label or a value.
pub fn corr(id: &str, ts: i64, label: Option<&str>, value: Option<f64>) -> Value {
    let mut c = json!({"prediction_id": id, "ts": ts, "source": "user"});
    if let Some(l) = label {
        c["label"] = json!(l);
    }
    if let Some(v) = value {
        c["value"] = json!(v);
    }
    c
}

/// Column `col` of `b` as text (any type, cast), nulls as `None`.
pub fn strings(b: &RecordBatch, col: &str) -> Vec<Option<String>> {
    let a =
        datafusion::arrow::compute::cast(b.column_by_name(col).unwrap(), &DataType::Utf8).unwrap();
    let a = a.as_string::<i32>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
        .collect()
}
