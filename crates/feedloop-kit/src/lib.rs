//! # feedloop-kit: what every long-running part shares
//!
//! Kafka client settings, secrets and their redaction, the setting error, retry
//! backoff, the Prometheus histogram. Ingest, the alert sinks, the CLI and the
//! storage config each need these rules, and they must agree: a secret redacted
//! in one place and printed in another, or a consumer-only key dropped from one
//! producer and passed to the next, is a bug. So each rule lives here once, one
//! module per rule, and the crates above only call it.
//!
//! * [`kafka`] — [`KafkaConfig`] (`[kafka]`: brokers, group, topics, librdkafka
//!   options) and building librdkafka clients from it: the consumer's settings,
//!   the producers' (without [`kafka::CONSUMER_ONLY`] keys), config errors
//!   without option values.
//! * [`secrets`] — which option names hold secrets ([`secrets::is_secret_option`])
//!   and option maps with their values redacted.
//! * [`setting`] — [`InvalidSetting`], the start-up error naming a key and what
//!   it expects, and [`setting::lenient`] text values (`= 45000` read as `"45000"`).
//! * [`backoff`] — [`Backoff`]: exponential, capped, with jitter.
//! * [`histogram`] — [`Histogram`]: lock-free Prometheus-style duration buckets.
//!
//! Nothing here does I/O or logs. The kit depends on serde, thiserror and rand
//! (jitter); the `kafka` feature (on by default, off in the workspace's
//! dependency entry) adds rdkafka, for its config and error types, and
//! `feedloop-events`, for the streams [`kafka::Topics`] names. So
//! `feedloop-storage`, which needs only the secret and setting rules, does not
//! link librdkafka.

pub mod backoff;
pub mod histogram;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod secrets;
pub mod setting;

pub use backoff::Backoff;
pub use histogram::{DURATION_BUCKETS, Histogram, HistogramSnapshot};
#[cfg(feature = "kafka")]
pub use kafka::{KafkaConfig, Topics};
pub use setting::InvalidSetting;
