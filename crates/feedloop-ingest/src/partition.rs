//! Per-partition state: the open batch, and the writer task that lands batches in
//! order and commits after each durable file.
//!
//! The consume loop owns [`PartitionBuffer`]s; each full (or old) buffer becomes a
//! [`FlushJob`] sent to the partition's writer ([`run_writer`]). The writer:
//! 1. waits until the job's dead letters are acknowledged,
//! 2. lands `[start, end]` with create-if-absent, dropping rows that a file
//!    written by another writer already covers (`landed_through`),
//! 3. commits `end + 1` to Kafka, only while the partition is still ours.

use crate::config::LANDING_BACKOFF;
use crate::context::IngestConsumer;
use crate::dead_letter::{DeadLetter, DeadLetterProducer};
use crate::error::IngestError;
use crate::metrics::{IngestMetrics, PartitionOffsets, add};
use arrow::array::{Int64Array, RecordBatch};
use feedloop_events::BatchBuilder;
use feedloop_storage::{LandingZone, PartitionKey};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

/// Events of one partition since the last flush.
pub struct PartitionBuffer {
    pub builder: BatchBuilder,
    /// First offset of the range (the previous range's end + 1, or the first
    /// message seen when nothing is known).
    pub start: Option<i64>,
    /// Last offset consumed into this range.
    pub end: i64,
    pub raw_bytes: usize,
    pub messages: usize,
    pub dead_letters: Vec<DeadLetter>,
    pub opened_at: Instant,
}

impl PartitionBuffer {
    pub fn new(key: &PartitionKey) -> Self {
        PartitionBuffer {
            builder: BatchBuilder::new(key.stream, &key.topic, key.partition),
            start: None,
            end: -1,
            raw_bytes: 0,
            messages: 0,
            dead_letters: Vec::new(),
            opened_at: Instant::now(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.messages == 0
    }
}

/// A closed range, ready to land.
pub struct FlushJob {
    pub start: i64,
    pub end: i64,
    pub batch: RecordBatch,
    pub dead_letters: Vec<DeadLetter>,
    pub permit: Option<OwnedSemaphorePermit>,
}

/// What a writer reports when it stops.
#[derive(Debug)]
pub struct WriterExit {
    pub key: PartitionKey,
    /// Highest offset known durable in storage (−1 when none).
    pub landed_through: i64,
    pub result: Result<(), IngestError>,
}

pub struct WriterEnv {
    pub landing: LandingZone,
    pub consumer: Arc<IngestConsumer>,
    pub dead_letters: DeadLetterProducer,
    pub metrics: Arc<IngestMetrics>,
    /// Cleared when the partition is revoked: a stale writer must not commit.
    pub owned: Arc<AtomicBool>,
    /// Where this process committed the partition to (for `/metrics`).
    pub offsets: Arc<PartitionOffsets>,
    /// Storage attempts per file before the pipeline stops.
    pub max_attempts: u32,
}

/// Keeps only rows whose `_offset` is greater than `after`.
fn rows_after(batch: &RecordBatch, after: i64) -> Result<RecordBatch, arrow::error::ArrowError> {
    let idx = batch.schema().index_of("_offset")?;
    let offsets = batch
        .column(idx)
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| arrow::error::ArrowError::SchemaError("_offset is not Int64".into()))?;
    let mask = arrow::compute::kernels::cmp::gt(offsets, &Int64Array::new_scalar(after))?;
    arrow::compute::filter_record_batch(batch, &mask)
}

/// Lands jobs of one partition in order until the channel closes.
pub async fn run_writer(
    key: PartitionKey,
    jobs: &mut mpsc::Receiver<FlushJob>,
    env: WriterEnv,
    mut landed_through: i64,
) -> WriterExit {
    let counters = env.metrics.stream(key.stream);
    while let Some(job) = jobs.recv().await {
        let _permit = job.permit;
        let n_dead = job.dead_letters.len() as u64;
        env.dead_letters.deliver_all(job.dead_letters).await;
        add(&counters.dead_lettered, n_dead);
        let mut start = job.start;
        let mut batch = job.batch;
        if landed_through >= job.end {
            // Another writer already landed all of it.
            continue;
        }
        if landed_through >= start {
            batch = match rows_after(&batch, landed_through) {
                Ok(b) => b,
                Err(e) => return exit(key, landed_through, internal(e)),
            };
            start = landed_through + 1;
        }
        // Land, yielding to files another writer created at the same start.
        loop {
            let span = tracing::info_span!("land", topic = %key.topic, partition = key.partition, start, end = job.end, rows = batch.num_rows());
            let _e = span.enter();
            let mut attempt = 0;
            let landed = loop {
                attempt += 1;
                let started = Instant::now();
                match env.landing.land(&key, start, job.end, batch.clone()).await {
                    Ok(f) => {
                        env.metrics.flush_seconds.observe(started.elapsed());
                        tracing::debug!(path = %f.path, created = f.created, ms = started.elapsed().as_millis() as u64, "landed");
                        break f;
                    }
                    Err(e) if e.is_retryable() && attempt < env.max_attempts => {
                        add(&env.metrics.landing_retries, 1);
                        let backoff = LANDING_BACKOFF.delay(attempt);
                        tracing::warn!(error = %e, attempt, backoff_ms = backoff.as_millis() as u64, "landing failed; retrying");
                        tokio::time::sleep(backoff).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, attempt, "landing failed; stopping consumption (nothing is committed past the last durable file)");
                        return exit(
                            key.clone(),
                            landed_through,
                            Err(IngestError::Landing {
                                partition: key.to_string(),
                                source: e,
                            }),
                        );
                    }
                }
            };
            landed_through = landed_through.max(landed.end_offset);
            if landed.created {
                add(&counters.landed, landed.rows as u64);
                add(&counters.landed_bytes, landed.bytes as u64);
                add(&counters.files, 1);
                break;
            }
            tracing::info!(path = %landed.path, existing_end = landed.end_offset, "range already landed by another writer; keeping only what follows it");
            if landed.end_offset >= job.end {
                break;
            }
            batch = match rows_after(&batch, landed.end_offset) {
                Ok(b) => b,
                Err(e) => return exit(key, landed_through, internal(e)),
            };
            start = landed.end_offset + 1;
        }
        commit(&env, &key, landed_through + 1);
    }
    exit(key, landed_through, Ok(()))
}

fn internal(e: impl std::fmt::Display) -> Result<(), IngestError> {
    Err(IngestError::Internal(e.to_string()))
}

fn exit(key: PartitionKey, landed_through: i64, result: Result<(), IngestError>) -> WriterExit {
    WriterExit {
        key,
        landed_through,
        result,
    }
}

fn commit(env: &WriterEnv, key: &PartitionKey, next: i64) {
    if !env.owned.load(Ordering::Acquire) {
        return;
    }
    let mut tpl = TopicPartitionList::new();
    if tpl
        .add_partition_offset(&key.topic, key.partition, Offset::Offset(next))
        .is_err()
    {
        return;
    }
    match env.consumer.commit(&tpl, CommitMode::Async) {
        Ok(()) => env.offsets.committed(next),
        // Not fatal: storage, not the commit, decides where the partition resumes.
        Err(e) => {
            tracing::warn!(error = %e, partition = %key, offset = next, "offset commit failed")
        }
    }
}
