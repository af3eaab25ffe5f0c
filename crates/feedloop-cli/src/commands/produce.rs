//! `feedloop produce`: publish JSON lines to a topic.

use anyhow::Context;
use feedloop_server::config::Config;
use feedloop_server::kafka_producer::producer;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

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
