//! The Kafka producer of the HTTP API's `POST /api/v1/corrections`, also used
//! by `feedloop produce` and `feedloop demo`: feedloop's producer defaults over
//! `[kafka.options]`, with config errors that never carry a secret value.

use crate::error::ServerError;
use rdkafka::producer::FutureProducer;

/// The librdkafka config of `feedloop produce` and of the HTTP API's
/// corrections producer: feedloop's defaults, then `[kafka.options]` without the
/// consumer-only keys (TLS and SASL settings included).
pub fn producer_config(
    brokers: &str,
    options: &std::collections::BTreeMap<String, String>,
) -> rdkafka::ClientConfig {
    let mut cfg = rdkafka::ClientConfig::new();
    cfg.set("acks", "all")
        .set("linger.ms", "10")
        .set("message.timeout.ms", "60000")
        .set("queue.buffering.max.messages", "1000000");
    feedloop_kit::kafka::apply_producer_options(&mut cfg, brokers, options);
    cfg
}

/// Creates a producer for `config.kafka` (acks=all, idempotent ordering per key).
/// A config error names the key, never its value.
pub fn producer(
    brokers: &str,
    options: &std::collections::BTreeMap<String, String>,
) -> Result<FutureProducer, ServerError> {
    producer_config(brokers, options)
        .create()
        .map_err(feedloop_kit::kafka::redact_config_error)
        .map_err(ServerError::Producer)
}
