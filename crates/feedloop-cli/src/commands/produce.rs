//! `feedloop produce`: publish JSON lines to a topic.

use crate::config::Config;
use anyhow::Context;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

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
) -> anyhow::Result<FutureProducer> {
    producer_config(brokers, options)
        .create()
        .map_err(feedloop_kit::kafka::redact_config_error)
        .context("cannot create the Kafka producer")
}

/// Extracts `prediction_id` cheaply for use as the message key.
pub fn key_of(line: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Key {
        prediction_id: Option<String>,
    }
    serde_json::from_str::<Key>(line)
        .ok()
        .and_then(|k| k.prediction_id)
}

pub async fn produce(config: &Config, topic: &str, file: &Path) -> anyhow::Result<()> {
    let reader: Box<dyn BufRead> = if file == Path::new("-") {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file)
                .with_context(|| format!("cannot open `{}`", file.display()))?,
        ))
    };
    let producer = producer(&config.kafka.brokers, &config.kafka.options)?;
    let n = send_lines(&producer, topic, reader.lines()).await?;
    println!("produced {n} messages to {topic}");
    Ok(())
}

/// Sends each non-empty line, keeping a bounded number in flight. Returns the count.
pub async fn send_lines(
    producer: &FutureProducer,
    topic: &str,
    lines: impl Iterator<Item = std::io::Result<String>>,
) -> anyhow::Result<u64> {
    let mut inflight = FuturesUnordered::new();
    let mut sent = 0u64;
    for (i, line) in lines.enumerate() {
        let line = line.with_context(|| format!("cannot read line {}", i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let key = key_of(&line);
        let p = producer.clone();
        let topic = topic.to_string();
        inflight.push(async move {
            let mut rec: FutureRecord<'_, str, str> = FutureRecord::to(&topic).payload(&line);
            if let Some(k) = &key {
                rec = rec.key(k);
            }
            p.send(rec, Duration::from_secs(60))
                .await
                .map_err(|(e, _)| e)
        });
        if inflight.len() >= 10_000
            && let Some(r) = inflight.next().await
        {
            r.context("delivery failed")?;
            sent += 1;
        }
    }
    while let Some(r) = inflight.next().await {
        r.context("delivery failed")?;
        sent += 1;
    }
    Ok(sent)
}
