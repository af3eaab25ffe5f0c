//! The dead-letter producer: a message that fails to decode or validate is
//! re-published, byte for byte, to the dead-letter topic with headers saying why
//! and where it came from.
//!
//! Headers: `feedloop.error` (the reason, naming the field), `feedloop.error.kind`,
//! `feedloop.stream`, `feedloop.source.topic`, `feedloop.source.partition`,
//! `feedloop.source.offset`; the original headers are kept. A dead letter must be
//! acknowledged before the offset range holding it is committed, so a broken
//! dead-letter topic pauses consumption instead of dropping input.

use feedloop_kit::Backoff;
use feedloop_kit::KafkaConfig;
use feedloop_kit::kafka::{apply_producer_options, redact_config_error};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use std::time::Duration;

/// Between rounds of re-sending failed dead letters: 100 ms doubling to 5 s.
const DEAD_LETTER_BACKOFF: Backoff =
    Backoff::new(Duration::from_millis(100), Duration::from_secs(5));

/// Largest payload a dead letter carries. Bigger rejected messages (an
/// oversized event is one) are cut to this size, with their original length in
/// the `feedloop.payload.truncated` header: librdkafka and brokers refuse
/// messages over `message.max.bytes` (1 000 000 by default), and a dead letter
/// that can never be sent would stop consumption for good. The whole message
/// stays in the source topic at its offset.
pub const MAX_DEAD_LETTER_PAYLOAD: usize = 512 * 1024;

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
    /// Length of the original payload when `payload` was cut.
    pub truncated_from: Option<usize>,
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
        let mut dl = DeadLetter {
            key,
            payload,
            original_headers,
            reason,
            kind,
            stream,
            source_topic,
            source_partition,
            source_offset,
            truncated_from: None,
            pending: None,
        };
        dl.cut(MAX_DEAD_LETTER_PAYLOAD);
        dl
    }

    /// Cuts the payload to `max` bytes (recording the original length).
    fn cut(&mut self, max: usize) {
        if self.payload.len() > max {
            self.truncated_from.get_or_insert(self.payload.len());
            self.payload.truncate(max);
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
    /// option value ([`redact_config_error`]).
    pub fn new(kafka: &KafkaConfig) -> Result<Self, KafkaError> {
        Ok(DeadLetterProducer {
            producer: Self::client_config(kafka)
                .create()
                .map_err(redact_config_error)?,
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
        apply_producer_options(&mut cfg, &kafka.brokers, &kafka.options);
        cfg
    }

    fn headers(dl: &DeadLetter) -> OwnedHeaders {
        let partition = dl.source_partition.to_string();
        let offset = dl.source_offset.to_string();
        let truncated = dl.truncated_from.map(|n| n.to_string());
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
        if let Some(n) = &truncated {
            h = h.insert(Header {
                key: "feedloop.payload.truncated",
                value: Some(n.as_bytes()),
            });
        }
        h
    }

    /// Enqueues `dl` without waiting. If the local queue is full, delivery is left
    /// to [`DeadLetterProducer::deliver_all`].
    pub fn start(&self, dl: &mut DeadLetter) {
        let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic)
            .payload(dl.payload.as_slice())
            .headers(Self::headers(dl));
        if let Some(k) = &dl.key {
            rec = rec.key(k.as_slice());
        }
        let too_large = match self.producer.send_result(rec) {
            Ok(f) => {
                dl.pending = Some(f);
                return;
            }
            // Refused at once (over the producer's `message.max.bytes`): cut it
            // for the next round; a full local queue is simply tried again.
            Err((e, _)) => {
                e.rdkafka_error_code()
                    == Some(rdkafka::types::RDKafkaErrorCode::MessageSizeTooLarge)
            }
        };
        if too_large {
            dl.cut((dl.payload.len() / 4).max(1024));
        }
    }

    /// Waits until every dead letter of `dls` is acknowledged by the broker,
    /// re-sending the failed ones together with backoff for as long as it takes
    /// (a dead letter is never dropped; consumption pauses behind it). One
    /// warning per round, not per message: a flood of bad input while the
    /// dead-letter topic is down must not become a flood of log lines.
    pub async fn deliver_all(&self, dls: Vec<DeadLetter>) {
        let mut pending = dls;
        let mut attempt = 0;
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
                            // The broker's limit is lower than ours: cut it further.
                            if e.rdkafka_error_code()
                                == Some(rdkafka::types::RDKafkaErrorCode::MessageSizeTooLarge)
                            {
                                dl.cut((dl.payload.len() / 4).max(1024));
                            }
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
                retry_in_ms = DEAD_LETTER_BACKOFF.ceiling(attempt).as_millis() as u64,
                "dead-letter delivery failed; retrying (consumption pauses until it succeeds)"
            );
            tokio::time::sleep(DEAD_LETTER_BACKOFF.delay(attempt)).await;
            attempt = attempt.saturating_add(1);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_payloads_are_cut_and_say_so() {
        let big = vec![b'x'; 3 * MAX_DEAD_LETTER_PAYLOAD];
        let dl = DeadLetter::new(
            None,
            big,
            vec![],
            "too large".into(),
            "too_large",
            "predictions",
            "predictions".into(),
            0,
            7,
        );
        assert_eq!(dl.payload.len(), MAX_DEAD_LETTER_PAYLOAD);
        assert_eq!(dl.truncated_from, Some(3 * MAX_DEAD_LETTER_PAYLOAD));
        let h = DeadLetterProducer::headers(&dl);
        use rdkafka::message::Headers;
        let got = h
            .iter()
            .find(|h| h.key == "feedloop.payload.truncated")
            .and_then(|h| h.value)
            .map(|v| String::from_utf8_lossy(v).into_owned());
        assert_eq!(got, Some((3 * MAX_DEAD_LETTER_PAYLOAD).to_string()));
        let small = DeadLetter::new(
            None,
            b"{}".to_vec(),
            vec![],
            String::new(),
            "x",
            "y",
            "t".into(),
            0,
            0,
        );
        assert_eq!(small.truncated_from, None);
    }
}
