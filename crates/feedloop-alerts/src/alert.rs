//! The alert contract: the series an observation belongs to, the observation
//! itself, and the [`Alert`] JSON that sinks deliver (`schemas/alert.v1.schema.json`).
//! Owns alert ids and the human-readable summaries.

use crate::rules::{Band, Severity, Side};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Identity of a monitored series: one metric (optionally of one feature) of one
/// model version in one segment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SeriesKey {
    pub model: String,
    pub model_version: String,
    /// Segment labels (e.g. `country = "DE"`); empty for the whole model.
    #[serde(default)]
    pub segment: BTreeMap<String, String>,
    /// e.g. `volume`, `error_rate`, `latency_p95`, `drift`, `prediction_drift`.
    pub metric: String,
    /// The feature a per-feature metric (drift) is about.
    #[serde(default)]
    pub feature: Option<String>,
}

impl SeriesKey {
    /// Canonical string form (JSON with sorted segment keys): the key of the
    /// series in the engine state and the input of alert ids.
    pub fn canonical(&self) -> String {
        // Serialising strings and a BTreeMap cannot fail; fall back to Debug anyway.
        serde_json::to_string(self).unwrap_or_else(|_| format!("{self:?}"))
    }
}

/// The verdict of a drift test for one window (from `feedloop-drift`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftVerdict {
    /// Test name, e.g. `psi`, `ks`, `wasserstein`.
    pub test: String,
    pub score: f64,
    pub threshold: f64,
    /// Whether the test says the window drifted.
    pub drift: bool,
}

/// One closed window of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub key: SeriesKey,
    /// Window start, epoch milliseconds (inclusive).
    pub window_start_ms: i64,
    /// Window end, epoch milliseconds (exclusive); windows of a series are
    /// ordered by it.
    pub window_end_ms: i64,
    /// The metric's value for the window (ignored when `drift` is set).
    pub value: f64,
    /// Set for drift-test series: the alert follows the verdict, not a σ band.
    pub drift: Option<DriftVerdict>,
}

/// `firing` or `resolved`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Firing,
    Resolved,
}

/// An alert as delivered (`schemas/alert.v1.schema.json`).
///
/// A `resolved` alert carries the `id`, `direction` and `severity` of the
/// `firing` alert it ends; its window and numbers are those of the window that
/// resolved it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Deterministic: hash of the series key and the start of the firing window.
    pub id: String,
    pub state: AlertState,
    pub model: String,
    pub model_version: String,
    pub segment: BTreeMap<String, String>,
    pub metric: String,
    pub feature: Option<String>,
    /// RFC 3339 UTC.
    pub window_start: String,
    /// RFC 3339 UTC.
    pub window_end: String,
    /// The window's value (the test score for drift-test alerts). Non-finite
    /// scores are written as the strings `"inf"`, `"-inf"`, `"nan"`.
    #[serde(with = "float_or_string")]
    pub value: f64,
    /// Mean of the history (null for drift-test alerts).
    pub mean: Option<f64>,
    /// σ of the band after the floor (null for drift-test alerts).
    pub sigma: Option<f64>,
    /// Band half-width in σ (null for drift-test alerts).
    pub k: Option<f64>,
    /// Side the value left the band on (null for drift-test alerts).
    pub direction: Option<Side>,
    pub severity: Severity,
    /// Drift test name (null for σ alerts).
    pub test: Option<String>,
    /// Drift test threshold (null for σ alerts).
    pub threshold: Option<f64>,
    pub summary: String,
}

/// Alert id: FNV-1a 64 of `<canonical series key>|<window_start_ms>`, as 16 hex
/// digits. (std's `DefaultHasher` is not stable across Rust releases; ids must be.)
pub fn alert_id(key: &SeriesKey, window_start_ms: i64) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let input = format!("{}|{}", key.canonical(), window_start_ms);
    for b in input.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

pub(crate) fn rfc3339(ms: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// "2026-11-01 10:05–10:10 UTC" (dates repeated when the window spans midnight).
pub(crate) fn window_label(start_ms: i64, end_ms: i64) -> String {
    let (Some(s), Some(e)) = (
        DateTime::<Utc>::from_timestamp_millis(start_ms),
        DateTime::<Utc>::from_timestamp_millis(end_ms),
    ) else {
        return format!("{start_ms}–{end_ms}");
    };
    let tf = if s.timestamp() % 60 == 0
        && e.timestamp() % 60 == 0
        && start_ms % 1000 == 0
        && end_ms % 1000 == 0
    {
        "%H:%M"
    } else {
        "%H:%M:%S"
    };
    if s.date_naive() == e.date_naive() {
        format!(
            "{} {}–{} UTC",
            s.format("%Y-%m-%d"),
            s.format(tf),
            e.format(tf)
        )
    } else {
        format!(
            "{} {}–{} {} UTC",
            s.format("%Y-%m-%d"),
            s.format(tf),
            e.format("%Y-%m-%d"),
            e.format(tf)
        )
    }
}

/// A number with about three significant digits, at least one decimal.
pub(crate) fn num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    if x == 0.0 {
        return "0.0".into();
    }
    let mag = x.abs().log10().floor() as i32;
    let decimals = (2 - mag).clamp(1, 12) as usize;
    format!("{x:.decimals$}")
}

fn unit(metric: &str) -> &'static str {
    if metric.starts_with("latency") {
        " ms"
    } else {
        ""
    }
}

/// "latency_p95 of spam-filter 2026-11-01", with feature and segment when set.
pub(crate) fn subject(key: &SeriesKey) -> String {
    let mut s = match &key.feature {
        Some(f) => format!(
            "{} of feature {} of {} {}",
            key.metric, f, key.model, key.model_version
        ),
        None => format!("{} of {} {}", key.metric, key.model, key.model_version),
    };
    if !key.segment.is_empty() {
        let seg: Vec<String> = key
            .segment
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        s.push_str(&format!(" [{}]", seg.join(", ")));
    }
    s
}

pub(crate) fn band_label(b: &Band, metric: &str) -> String {
    format!(
        "{}{u} ± {}×{}{u}",
        num(b.mean),
        num(b.k),
        num(b.sigma_eff),
        u = unit(metric)
    )
}

pub(crate) fn value_label(x: f64, metric: &str) -> String {
    format!("{}{}", num(x), unit(metric))
}

/// Serialises a float as a JSON number, or as `"inf"`, `"-inf"`, `"nan"` when
/// it is not finite (JSON has no such numbers).
mod float_or_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_nan() {
            s.serialize_str("nan")
        } else if x.is_infinite() {
            s.serialize_str(if *x > 0.0 { "inf" } else { "-inf" })
        } else {
            s.serialize_f64(*x)
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum F {
        N(f64),
        S(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match F::deserialize(d)? {
            F::N(x) => Ok(x),
            F::S(s) => match s.as_str() {
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                "nan" => Ok(f64::NAN),
                other => Err(serde::de::Error::custom(format!(
                    "expected a number, \"inf\", \"-inf\" or \"nan\", got \"{other}\""
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SeriesKey {
        SeriesKey {
            model: "spam-filter".into(),
            model_version: "2026-11-01".into(),
            segment: BTreeMap::from([("country".into(), "DE".into())]),
            metric: "latency_p95".into(),
            feature: None,
        }
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let k = key();
        assert_eq!(alert_id(&k, 1), alert_id(&k.clone(), 1));
        assert_ne!(alert_id(&k, 1), alert_id(&k, 2));
        let mut k2 = k.clone();
        k2.segment.insert("country".into(), "FR".into());
        assert_ne!(alert_id(&k, 1), alert_id(&k2, 1));
        assert_eq!(alert_id(&k, 1).len(), 16);
        // Pinned (computed independently in Python): ids must not change between releases.
        assert_eq!(alert_id(&k, 1_793_527_500_000), "538defd60e7d12e2");
    }

    #[test]
    fn labels() {
        assert_eq!(num(212.0), "212.0");
        assert_eq!(num(98.1), "98.1");
        assert_eq!(num(0.0123), "0.0123");
        assert_eq!(
            window_label(1_793_527_500_000, 1_793_527_800_000),
            "2026-11-01 10:05–10:10 UTC"
        );
        assert_eq!(
            subject(&key()),
            "latency_p95 of spam-filter 2026-11-01 [country=DE]"
        );
    }
}
