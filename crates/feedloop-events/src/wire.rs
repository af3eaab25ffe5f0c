//! The JSON wire format of the three streams, as typed serde structs.
//!
//! Shapes follow `schemas/*.v1.schema.json`. Timestamps accept RFC 3339 strings or
//! epoch milliseconds; feature values accept number, string, bool or null. Unknown
//! fields are ignored. Semantic rules (names, limits) live in [`crate::validate`].

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::fmt;

/// A decoded event of any stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Prediction(Prediction),
    Correction(Correction),
    Latency(Latency),
}

/// One model prediction.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Prediction {
    /// Unique id of the prediction; corrections refer to it.
    pub prediction_id: String,
    /// Model name, `[A-Za-z0-9._-]{1,128}`.
    pub model: String,
    /// Model version, same alphabet as the model name.
    pub model_version: String,
    /// Event time, epoch milliseconds (UTC).
    #[serde(deserialize_with = "deserialize_ts")]
    pub ts: i64,
    /// Input features, sorted by name. Absent or `null` means no features.
    #[serde(default, deserialize_with = "deserialize_features")]
    pub features: Vec<(String, FeatureValue)>,
    /// What the model returned.
    pub output: Output,
    /// Free-form string tags (segments such as country or device), sorted by name.
    #[serde(default, deserialize_with = "deserialize_tags")]
    pub tags: Vec<(String, String)>,
}

/// A model's output: a class label, a score, a regression value, or several of them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Output {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default, deserialize_with = "deserialize_opt_f64")]
    pub score: Option<f64>,
    #[serde(default, deserialize_with = "deserialize_opt_f64")]
    pub value: Option<f64>,
}

/// One feature value. JSON numbers become `Number` (integers included).
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureValue {
    Null,
    Number(f64),
    String(String),
    Bool(bool),
}

/// The true label (or value) of an earlier prediction.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Correction {
    pub prediction_id: String,
    #[serde(deserialize_with = "deserialize_ts")]
    pub ts: i64,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default, deserialize_with = "deserialize_opt_f64")]
    pub value: Option<f64>,
    /// Where the correction came from: `user`, `annotator`, `implicit`, ….
    #[serde(default)]
    pub source: Option<String>,
}

/// Serving latency of one request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Latency {
    #[serde(default)]
    pub prediction_id: Option<String>,
    pub model: String,
    pub model_version: String,
    #[serde(deserialize_with = "deserialize_ts")]
    pub ts: i64,
    #[serde(deserialize_with = "deserialize_f64")]
    pub latency_ms: f64,
    pub status: LatencyStatus,
}

/// Outcome of a served request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LatencyStatus {
    Ok,
    Error,
    Timeout,
}

impl LatencyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LatencyStatus::Ok => "ok",
            LatencyStatus::Error => "error",
            LatencyStatus::Timeout => "timeout",
        }
    }
}

/// Largest epoch-millisecond value accepted: 9999-12-31T23:59:59.999Z.
pub const MAX_TS_MS: i64 = 253_402_300_799_999;
/// Smallest epoch-millisecond value accepted: 0001-01-01T00:00:00Z.
pub const MIN_TS_MS: i64 = -62_135_596_800_000;

fn ts_from_f64<E: de::Error>(v: f64) -> Result<i64, E> {
    if !v.is_finite() || v < MIN_TS_MS as f64 || v > MAX_TS_MS as f64 {
        return Err(E::custom(format_args!(
            "timestamp {v} is outside years 1..9999 in epoch milliseconds"
        )));
    }
    Ok(v.floor() as i64)
}

fn deserialize_ts<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct TsVisitor;
    impl<'de> Visitor<'de> for TsVisitor {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an RFC 3339 timestamp string or epoch milliseconds")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            if !(MIN_TS_MS..=MAX_TS_MS).contains(&v) {
                return Err(E::custom(format_args!(
                    "timestamp {v} is outside years 1..9999 in epoch milliseconds"
                )));
            }
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            match i64::try_from(v) {
                Ok(v) => self.visit_i64(v),
                Err(_) => Err(E::custom(format_args!(
                    "timestamp {v} is outside years 1..9999 in epoch milliseconds"
                ))),
            }
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
            ts_from_f64(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            let ms = chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.timestamp_millis())
                .map_err(|e| {
                    E::custom(format_args!(
                        "`{}` is not an RFC 3339 timestamp: {e}",
                        truncate(v, 64)
                    ))
                })?;
            // RFC 3339 allows year 0000, and an offset can move 0001-01-01 or
            // 9999-12-31 across the range in UTC.
            if !(MIN_TS_MS..=MAX_TS_MS).contains(&ms) {
                return Err(E::custom(format_args!(
                    "`{}` is outside years 1..9999 (UTC)",
                    truncate(v, 64)
                )));
            }
            Ok(ms)
        }
    }
    d.deserialize_any(TsVisitor)
}

fn finite<E: de::Error>(v: f64) -> Result<f64, E> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(E::custom("number is not finite"))
    }
}

struct F64Visitor;
impl<'de> Visitor<'de> for F64Visitor {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a finite number")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        finite(v)
    }
}

fn deserialize_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_any(F64Visitor)
}

fn deserialize_opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct OptVisitor;
    impl<'de> Visitor<'de> for OptVisitor {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a finite number or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(F64Visitor).map(Some)
        }
    }
    d.deserialize_option(OptVisitor)
}

impl<'de> Deserialize<'de> for FeatureValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FvVisitor;
        impl<'de> Visitor<'de> for FvVisitor {
            type Value = FeatureValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, string, boolean or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<FeatureValue, E> {
                Ok(FeatureValue::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<FeatureValue, E> {
                Ok(FeatureValue::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<FeatureValue, E> {
                Ok(FeatureValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FeatureValue, E> {
                Ok(FeatureValue::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FeatureValue, E> {
                Ok(FeatureValue::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<FeatureValue, E> {
                finite(v).map(FeatureValue::Number)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FeatureValue, E> {
                Ok(FeatureValue::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<FeatureValue, E> {
                Ok(FeatureValue::String(v))
            }
        }
        d.deserialize_any(FvVisitor)
    }
}

/// Deserializes a JSON object into a name-sorted list, rejecting duplicate names.
fn deserialize_sorted_map<'de, D, V>(d: D, what: &'static str) -> Result<Vec<(String, V)>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct MapVisitor<V>(&'static str, std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
        type Value = Vec<(String, V)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "an object of {} or null", self.0)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<(String, V)> = Vec::with_capacity(map.size_hint().unwrap_or(8));
            while let Some((k, v)) = map.next_entry::<String, V>()? {
                out.push((k, v));
            }
            out.sort_by(|a, b| a.0.cmp(&b.0));
            if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(de::Error::custom(format_args!(
                    "duplicate name `{}`",
                    truncate(&w[0].0, 64)
                )));
            }
            Ok(out)
        }
    }
    d.deserialize_any(MapVisitor(what, std::marker::PhantomData))
}

fn deserialize_features<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<(String, FeatureValue)>, D::Error> {
    deserialize_sorted_map(d, "feature values (number, string, boolean or null)")
}

fn deserialize_tags<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    deserialize_sorted_map(d, "string tags")
}

/// Shortens `s` to at most `max` bytes on a char boundary, for error messages.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
