//! The `[kafka]` and `[ingest]` config sections. Doc comments here are the user docs.

use feedloop_events::{Limits, StreamKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// `[kafka]`: how to reach the brokers.
///
/// `Debug` shows secret-looking option values (see [`is_secret_option`]) as
/// `<redacted>`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap brokers, comma-separated `host:port`.
    pub brokers: String,
    /// Consumer group. Every `feedloop run` with the same group shares the partitions.
    pub group_id: String,
    /// Topic names.
    pub topics: Topics,
    /// Passed to librdkafka as is, for consumer and producers (`security.protocol`,
    /// `sasl.*`, `ssl.*`, `session.timeout.ms`, …). Values here win over feedloop's
    /// defaults, except the ones exactly-once depends on (`enable.auto.commit`,
    /// `enable.auto.offset.store`), which are rejected. Numbers and booleans are
    /// accepted and passed on as text (`"session.timeout.ms" = 45000`).
    #[serde(deserialize_with = "lenient::string_map")]
    pub options: BTreeMap<String, String>,
}

/// Substrings of option names whose values are secrets (`sasl.password`,
/// `ssl.key.password`, `aws_secret_access_key`, `sasl.oauthbearer.client.secret`,
/// …): never printed, logged or put in error messages.
pub const SECRET_HINTS: [&str; 6] = [
    "password",
    "secret",
    "token",
    "key",
    "credential",
    "sasl.oauthbearer",
];

/// True when the value of option `key` must be kept out of output.
pub fn is_secret_option(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_HINTS.iter().any(|h| k.contains(h))
}

/// `options` with secret-looking values replaced by `<redacted>`.
pub fn redacted_options(options: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    options
        .iter()
        .map(|(k, v)| {
            let v = if is_secret_option(k) {
                "<redacted>"
            } else {
                v.as_str()
            };
            (k.as_str(), v)
        })
        .collect()
}

impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("group_id", &self.group_id)
            .field("topics", &self.topics)
            .field("options", &redacted_options(&self.options))
            .finish()
    }
}

/// Deserializers that take a number or boolean where text is expected, so that
/// an unquoted value (`"sasl.password" = 12345678`, or `FEEDLOOP_…=12345678`,
/// which the environment provider reads as a number) is accepted instead of
/// failing with an error message that quotes the value.
pub mod lenient {
    use serde::Deserialize;
    use serde::de::{self, Deserializer, Visitor};
    use std::collections::BTreeMap;
    use std::fmt;

    /// A string, or a number or boolean turned into its text.
    pub struct Text(pub String);

    impl<'de> Deserialize<'de> for Text {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Text;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a string, number or boolean")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                    Ok(Text(v))
                }
                fn visit_char<E: de::Error>(self, v: char) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_i128<E: de::Error>(self, v: i128) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_u128<E: de::Error>(self, v: u128) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
            }
            d.deserialize_any(V)
        }
    }

    /// A map of text values ([`Text`]).
    pub fn string_map<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, String>, D::Error> {
        let m = BTreeMap::<String, Text>::deserialize(d)?;
        Ok(m.into_iter().map(|(k, v)| (k, v.0)).collect())
    }

    /// An optional text value ([`Text`]).
    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<Text>::deserialize(d)?.map(|t| t.0))
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            group_id: "feedloop".into(),
            topics: Topics::default(),
            options: BTreeMap::new(),
        }
    }
}

/// `[kafka.topics]`: one topic per stream, plus feedloop's own outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Topics {
    pub predictions: String,
    pub corrections: String,
    pub latency: String,
    /// Where undecodable or invalid events go, with the reason in headers.
    pub dead_letter: String,
    /// Where alerts are published.
    pub alerts: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            predictions: "predictions".into(),
            corrections: "corrections".into(),
            latency: "latency".into(),
            dead_letter: "feedloop-dlq".into(),
            alerts: "feedloop-alerts".into(),
        }
    }
}

impl Topics {
    /// The topic of a stream.
    pub fn for_stream(&self, stream: StreamKind) -> &str {
        match stream {
            StreamKind::Predictions => &self.predictions,
            StreamKind::Corrections => &self.corrections,
            StreamKind::Latency => &self.latency,
        }
    }

    /// The stream a topic feeds, if any.
    pub fn stream_of(&self, topic: &str) -> Option<StreamKind> {
        StreamKind::ALL
            .into_iter()
            .find(|s| self.for_stream(*s) == topic)
    }
}

/// `[ingest]`: batching and validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Longest time an event waits in memory before its batch is landed
    /// (humantime, e.g. `"5s"`). Bounds both freshness and what a crash re-reads.
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// Land a partition's batch once it holds this many events.
    pub flush_max_events: usize,
    /// Land a partition's batch once its raw JSON reaches this many bytes.
    pub flush_max_bytes: usize,
    /// Upper bound on bytes of batches waiting to be written, across partitions.
    /// Consumption pauses when it is reached (backpressure).
    pub max_inflight_bytes: usize,
    /// zstd level of landed Parquet files (1–22).
    pub zstd_level: i32,
    /// Attempts to land one batch, or to read a partition's resume point,
    /// before ingest stops with the storage error (1–100). Only retryable
    /// errors (throttling, timeouts, 5xx) are tried again, after exponential
    /// backoff with jitter capped at 10 s, so the default 8 rides out 11–23 s
    /// of failing storage, and each further attempt adds 5–10 s; permission
    /// and space errors stop at once. Nothing is committed past durable data
    /// either way.
    pub landing_max_attempts: u32,
    /// Size limits every event must meet.
    pub limits: Limits,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            flush_interval: Duration::from_secs(5),
            flush_max_events: 100_000,
            flush_max_bytes: 64 << 20,
            max_inflight_bytes: 512 << 20,
            zstd_level: 1,
            landing_max_attempts: 8,
            limits: Limits::default(),
        }
    }
}

/// A config value that is out of range; the CLI turns it into a start-up error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {expected}")]
pub struct InvalidSetting {
    pub key: String,
    pub expected: String,
}

fn invalid(key: &str, expected: impl Into<String>) -> InvalidSetting {
    InvalidSetting {
        key: key.into(),
        expected: expected.into(),
    }
}

fn valid_topic(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 249
        && t != "."
        && t != ".."
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

impl KafkaConfig {
    /// Checks values serde cannot: names the first offending key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.brokers.trim().is_empty() {
            return Err(invalid(
                "kafka.brokers",
                "expected a comma-separated list of host:port",
            ));
        }
        if self.group_id.trim().is_empty() {
            return Err(invalid(
                "kafka.group_id",
                "expected a non-empty consumer group name",
            ));
        }
        let t = &self.topics;
        let all = [
            ("kafka.topics.predictions", &t.predictions),
            ("kafka.topics.corrections", &t.corrections),
            ("kafka.topics.latency", &t.latency),
            ("kafka.topics.dead_letter", &t.dead_letter),
            ("kafka.topics.alerts", &t.alerts),
        ];
        for (key, topic) in all {
            if !valid_topic(topic) {
                return Err(invalid(
                    key,
                    "expected a Kafka topic name ([A-Za-z0-9._-], 1 to 249 characters)",
                ));
            }
        }
        for (i, (ka, a)) in all.iter().enumerate() {
            for (kb, b) in &all[i + 1..] {
                if a == b {
                    return Err(invalid(
                        kb,
                        format!("expected a topic different from {ka} (both are `{a}`)"),
                    ));
                }
            }
        }
        for forbidden in ["enable.auto.commit", "enable.auto.offset.store"] {
            if self.options.contains_key(forbidden) {
                return Err(invalid(
                    &format!("kafka.options.\"{forbidden}\""),
                    "not settable: feedloop commits offsets itself, after data is durable",
                ));
            }
        }
        Ok(())
    }
}

impl IngestConfig {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.flush_interval < Duration::from_millis(10)
            || self.flush_interval > Duration::from_secs(3600)
        {
            return Err(invalid(
                "ingest.flush_interval",
                "expected a duration between 10ms and 1h, e.g. \"5s\"",
            ));
        }
        if self.flush_max_events == 0 {
            return Err(invalid(
                "ingest.flush_max_events",
                "expected a positive number of events",
            ));
        }
        if self.flush_max_bytes < 1024 {
            return Err(invalid(
                "ingest.flush_max_bytes",
                "expected at least 1024 bytes",
            ));
        }
        if self.max_inflight_bytes < self.flush_max_bytes {
            return Err(invalid(
                "ingest.max_inflight_bytes",
                "expected at least ingest.flush_max_bytes",
            ));
        }
        if !(1..=22).contains(&self.zstd_level) {
            return Err(invalid(
                "ingest.zstd_level",
                "expected a zstd level from 1 to 22",
            ));
        }
        if !(1..=100).contains(&self.landing_max_attempts) {
            return Err(invalid(
                "ingest.landing_max_attempts",
                "expected a number of attempts from 1 to 100",
            ));
        }
        let l = &self.limits;
        for (key, v) in [
            ("ingest.limits.max_event_bytes", l.max_event_bytes),
            ("ingest.limits.max_string_bytes", l.max_string_bytes),
            ("ingest.limits.max_features", l.max_features),
            ("ingest.limits.max_tags", l.max_tags),
            ("ingest.limits.max_name_bytes", l.max_name_bytes),
        ] {
            if v == 0 {
                return Err(invalid(key, "expected a positive number"));
            }
        }
        Ok(())
    }
}
