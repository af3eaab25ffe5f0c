//! Where a newly assigned partition resumes: storage's resume point (read with
//! the landing retries), checked against the broker's log end, with Kafka's
//! committed offsets as the hint. Storage, not the commit, has the last word.

use crate::config::LANDING_BACKOFF;
use crate::context::IngestConsumer;
use crate::error::IngestError;
use feedloop_storage::{LandingZone, PartitionKey};
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Kafka's committed offsets of `tps` (blocking call, run off the async workers).
pub async fn committed(
    consumer: &Arc<IngestConsumer>,
    tps: &[(String, i32)],
) -> HashMap<(String, i32), i64> {
    let mut tpl = TopicPartitionList::new();
    for (t, p) in tps {
        tpl.add_partition(t, *p);
    }
    let consumer = Arc::clone(consumer);
    let res = tokio::task::spawn_blocking(move || {
        consumer.committed_offsets(tpl, Duration::from_secs(10))
    })
    .await;
    let mut out = HashMap::new();
    match res {
        Ok(Ok(tpl)) => {
            for e in tpl.elements() {
                if let Offset::Offset(o) = e.offset() {
                    out.insert((e.topic().to_string(), e.partition()), o);
                }
            }
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not read committed offsets; listing the landing zone instead")
        }
        Err(e) => tracing::warn!(error = %e, "committed-offsets task failed"),
    }
    out
}

/// The first offset to consume of `key` (`None`: from the log's start), given
/// the group's committed offset `hint`. Retryable storage errors are tried
/// again up to `max_attempts` reads.
pub async fn next_offset(
    consumer: &Arc<IngestConsumer>,
    landing: &LandingZone,
    key: &PartitionKey,
    hint: Option<i64>,
    max_attempts: u32,
) -> Result<Option<i64>, IngestError> {
    let mut attempt = 0;
    let resume = loop {
        attempt += 1;
        match landing.resume_point(key, hint).await {
            Ok(r) => break r,
            Err(e) if e.is_retryable() && attempt < max_attempts => {
                tracing::warn!(error = %e, partition = %key, "reading the resume point failed; retrying");
                tokio::time::sleep(LANDING_BACKOFF.delay(attempt)).await;
            }
            Err(e) => {
                return Err(IngestError::Landing {
                    partition: key.to_string(),
                    source: e,
                });
            }
        }
    };
    let mut next = resume.next_offset;
    if let Some(n) = next {
        if resume.last_file.is_some() {
            check_log_reaches(consumer, landing, key, n).await?;
        } else if log_end(consumer, key).await?.is_some_and(|high| high < n) {
            // Only a committed offset, past the log's end (the topic was
            // recreated): storage holds nothing to protect, so read the
            // log from its start rather than skip up to the stale commit.
            tracing::warn!(partition = %key, committed = n, "committed offset beyond the log end and nothing landed: consuming the partition from its start");
            next = None;
        }
    }
    tracing::info!(partition = %key, committed = ?hint, resume = ?next, last_file = ?resume.last_file.as_ref().map(|p| p.to_string()), "partition assigned");
    Ok(next)
}

/// The partition's log end (high watermark); `None`, with a warning, when
/// the broker cannot be asked (consumption reports that soon enough).
async fn log_end(
    consumer: &Arc<IngestConsumer>,
    key: &PartitionKey,
) -> Result<Option<i64>, IngestError> {
    let consumer = Arc::clone(consumer);
    let (topic, partition) = (key.topic.clone(), key.partition);
    let watermarks = tokio::task::spawn_blocking(move || {
        consumer.fetch_watermarks(&topic, partition, Duration::from_secs(10))
    })
    .await
    .map_err(|e| IngestError::Internal(e.to_string()))?;
    match watermarks {
        Ok((_, high)) => Ok(Some(high)),
        Err(e) => {
            tracing::warn!(partition = %key, error = %e, "cannot read the partition's log end; not checking it against storage");
            Ok(None)
        }
    }
}

/// Fails with [`IngestError::TopicReset`] when the broker's log ends before
/// `next`, the offset after what storage holds.
async fn check_log_reaches(
    consumer: &Arc<IngestConsumer>,
    landing: &LandingZone,
    key: &PartitionKey,
    next: i64,
) -> Result<(), IngestError> {
    match log_end(consumer, key).await? {
        Some(high) if high < next => Err(IngestError::TopicReset {
            partition: key.to_string(),
            landed_through: next - 1,
            log_end: high,
            landing_dir: landing
                .storage()
                .url_of(LandingZone::partition_dir(key).as_ref(), true),
        }),
        _ => Ok(()),
    }
}
