//! Builders that turn decoded events and their Kafka lineage into Arrow batches.
//!
//! One [`BatchBuilder`] accumulates the events of one topic-partition between two
//! flushes; [`BatchBuilder::finish`] yields a batch in the stream's schema.

use crate::StreamKind;
use crate::arrow_schema::{feature_value_fields, map_entries_field, schema};
use crate::wire::{Correction, Event, FeatureValue, Latency, Prediction};
use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Float64Builder, Int32Array, Int64Builder, MapArray,
    StringArray, StringBuilder, StructArray, TimestampMillisecondBuilder,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::sync::Arc;

/// Where a row came from in Kafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lineage {
    pub offset: i64,
    /// The message timestamp (create or log-append time), epoch ms, when known.
    pub kafka_ts: Option<i64>,
}

/// Accumulates the events of one topic-partition into columns.
pub struct BatchBuilder {
    stream: StreamKind,
    topic: String,
    partition: i32,
    offsets: Int64Builder,
    kafka_ts: TimestampMillisecondBuilder,
    columns: Columns,
    rows: usize,
}

// One per open batch of a partition: the size of the largest variant costs
// nothing worth a box.
#[allow(clippy::large_enum_variant)]
enum Columns {
    Predictions(PredictionColumns),
    Corrections(CorrectionColumns),
    Latency(LatencyColumns),
}

#[derive(Default)]
struct MapColumns<V> {
    offsets: Vec<i32>,
    keys: StringBuilder,
    values: V,
}

impl<V: Default> MapColumns<V> {
    fn new() -> Self {
        MapColumns {
            offsets: vec![0],
            keys: StringBuilder::new(),
            values: V::default(),
        }
    }
}

#[derive(Default)]
struct FeatureValues {
    number: Float64Builder,
    string: StringBuilder,
    boolean: BooleanBuilder,
    valid: Vec<bool>,
}

struct PredictionColumns {
    prediction_id: StringBuilder,
    model: StringBuilder,
    model_version: StringBuilder,
    ts: TimestampMillisecondBuilder,
    features: MapColumns<FeatureValues>,
    output_label: StringBuilder,
    output_score: Float64Builder,
    output_value: Float64Builder,
    tags: MapColumns<StringBuilder>,
}

struct CorrectionColumns {
    prediction_id: StringBuilder,
    ts: TimestampMillisecondBuilder,
    label: StringBuilder,
    value: Float64Builder,
    source: StringBuilder,
}

struct LatencyColumns {
    prediction_id: StringBuilder,
    model: StringBuilder,
    model_version: StringBuilder,
    ts: TimestampMillisecondBuilder,
    latency_ms: Float64Builder,
    status: StringBuilder,
}

/// An event was appended to a builder of another stream.
#[derive(Debug, thiserror::Error)]
#[error("a {got} event cannot be appended to a {expected} batch")]
pub struct WrongStream {
    pub expected: StreamKind,
    pub got: StreamKind,
}

fn event_stream(e: &Event) -> StreamKind {
    match e {
        Event::Prediction(_) => StreamKind::Predictions,
        Event::Correction(_) => StreamKind::Corrections,
        Event::Latency(_) => StreamKind::Latency,
    }
}

fn utc_ts() -> TimestampMillisecondBuilder {
    TimestampMillisecondBuilder::new().with_timezone(crate::arrow_schema::UTC)
}

impl BatchBuilder {
    pub fn new(stream: StreamKind, topic: impl Into<String>, partition: i32) -> Self {
        let columns = match stream {
            StreamKind::Predictions => Columns::Predictions(PredictionColumns {
                prediction_id: StringBuilder::new(),
                model: StringBuilder::new(),
                model_version: StringBuilder::new(),
                ts: utc_ts(),
                features: MapColumns::new(),
                output_label: StringBuilder::new(),
                output_score: Float64Builder::new(),
                output_value: Float64Builder::new(),
                tags: MapColumns::new(),
            }),
            StreamKind::Corrections => Columns::Corrections(CorrectionColumns {
                prediction_id: StringBuilder::new(),
                ts: utc_ts(),
                label: StringBuilder::new(),
                value: Float64Builder::new(),
                source: StringBuilder::new(),
            }),
            StreamKind::Latency => Columns::Latency(LatencyColumns {
                prediction_id: StringBuilder::new(),
                model: StringBuilder::new(),
                model_version: StringBuilder::new(),
                ts: utc_ts(),
                latency_ms: Float64Builder::new(),
                status: StringBuilder::new(),
            }),
        };
        BatchBuilder {
            stream,
            topic: topic.into(),
            partition,
            offsets: Int64Builder::new(),
            kafka_ts: utc_ts(),
            columns,
            rows: 0,
        }
    }

    pub fn stream(&self) -> StreamKind {
        self.stream
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one event with its lineage.
    pub fn append(&mut self, event: &Event, lineage: Lineage) -> Result<(), WrongStream> {
        match (&mut self.columns, event) {
            (Columns::Predictions(c), Event::Prediction(p)) => c.append(p),
            (Columns::Corrections(c), Event::Correction(x)) => c.append(x),
            (Columns::Latency(c), Event::Latency(l)) => c.append(l),
            _ => {
                return Err(WrongStream {
                    expected: self.stream,
                    got: event_stream(event),
                });
            }
        }
        self.offsets.append_value(lineage.offset);
        self.kafka_ts.append_option(lineage.kafka_ts);
        self.rows += 1;
        Ok(())
    }

    /// Builds the batch (possibly empty) and resets the builder.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let rows = std::mem::take(&mut self.rows);
        let mut cols: Vec<ArrayRef> = match &mut self.columns {
            Columns::Predictions(c) => c.finish()?,
            Columns::Corrections(c) => c.finish(),
            Columns::Latency(c) => c.finish(),
        };
        cols.push(Arc::new(StringArray::from_iter_values(
            std::iter::repeat_n(self.topic.as_str(), rows),
        )));
        cols.push(Arc::new(Int32Array::from_value(self.partition, rows)));
        cols.push(Arc::new(self.offsets.finish()));
        cols.push(Arc::new(self.kafka_ts.finish()));
        RecordBatch::try_new(schema(self.stream), cols)
    }
}

impl PredictionColumns {
    fn append(&mut self, p: &Prediction) {
        self.prediction_id.append_value(&p.prediction_id);
        self.model.append_value(&p.model);
        self.model_version.append_value(&p.model_version);
        self.ts.append_value(p.ts);
        let f = &mut self.features;
        for (name, value) in &p.features {
            f.keys.append_value(name);
            let v = &mut f.values;
            match value {
                FeatureValue::Null => {
                    v.number.append_null();
                    v.string.append_null();
                    v.boolean.append_null();
                    v.valid.push(false);
                }
                FeatureValue::Number(x) => {
                    v.number.append_value(*x);
                    v.string.append_null();
                    v.boolean.append_null();
                    v.valid.push(true);
                }
                FeatureValue::String(s) => {
                    v.number.append_null();
                    v.string.append_value(s);
                    v.boolean.append_null();
                    v.valid.push(true);
                }
                FeatureValue::Bool(b) => {
                    v.number.append_null();
                    v.string.append_null();
                    v.boolean.append_value(*b);
                    v.valid.push(true);
                }
            }
        }
        f.offsets.push(f.keys.len() as i32);
        self.output_label.append_option(p.output.label.as_deref());
        self.output_score.append_option(p.output.score);
        self.output_value.append_option(p.output.value);
        for (name, value) in &p.tags {
            self.tags.keys.append_value(name);
            self.tags.values.append_value(value);
        }
        self.tags.offsets.push(self.tags.keys.len() as i32);
    }

    fn finish(&mut self) -> Result<Vec<ArrayRef>, ArrowError> {
        let features = {
            let f = std::mem::replace(&mut self.features, MapColumns::new());
            let mut v = f.values;
            let values = StructArray::try_new(
                feature_value_fields(),
                vec![
                    Arc::new(v.number.finish()),
                    Arc::new(v.string.finish()),
                    Arc::new(v.boolean.finish()),
                ],
                Some(v.valid.into()),
            )?;
            build_map(f.offsets, f.keys, Arc::new(values))?
        };
        let tags = {
            let mut t = std::mem::replace(&mut self.tags, MapColumns::new());
            let values = Arc::new(t.values.finish());
            build_map(t.offsets, t.keys, values)?
        };
        Ok(vec![
            Arc::new(self.prediction_id.finish()),
            Arc::new(self.model.finish()),
            Arc::new(self.model_version.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(features),
            Arc::new(self.output_label.finish()),
            Arc::new(self.output_score.finish()),
            Arc::new(self.output_value.finish()),
            Arc::new(tags),
        ])
    }
}

fn build_map(
    offsets: Vec<i32>,
    mut keys: StringBuilder,
    values: ArrayRef,
) -> Result<MapArray, ArrowError> {
    let entries_field = map_entries_field(values.data_type().clone());
    let DataType::Struct(entry_fields) = entries_field.data_type() else {
        unreachable!("map entries are a struct by construction")
    };
    let entries = StructArray::try_new(
        entry_fields.clone(),
        vec![Arc::new(keys.finish()), values],
        None,
    )?;
    MapArray::try_new(
        entries_field,
        OffsetBuffer::new(offsets.into()),
        entries,
        None,
        false,
    )
}

impl CorrectionColumns {
    fn append(&mut self, c: &Correction) {
        self.prediction_id.append_value(&c.prediction_id);
        self.ts.append_value(c.ts);
        self.label.append_option(c.label.as_deref());
        self.value.append_option(c.value);
        self.source.append_option(c.source.as_deref());
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.prediction_id.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.label.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.source.finish()),
        ]
    }
}

impl LatencyColumns {
    fn append(&mut self, l: &Latency) {
        self.prediction_id.append_option(l.prediction_id.as_deref());
        self.model.append_value(&l.model);
        self.model_version.append_value(&l.model_version);
        self.ts.append_value(l.ts);
        self.latency_ms.append_value(l.latency_ms);
        self.status.append_value(l.status.as_str());
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.prediction_id.finish()),
            Arc::new(self.model.finish()),
            Arc::new(self.model_version.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.latency_ms.finish()),
            Arc::new(self.status.finish()),
        ]
    }
}
