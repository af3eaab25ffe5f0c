//! Bytes → validated [`Event`]: the one function ingest calls per message.
//!
//! Errors name the field and the reason, and are what a dead-lettered message
//! carries in its `feedloop.error` header.

use crate::StreamKind;
use crate::validate::{Limits, validate_correction, validate_latency, validate_prediction};
use crate::wire::{Correction, Event, Latency, Prediction};
use serde::de::DeserializeOwned;

/// Why a message is not a valid event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The message had no payload (a tombstone).
    #[error("empty payload")]
    Empty,
    /// The payload is larger than `limits.max_event_bytes`.
    #[error("payload is {size} bytes, over the limit of {limit} (limits.max_event_bytes)")]
    TooLarge { size: usize, limit: usize },
    /// The payload is not UTF-8.
    #[error("payload is not valid UTF-8 (at byte {at})")]
    InvalidUtf8 { at: usize },
    /// The payload is not JSON of the stream's shape. `field` is the dotted path
    /// of the offending value when known.
    #[error("{}{message}", field.as_deref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Shape {
        field: Option<String>,
        message: String,
    },
    /// The JSON is well-formed but breaks a rule.
    #[error("field `{field}`: {reason}")]
    Invalid { field: String, reason: String },
}

impl DecodeError {
    /// A short machine-friendly kind, used as a metric label and DLQ header.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::TooLarge { .. } => "too_large",
            DecodeError::InvalidUtf8 { .. } => "invalid_utf8",
            DecodeError::Shape { .. } => "shape",
            DecodeError::Invalid { .. } => "invalid",
        }
    }
}

/// Decodes and validates one message payload of `stream`.
pub fn decode(stream: StreamKind, payload: &[u8], limits: &Limits) -> Result<Event, DecodeError> {
    if payload.is_empty() {
        return Err(DecodeError::Empty);
    }
    if payload.len() > limits.max_event_bytes {
        return Err(DecodeError::TooLarge {
            size: payload.len(),
            limit: limits.max_event_bytes,
        });
    }
    if let Err(e) = std::str::from_utf8(payload) {
        return Err(DecodeError::InvalidUtf8 {
            at: e.valid_up_to(),
        });
    }
    // serde accepts a struct written as a JSON array; events are objects only.
    if payload.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(DecodeError::Shape {
            field: None,
            message: "expected a JSON object".into(),
        });
    }
    let invalid = |v: crate::validate::Violation| DecodeError::Invalid {
        field: v.field,
        reason: v.reason,
    };
    match stream {
        StreamKind::Predictions => {
            let p: Prediction = parse(payload)?;
            validate_prediction(&p, limits).map_err(invalid)?;
            Ok(Event::Prediction(p))
        }
        StreamKind::Corrections => {
            let c: Correction = parse(payload)?;
            validate_correction(&c, limits).map_err(invalid)?;
            Ok(Event::Correction(c))
        }
        StreamKind::Latency => {
            let l: Latency = parse(payload)?;
            validate_latency(&l, limits).map_err(invalid)?;
            Ok(Event::Latency(l))
        }
    }
}

/// Parses on the fast path; on failure parses again with path tracking so the
/// error can name the field (the slow path only runs for bad input).
fn parse<T: DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    match serde_json::from_slice::<T>(payload) {
        Ok(v) => Ok(v),
        Err(fast_err) => {
            let mut de = serde_json::Deserializer::from_slice(payload);
            match serde_path_to_error::deserialize::<_, T>(&mut de) {
                Err(e) => {
                    let path = e.path().to_string();
                    let field = (path != "." && !path.is_empty()).then_some(path);
                    Err(DecodeError::Shape {
                        field,
                        message: e.into_inner().to_string(),
                    })
                }
                // Cannot happen for the same input; keep the first error.
                Ok(_) => Err(DecodeError::Shape {
                    field: None,
                    message: fast_err.to_string(),
                }),
            }
        }
    }
}
