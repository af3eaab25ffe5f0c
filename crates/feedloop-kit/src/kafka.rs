//! Kafka client settings: the `[kafka]` config section ([`KafkaConfig`]) and the
//! librdkafka configs built from it — the ingest consumer's, and every
//! producer's without the consumer-only keys — plus config errors without values.

use crate::secrets::{is_secret_option, redacted_options};
use crate::setting::InvalidSetting;
use feedloop_events::StreamKind;
use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[kafka]`: how to reach the brokers.
///
/// `Debug` shows secret-looking option values (see
/// [`is_secret_option`]) as `<redacted>`.
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
    #[serde(deserialize_with = "crate::setting::lenient::string_map")]
    pub options: BTreeMap<String, String>,
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
            return Err(InvalidSetting::new(
                "kafka.brokers",
                "expected a comma-separated list of host:port",
            ));
        }
        if self.group_id.trim().is_empty() {
            return Err(InvalidSetting::new(
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
                return Err(InvalidSetting::new(
                    key,
                    "expected a Kafka topic name ([A-Za-z0-9._-], 1 to 249 characters)",
                ));
            }
        }
        for (i, (ka, a)) in all.iter().enumerate() {
            for (kb, b) in &all[i + 1..] {
                if a == b {
                    return Err(InvalidSetting::new(
                        *kb,
                        format!("expected a topic different from {ka} (both are `{a}`)"),
                    ));
                }
            }
        }
        for forbidden in ["enable.auto.commit", "enable.auto.offset.store"] {
            if self.options.contains_key(forbidden) {
                return Err(InvalidSetting::new(
                    format!("kafka.options.\"{forbidden}\""),
                    "not settable: feedloop commits offsets itself, after data is durable",
                ));
            }
        }
        Ok(())
    }
}

/// librdkafka properties that only consumers understand: every key marked `C`
/// in librdkafka's CONFIGURATION.md (2.12, the version rdkafka bundles) that
/// can be set as text. Producers built from `[kafka.options]` leave them out
/// ([`apply_producer_options`]), as they do any other `fetch.*` or `queued.*`
/// key; a producer would only warn about them.
pub const CONSUMER_ONLY: [&str; 31] = [
    "group.id",
    "group.instance.id",
    "partition.assignment.strategy",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "group.protocol.type",
    "group.protocol",
    "group.remote.assignor",
    "coordinator.query.interval.ms",
    "max.poll.interval.ms",
    "enable.auto.commit",
    "auto.commit.enable",
    "auto.commit.interval.ms",
    "enable.auto.offset.store",
    "queued.min.messages",
    "queued.max.messages.kbytes",
    "fetch.wait.max.ms",
    "fetch.queue.backoff.ms",
    "fetch.message.max.bytes",
    "max.partition.fetch.bytes",
    "fetch.max.bytes",
    "fetch.min.bytes",
    "fetch.error.backoff.ms",
    "offset.store.method",
    "offset.store.path",
    "offset.store.sync.interval.ms",
    "isolation.level",
    "enable.partition.eof",
    "check.crcs",
    "auto.offset.reset",
    "consume.callback.max.messages",
];

/// Whether `key` is left out of producer configs ([`CONSUMER_ONLY`], `fetch.*`, `queued.*`).
pub fn is_consumer_only(key: &str) -> bool {
    CONSUMER_ONLY.contains(&key) || key.starts_with("fetch.") || key.starts_with("queued.")
}

/// Applies `[kafka.options]` (and the broker list) to a librdkafka consumer config.
pub fn apply_options(cfg: &mut ClientConfig, kafka: &KafkaConfig) {
    cfg.set("bootstrap.servers", &kafka.brokers);
    for (k, v) in &kafka.options {
        cfg.set(k, v);
    }
}

/// The librdkafka config of the ingest consumer: feedloop's defaults, then
/// `[kafka.options]` (TLS, SASL, timeouts, … as is), then the settings
/// exactly-once depends on, which config validation keeps users from setting.
pub fn consumer_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("group.id", &kafka.group_id)
        .set("client.id", "feedloop")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("statistics.interval.ms", "5000");
    apply_options(&mut cfg, kafka);
    // Exactly-once depends on these; config validation rejects user overrides.
    cfg.set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    cfg
}

/// Applies `[kafka.options]` (and the broker list) to a producer config,
/// leaving out consumer-only ones ([`is_consumer_only`]).
pub fn apply_producer_options(
    cfg: &mut ClientConfig,
    brokers: &str,
    options: &BTreeMap<String, String>,
) {
    cfg.set("bootstrap.servers", brokers);
    for (k, v) in options {
        if !is_consumer_only(k) {
            cfg.set(k, v);
        }
    }
}

/// Takes the value out of a librdkafka config error. rdkafka's message for a
/// rejected setting is `<reason> <key> <value>`, so a misspelt secret option
/// (`"sasl.pasword" = …`) would otherwise print the secret; librdkafka's own
/// reason names the key, and quotes the value only for enumerated or numeric
/// settings, which is kept unless the key looks secret ([`is_secret_option`]).
pub fn redact_config_error(e: KafkaError) -> KafkaError {
    match e {
        KafkaError::ClientConfig(res, desc, key, value) => {
            let desc = if !value.is_empty() && is_secret_option(&key) {
                desc.replace(&value, "<redacted>")
            } else {
                desc
            };
            KafkaError::ClientConfig(res, desc, key, "<value redacted>".into())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer_configs_leave_out_every_consumer_only_key() {
        let mut kafka = KafkaConfig {
            brokers: "b1:9092,b2:9092".into(),
            ..KafkaConfig::default()
        };
        for key in CONSUMER_ONLY
            .iter()
            .copied()
            .chain(["fetch.some.future.key", "queued.some.future.key"])
        {
            kafka.options.insert(key.into(), "1".into());
        }
        kafka
            .options
            .insert("security.protocol".into(), "SASL_SSL".into());
        kafka
            .options
            .insert("sasl.mechanism".into(), "SCRAM-SHA-512".into());

        let mut cfg = ClientConfig::new();
        apply_producer_options(&mut cfg, &kafka.brokers, &kafka.options);
        for key in kafka.options.keys().filter(|k| is_consumer_only(k)) {
            assert_eq!(cfg.get(key), None, "{key} reached the producer");
        }
        assert_eq!(cfg.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(cfg.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(cfg.get("bootstrap.servers"), Some("b1:9092,b2:9092"));
        // The consumer gets them all.
        let consumer = consumer_config(&kafka);
        assert_eq!(consumer.get("check.crcs"), Some("1"));
        assert_eq!(consumer.get("security.protocol"), Some("SASL_SSL"));
    }

    #[test]
    fn config_errors_lose_the_value_and_secret_ones_their_reason_too() {
        use rdkafka::types::RDKafkaConfRes;
        let err = |key: &str, value: &str| {
            KafkaError::ClientConfig(
                RDKafkaConfRes::RD_KAFKA_CONF_INVALID,
                format!("Invalid value \"{value}\" for configuration property \"{key}\""),
                key.into(),
                value.into(),
            )
        };
        let shown = redact_config_error(err("ssl.key.passwd", "hunter2")).to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("ssl.key.passwd"), "{shown}");
        let shown = redact_config_error(err("acks", "most")).to_string();
        assert!(shown.contains("\"most\""), "{shown}");
        assert!(shown.contains("<value redacted>"), "{shown}");
    }
}
