//! The JSON Schemas of `schemas/`, embedded so the binary documents the exact
//! contract it enforces (`feedloop validate --print-schema`).

use crate::StreamKind;

pub const PREDICTION_V1: &str = include_str!("../../../schemas/prediction.v1.schema.json");
pub const CORRECTION_V1: &str = include_str!("../../../schemas/correction.v1.schema.json");
pub const LATENCY_V1: &str = include_str!("../../../schemas/latency.v1.schema.json");

/// The current JSON Schema of a stream.
pub fn for_stream(stream: StreamKind) -> &'static str {
    match stream {
        StreamKind::Predictions => PREDICTION_V1,
        StreamKind::Corrections => CORRECTION_V1,
        StreamKind::Latency => LATENCY_V1,
    }
}
