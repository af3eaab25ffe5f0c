//! Semantic validation of decoded events: names, sizes and required outputs.
//!
//! JSON shape is checked by serde in [`crate::wire`]; what a JSON Schema cannot
//! express cheaply (or what operators tune) lives here, driven by [`Limits`].

use crate::wire::{Correction, FeatureValue, Latency, Prediction};
use serde::{Deserialize, Serialize};

/// Size limits applied to every event. Defaults suit production traffic; raise
/// them for unusually wide models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest accepted message payload, in bytes. Larger messages are dead-lettered
    /// before parsing. Default 1 MiB.
    pub max_event_bytes: usize,
    /// Largest accepted string value (ids, labels, feature and tag values), in bytes.
    /// Default 64 KiB.
    pub max_string_bytes: usize,
    /// Largest number of features per prediction. Default 1024.
    pub max_features: usize,
    /// Largest number of tags per prediction. Default 64.
    pub max_tags: usize,
    /// Longest feature or tag name, in bytes. Default 256.
    pub max_name_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_event_bytes: 1 << 20,
            max_string_bytes: 64 << 10,
            max_features: 1024,
            max_tags: 64,
            max_name_bytes: 256,
        }
    }
}

/// A rule an event broke: the field (dotted path) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub reason: String,
}

impl Violation {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Violation {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// True when `name` matches `[A-Za-z0-9._-]{1,128}`, the alphabet of model names
/// and versions (they appear in storage paths and metric labels).
pub fn is_valid_model_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        && name != "."
        && name != ".."
}

fn check_model(field: &str, name: &str) -> Result<(), Violation> {
    if is_valid_model_name(name) {
        Ok(())
    } else {
        Err(Violation::new(
            field,
            "must match [A-Za-z0-9._-]{1,128} (and not be `.` or `..`)",
        ))
    }
}

fn check_id(field: &str, id: &str, limits: &Limits) -> Result<(), Violation> {
    if id.is_empty() {
        return Err(Violation::new(field, "must not be empty"));
    }
    check_string(field, id, limits)
}

fn check_string(field: &str, s: &str, limits: &Limits) -> Result<(), Violation> {
    if s.len() > limits.max_string_bytes {
        return Err(Violation::new(
            field,
            format!(
                "is {} bytes, over the limit of {} (limits.max_string_bytes)",
                s.len(),
                limits.max_string_bytes
            ),
        ));
    }
    Ok(())
}

fn check_name(field: &str, name: &str, limits: &Limits) -> Result<(), Violation> {
    if name.is_empty() {
        return Err(Violation::new(field, "has an empty name"));
    }
    if name.len() > limits.max_name_bytes {
        return Err(Violation::new(
            field,
            format!(
                "has a name of {} bytes, over the limit of {} (limits.max_name_bytes)",
                name.len(),
                limits.max_name_bytes
            ),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Violation::new(field, "has a name with control characters"));
    }
    Ok(())
}

pub fn validate_prediction(p: &Prediction, limits: &Limits) -> Result<(), Violation> {
    check_id("prediction_id", &p.prediction_id, limits)?;
    check_model("model", &p.model)?;
    check_model("model_version", &p.model_version)?;
    if p.features.len() > limits.max_features {
        return Err(Violation::new(
            "features",
            format!(
                "has {} features, over the limit of {} (limits.max_features)",
                p.features.len(),
                limits.max_features
            ),
        ));
    }
    for (name, value) in &p.features {
        check_name("features", name, limits)?;
        if let FeatureValue::String(s) = value {
            check_string(&format!("features.{name}"), s, limits)?;
        }
    }
    let out = &p.output;
    if out.label.is_none() && out.score.is_none() && out.value.is_none() {
        return Err(Violation::new(
            "output",
            "needs at least one of `label`, `score` or `value`",
        ));
    }
    if let Some(label) = &out.label {
        check_string("output.label", label, limits)?;
    }
    if p.tags.len() > limits.max_tags {
        return Err(Violation::new(
            "tags",
            format!(
                "has {} tags, over the limit of {} (limits.max_tags)",
                p.tags.len(),
                limits.max_tags
            ),
        ));
    }
    for (name, value) in &p.tags {
        check_name("tags", name, limits)?;
        check_string(&format!("tags.{name}"), value, limits)?;
    }
    Ok(())
}

pub fn validate_correction(c: &Correction, limits: &Limits) -> Result<(), Violation> {
    check_id("prediction_id", &c.prediction_id, limits)?;
    if c.label.is_none() && c.value.is_none() {
        return Err(Violation::new(
            "label",
            "a correction needs `label` or `value`",
        ));
    }
    if let Some(label) = &c.label {
        check_string("label", label, limits)?;
    }
    if let Some(source) = &c.source {
        check_string("source", source, limits)?;
    }
    Ok(())
}

pub fn validate_latency(l: &Latency, limits: &Limits) -> Result<(), Violation> {
    if let Some(id) = &l.prediction_id {
        check_id("prediction_id", id, limits)?;
    }
    check_model("model", &l.model)?;
    check_model("model_version", &l.model_version)?;
    if l.latency_ms < 0.0 {
        return Err(Violation::new("latency_ms", "must be ≥ 0"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names() {
        for ok in ["a", "spam-filter", "m_1.2", &"x".repeat(128)] {
            assert!(is_valid_model_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", &"x".repeat(129), "a\0"] {
            assert!(!is_valid_model_name(bad), "{bad:?}");
        }
    }
}
