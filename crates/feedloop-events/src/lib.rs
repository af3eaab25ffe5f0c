//! # feedloop-events: the event contracts
//!
//! feedloop ingests three streams: model **predictions**, user **corrections** (the
//! true label for a prediction id) and **latency** events. This crate owns what an
//! event *is*:
//!
//! * [`wire`] — the JSON shape of each stream (serde), with precise, field-naming
//!   errors. Unknown fields are ignored so producers can add fields freely.
//! * [`validate`] — the rules beyond JSON shape (model names, finite numbers, size
//!   limits), parameterised by [`Limits`].
//! * [`decode`] — bytes → validated [`Event`], the single entry point ingest uses.
//! * [`arrow_schema`] and [`batch`] — the Arrow representation and the builders that
//!   turn decoded events (plus their Kafka lineage) into record batches.
//!
//! ## Why features are a map
//! Features differ per model and appear mid-stream, so a prediction's features are
//! one Arrow `Map<Utf8, Struct<number: Float64, string: Utf8, boolean: Boolean>>`
//! column rather than one column per feature: a new feature never changes the
//! table schema (no restart, no migration), drift can treat every feature of every
//! model in one query (`unnest(map_entries(features))`), and an export can still
//! pivot to one typed column per feature because each entry says which of the three
//! typed slots it uses. See `docs/architecture.md`.
//!
//! The JSON Schemas in the repository's `schemas/` folder are embedded as
//! [`json_schemas`] so `feedloop validate` and the docs speak of the same contract.

pub mod arrow_schema;
pub mod batch;
pub mod decode;
pub mod json_schemas;
pub mod validate;
pub mod wire;

pub use batch::{BatchBuilder, Lineage};
pub use decode::{DecodeError, decode};
pub use validate::Limits;
pub use wire::{Correction, Event, FeatureValue, Latency, LatencyStatus, Output, Prediction};

/// The three event streams feedloop ingests. Each has its own topic, JSON Schema,
/// Arrow schema and landing-zone table.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum StreamKind {
    /// Model predictions: id, model, version, features, output, tags.
    Predictions,
    /// User or annotator corrections: the true label for a prediction id.
    Corrections,
    /// Serving latency and status per request.
    Latency,
}

impl StreamKind {
    /// Every stream, in a fixed order.
    pub const ALL: [StreamKind; 3] = [
        StreamKind::Predictions,
        StreamKind::Corrections,
        StreamKind::Latency,
    ];

    /// The table name of this stream in the landing zone and in `feedloop query`.
    pub fn table_name(self) -> &'static str {
        match self {
            StreamKind::Predictions => "predictions",
            StreamKind::Corrections => "corrections",
            StreamKind::Latency => "latency",
        }
    }

    /// Parses a table name (`predictions`, `corrections`, `latency`; singular accepted).
    pub fn from_name(name: &str) -> Option<StreamKind> {
        match name {
            "predictions" | "prediction" => Some(StreamKind::Predictions),
            "corrections" | "correction" => Some(StreamKind::Corrections),
            "latency" | "latencies" => Some(StreamKind::Latency),
            _ => None,
        }
    }

    /// Version of the event contract this build writes (`schemas/<stream>.v<N>.schema.json`).
    pub fn schema_version(self) -> u32 {
        1
    }
}

impl std::fmt::Display for StreamKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.table_name())
    }
}
