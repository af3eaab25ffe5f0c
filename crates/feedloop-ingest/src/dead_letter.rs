//! The dead-letter producer: a message that fails to decode or validate is
//! re-published, byte for byte, to the dead-letter topic with headers saying why
//! and where it came from.
//!
//! Headers: `feedloop.error` (the reason, naming the field), `feedloop.error.kind`,
//! `feedloop.stream`, `feedloop.source.topic`, `feedloop.source.partition`,
//! `feedloop.source.offset`; the original headers are kept. A dead letter must be
//! acknowledged before the offset range holding it is committed, so a broken
//! dead-letter topic pauses consumption instead of dropping input.

use crate::config::KafkaConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use std::time::Duration;

/// One rejected message on its way to the dead-letter topic.
pub struct DeadLetter {
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub original_headers: Vec<(String, Option<Vec<u8>>)>,
    pub reason: String,
    pub kind: &'static str,
    pub stream: &'static str,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
    pending: Option<DeliveryFuture>,
}

impl std::fmt::Debug for DeadLetter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetter")
            .field("source_topic", &self.source_topic)
            .field("source_partition", &self.source_partition)
            .field("source_offset", &self.source_offset)
            .field("reason", &self.reason)
            .field("pending", &self.pending.is_some())
            .finish()
    }
}

impl DeadLetter {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        key: Option<Vec<u8>>,
        payload: Vec<u8>,
        original_headers: Vec<(String, Option<Vec<u8>>)>,
        reason: String,
        kind: &'static str,
        stream: &'static str,
        source_topic: String,
        source_partition: i32,
        source_offset: i64,
    ) -> Self {
        DeadLetter {
            key,
            payload,
            original_headers,
            reason,
            kind,
            stream,
            source_topic,
            source_partition,
            source_offset,
            pending: None,
        }
    }
}

/// Publishes dead letters.
#[derive(Clone)]
pub struct DeadLetterProducer {
    producer: FutureProducer,
    topic: String,
}

impl DeadLetterProducer {
    /// A producer to `kafka.topics.dead_letter`. A config error carries no
    /// option value ([`crate::pipeline::redact_config_error`]).
    pub fn new(kafka: &KafkaConfig) -> Result<Self, KafkaError> {
        Ok(DeadLetterProducer {
            producer: Self::client_config(kafka)
                .create()
                .map_err(crate::pipeline::redact_config_error)?,
            topic: kafka.topics.dead_letter.clone(),
        })
    }

    /// The librdkafka config of the dead-letter producer: feedloop's defaults,
    /// then `[kafka.options]` without the consumer-only keys (TLS and SASL
    /// settings included).
    pub fn client_config(kafka: &KafkaConfig) -> rdkafka::ClientConfig {
        let mut cfg = rdkafka::ClientConfig::new();
        cfg.set("bootstrap.servers", &kafka.brokers)
            .set("acks", "all")
            .set("message.timeout.ms", "30000")
            .set("linger.ms", "20")
            .set("client.id", "feedloop-dead-letter");
        crate::pipeline::apply_producer_options(&mut cfg, &kafka.brokers, &kafka.options);
        cfg
    }

    fn headers(dl: &DeadLetter) -> OwnedHeaders {
        let partition = dl.source_partition.to_string();
        let offset = dl.source_offset.to_string();
        let mut h = OwnedHeaders::new_with_capacity(dl.original_headers.len() + 6);
        for (k, v) in &dl.original_headers {
            h = h.insert(Header {
                key: k.as_str(),
                value: v.as_deref(),
            });
        }
        for (k, v) in [
            ("feedloop.error", dl.reason.as_str()),
            ("feedloop.error.kind", dl.kind),
            ("feedloop.stream", dl.stream),
            ("feedloop.source.topic", dl.source_topic.as_str()),
            ("feedloop.source.partition", partition.as_str()),
            ("feedloop.source.offset", offset.as_str()),
        ] {
            h = h.insert(Header {
                key: k,
                value: Some(v.as_bytes()),
            });
        }
        h
    }

    /// Enqueues `dl` without waiting. If the local queue is full, delivery is left
    /// to [`DeadLetterProducer::deliver`].
    pub fn start(&self, dl: &mut DeadLetter) {
        let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic)
            .payload(dl.payload.as_slice())
            .headers(Self::headers(dl));
        if let Some(k) = &dl.key {
            rec = rec.key(k.as_slice());
        }
        if let Ok(f) = self.producer.send_result(rec) {
            dl.pending = Some(f);
        }
    }

    /// Waits until every dead letter of `dls` is acknowledged by the broker,
    /// re-sending the failed ones together with backoff for as long as it takes
    /// (a dead letter is never dropped; consumption pauses behind it). One
    /// warning per round, not per message: a flood of bad input while the
    /// dead-letter topic is down must not become a flood of log lines.
    pub async fn deliver_all(&self, dls: Vec<DeadLetter>) {
        let mut pending = dls;
        let mut backoff = Duration::from_millis(100);
        loop {
            for dl in &mut pending {
                if dl.pending.is_none() {
                    self.start(dl);
                }
            }
            let mut failed = Vec::new();
            let mut first_error = None;
            for mut dl in pending {
                match dl.pending.take() {
                    Some(f) => match f.await {
                        Ok(Ok(_)) => {}
                        Ok(Err((e, _))) => {
                            first_error.get_or_insert(e);
                            failed.push(dl);
                        }
                        Err(_) => failed.push(dl),
                    },
                    // The local queue was full: send it in the next round.
                    None => failed.push(dl),
                }
            }
            let Some(first) = failed.first() else {
                return;
            };
            tracing::warn!(
                failed = failed.len(),
                error = ?first_error.map(|e| e.to_string()),
                topic = %self.topic,
                source_topic = %first.source_topic,
                first_source_offset = first.source_offset,
                retry_in_ms = backoff.as_millis() as u64,
                "dead-letter delivery failed; retrying (consumption pauses until it succeeds)"
            );
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
            pending = failed;
        }
    }

    /// Waits for queued dead letters to be sent (at shutdown).
    pub fn flush(&self, timeout: Duration) {
        use rdkafka::producer::Producer;
        if let Err(e) = self.producer.flush(timeout) {
            tracing::warn!(error = %e, "dead-letter producer did not flush");
        }
    }
}
