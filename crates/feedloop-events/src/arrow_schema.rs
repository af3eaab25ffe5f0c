//! Arrow schemas of the three landing-zone tables.
//!
//! Every table ends with the same lineage columns (`_topic`, `_partition`,
//! `_offset`, `_kafka_ts`): where in Kafka each row came from, which is what makes
//! exactly-once checkable and exports traceable.

use crate::StreamKind;
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, LazyLock};

/// Timezone of every timestamp column.
pub const UTC: &str = "UTC";

/// `Timestamp(Millisecond, "UTC")`.
pub fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some(UTC.into()))
}

/// The struct held by each feature entry: exactly one slot is set, or none for a
/// JSON `null`.
pub fn feature_value_fields() -> Fields {
    Fields::from(vec![
        Field::new("number", DataType::Float64, true),
        Field::new("string", DataType::Utf8, true),
        Field::new("boolean", DataType::Boolean, true),
    ])
}

/// The `entries` field of a `Map<Utf8, value>` column.
pub fn map_entries_field(value: DataType) -> Arc<Field> {
    Arc::new(Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", value, true),
        ])),
        false,
    ))
}

pub fn features_type() -> DataType {
    DataType::Map(
        map_entries_field(DataType::Struct(feature_value_fields())),
        false,
    )
}

pub fn tags_type() -> DataType {
    DataType::Map(map_entries_field(DataType::Utf8), false)
}

fn lineage_fields() -> Vec<Field> {
    vec![
        Field::new("_topic", DataType::Utf8, false),
        Field::new("_partition", DataType::Int32, false),
        Field::new("_offset", DataType::Int64, false),
        Field::new("_kafka_ts", ts_type(), true),
    ]
}

static PREDICTIONS: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = vec![
        Field::new("prediction_id", DataType::Utf8, false),
        Field::new("model", DataType::Utf8, false),
        Field::new("model_version", DataType::Utf8, false),
        Field::new("ts", ts_type(), false),
        Field::new("features", features_type(), false),
        Field::new("output_label", DataType::Utf8, true),
        Field::new("output_score", DataType::Float64, true),
        Field::new("output_value", DataType::Float64, true),
        Field::new("tags", tags_type(), false),
    ];
    fields.extend(lineage_fields());
    Arc::new(Schema::new(fields))
});

static CORRECTIONS: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = vec![
        Field::new("prediction_id", DataType::Utf8, false),
        Field::new("ts", ts_type(), false),
        Field::new("label", DataType::Utf8, true),
        Field::new("value", DataType::Float64, true),
        Field::new("source", DataType::Utf8, true),
    ];
    fields.extend(lineage_fields());
    Arc::new(Schema::new(fields))
});

static LATENCY: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = vec![
        Field::new("prediction_id", DataType::Utf8, true),
        Field::new("model", DataType::Utf8, false),
        Field::new("model_version", DataType::Utf8, false),
        Field::new("ts", ts_type(), false),
        Field::new("latency_ms", DataType::Float64, false),
        Field::new("status", DataType::Utf8, false),
    ];
    fields.extend(lineage_fields());
    Arc::new(Schema::new(fields))
});

/// The Arrow schema of a stream's landing-zone table.
pub fn schema(stream: StreamKind) -> SchemaRef {
    match stream {
        StreamKind::Predictions => PREDICTIONS.clone(),
        StreamKind::Corrections => CORRECTIONS.clone(),
        StreamKind::Latency => LATENCY.clone(),
    }
}
