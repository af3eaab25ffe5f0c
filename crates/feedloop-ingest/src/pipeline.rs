//! [`Ingest`]: the consume loop. Owns the consumer, the partition buffers and the
//! flush policy; reacts to rebalances; shuts down by landing and committing what
//! it holds.

use crate::config::IngestConfig;
use crate::context::{AssignmentChange, IngestConsumer, IngestContext};
use crate::dead_letter::{DeadLetter, DeadLetterProducer};
use crate::error::IngestError;
use crate::metrics::{IngestMetrics, PartitionOffsets, add};
use crate::partition::{FlushJob, PartitionBuffer, WriterEnv, WriterExit, run_writer};
use crate::resume;
use feedloop_events::{Lineage, StreamKind, decode};
use feedloop_kit::KafkaConfig;
use feedloop_kit::kafka::{consumer_config, redact_config_error};
use feedloop_storage::{LandingZone, PartitionKey};
use futures::StreamExt;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

/// The ingest pipeline of one process (one consumer-group member).
pub struct Ingest {
    kafka: KafkaConfig,
    config: IngestConfig,
    landing: LandingZone,
    metrics: Arc<IngestMetrics>,
}

type Tp = (String, i32);

struct Part {
    key: PartitionKey,
    buffer: PartitionBuffer,
    /// Start of the next range: end + 1 of the last flushed one.
    next_start: Option<i64>,
    /// Offsets below this are already in storage and are skipped.
    skip_below: i64,
    jobs: mpsc::Sender<FlushJob>,
    owned: Arc<AtomicBool>,
    /// Consumed and committed offsets, shared with the writer and `/metrics`.
    offsets: Arc<PartitionOffsets>,
    writer: JoinHandle<WriterExit>,
}

struct Loop {
    kafka: KafkaConfig,
    config: IngestConfig,
    landing: LandingZone,
    metrics: Arc<IngestMetrics>,
    consumer: Arc<IngestConsumer>,
    dead_letters: DeadLetterProducer,
    inflight: Arc<Semaphore>,
    inflight_kib: u32,
    parts: HashMap<Tp, Part>,
    retired: HashMap<Tp, JoinHandle<WriterExit>>,
    failures: mpsc::UnboundedSender<WriterExit>,
}

impl Ingest {
    pub fn new(kafka: KafkaConfig, config: IngestConfig, landing: LandingZone) -> Self {
        Ingest {
            kafka,
            config,
            landing,
            metrics: Arc::new(IngestMetrics::default()),
        }
    }

    /// Shares an existing metrics registry (so a caller can watch progress).
    pub fn with_metrics(mut self, metrics: Arc<IngestMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn metrics(&self) -> Arc<IngestMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Runs until `shutdown` completes (then lands and commits everything held) or
    /// a permanent error stops consumption.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), IngestError> {
        let (changes_tx, mut changes) = mpsc::unbounded_channel();
        let ctx = IngestContext {
            changes: changes_tx,
            metrics: Arc::clone(&self.metrics),
        };
        let cfg = consumer_config(&self.kafka);
        let consumer: Arc<IngestConsumer> = Arc::new(
            cfg.create_with_context(ctx)
                .map_err(|e| IngestError::Setup(redact_config_error(e)))?,
        );
        let topics: Vec<&str> = StreamKind::ALL
            .iter()
            .map(|s| self.kafka.topics.for_stream(*s))
            .collect();
        consumer
            .subscribe(&topics)
            .map_err(|e| IngestError::Setup(redact_config_error(e)))?;
        // Its config errors are redacted already.
        let dead_letters = DeadLetterProducer::new(&self.kafka).map_err(IngestError::Setup)?;
        tracing::info!(brokers = %self.kafka.brokers, group = %self.kafka.group_id, ?topics, storage = %self.landing.storage().url(), "ingest started");

        let inflight_kib =
            u32::try_from((self.config.max_inflight_bytes / 1024).max(1)).unwrap_or(u32::MAX >> 4);
        let (failures, mut failed) = mpsc::unbounded_channel();
        let mut lp = Loop {
            kafka: self.kafka,
            config: self.config,
            landing: self.landing,
            metrics: self.metrics,
            consumer: Arc::clone(&consumer),
            dead_letters,
            inflight: Arc::new(Semaphore::new(inflight_kib as usize)),
            inflight_kib,
            parts: HashMap::new(),
            retired: HashMap::new(),
            failures,
        };
        let mut stream = consumer.stream();
        let tick_every = (lp.config.flush_interval / 4).max(Duration::from_millis(10));
        let mut tick = tokio::time::interval(tick_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        let mut fatal: Option<IngestError> = None;
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => {
                    tracing::info!("shutdown requested: landing and committing buffered events");
                    break;
                }
                Some(exit) = failed.recv() => {
                    fatal = exit.result.err();
                    break;
                }
                _ = tick.tick() => {
                    if let Err(e) = lp.apply_changes(&mut changes).await { fatal = Some(e); break; }
                    if let Err(e) = lp.flush_aged().await { fatal = Some(e); break; }
                }
                msg = stream.next() => {
                    if let Err(e) = lp.apply_changes(&mut changes).await { fatal = Some(e); break; }
                    match msg {
                        Some(Ok(m)) => {
                            lp.metrics.mark_brokers_up();
                            if let Err(e) = lp.handle(&m).await { fatal = Some(e); break; }
                        }
                        Some(Err(e)) => {
                            add(&lp.metrics.consumer_errors, 1);
                            if e.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::AllBrokersDown) {
                                lp.metrics.mark_brokers_down();
                                tracing::warn!(error = %e, "all brokers are down: ingest paused (nothing is lost; it resumes when a broker is back)");
                            } else {
                                tracing::warn!(error = %e, "consumer error");
                            }
                        }
                        None => break,
                    }
                }
            }
        }
        drop(stream);
        if fatal.is_some()
            && let Ok(WriterExit { result: Err(e), .. }) = failed.try_recv()
        {
            // A writer's failure is the cause of what a step then ran into
            // ("writer of … stopped"): report the storage error itself.
            fatal = Some(e);
        }
        let result = lp.finish(fatal.is_none()).await;
        match fatal {
            Some(e) => {
                tracing::error!(error = %e, "ingest stopped");
                Err(e)
            }
            None => result,
        }
    }
}

impl Loop {
    fn stream_of(&self, topic: &str) -> Option<StreamKind> {
        self.kafka.topics.stream_of(topic)
    }

    /// Applies assignment changes reported by the rebalance callbacks.
    async fn apply_changes(
        &mut self,
        changes: &mut mpsc::UnboundedReceiver<AssignmentChange>,
    ) -> Result<(), IngestError> {
        let mut member = None;
        while let Ok(change) = changes.try_recv() {
            match change {
                AssignmentChange::Revoked(tps) => {
                    member = Some(false);
                    for tp in tps {
                        if let Some(part) = self.parts.remove(&tp) {
                            // Buffered events are dropped: they were neither landed nor
                            // committed, so the next owner reads them again.
                            part.owned.store(false, Ordering::Release);
                            if let Ok(mut o) = self.metrics.offsets.lock() {
                                o.remove(&tp);
                            }
                            drop(part.jobs);
                            self.retired.insert(tp, part.writer);
                        }
                    }
                }
                AssignmentChange::Assigned(tps) => {
                    let new: Vec<Tp> = tps
                        .into_iter()
                        .filter(|tp| {
                            !self.parts.contains_key(tp) && self.stream_of(&tp.0).is_some()
                        })
                        .collect();
                    self.register(new).await?;
                    member = Some(true);
                }
            }
        }
        if let Ok(mut a) = self.metrics.assigned.lock() {
            *a = self.parts.keys().cloned().collect();
            a.sort();
        }
        // Membership is published after `assigned`, so a reader never sees a
        // member "placed" with the partitions it was just given still missing.
        if let Some(m) = member {
            self.metrics.group_member.store(m, Ordering::Release);
        }
        Ok(())
    }

    /// Takes ownership of newly assigned partitions: finds each one's resume point
    /// in storage and starts its writer.
    async fn register(&mut self, tps: Vec<Tp>) -> Result<(), IngestError> {
        if tps.is_empty() {
            return Ok(());
        }
        // A writer of an earlier assignment of the same partition finishes first,
        // so the resume point below sees everything it landed.
        for tp in &tps {
            if let Some(h) = self.retired.remove(tp) {
                let _ = h.await;
            }
        }
        let committed = resume::committed(&self.consumer, &tps).await;
        for tp in tps {
            let Some(stream) = self.stream_of(&tp.0) else {
                continue;
            };
            let key = PartitionKey {
                stream,
                topic: tp.0.clone(),
                partition: tp.1,
            };
            let hint = committed.get(&tp).copied();
            let next = resume::next_offset(
                &self.consumer,
                &self.landing,
                &key,
                hint,
                self.config.landing_max_attempts,
            )
            .await?;
            let owned = Arc::new(AtomicBool::new(true));
            let offsets = Arc::new(PartitionOffsets::new(next));
            if let Ok(mut o) = self.metrics.offsets.lock() {
                o.insert(tp.clone(), Arc::clone(&offsets));
            }
            let (jobs, mut rx) = mpsc::channel(4);
            let env = WriterEnv {
                landing: self.landing.clone(),
                consumer: Arc::clone(&self.consumer),
                dead_letters: self.dead_letters.clone(),
                metrics: Arc::clone(&self.metrics),
                owned: Arc::clone(&owned),
                offsets: Arc::clone(&offsets),
                max_attempts: self.config.landing_max_attempts,
            };
            let failures = self.failures.clone();
            let writer = tokio::spawn(async move {
                let mut exit = run_writer(key, &mut rx, env, next.map_or(-1, |n| n - 1)).await;
                if exit.result.is_err() {
                    // The pipeline gets the error itself (its kind decides retries),
                    // before `rx` closes: a flush that then finds the writer gone
                    // has the reason waiting on `failures`.
                    let result = std::mem::replace(
                        &mut exit.result,
                        Err(IngestError::Internal("reported to the pipeline".into())),
                    );
                    let _ = failures.send(WriterExit {
                        key: exit.key.clone(),
                        landed_through: exit.landed_through,
                        result,
                    });
                }
                drop(rx);
                exit
            });
            // Storage is ahead of the group's commit (a commit was lost): move the
            // commit forward so a restart does not re-read what is already landed.
            if let Some(n) = next
                && hint.is_none_or(|h| h < n)
            {
                let mut tpl = TopicPartitionList::new();
                if tpl
                    .add_partition_offset(&tp.0, tp.1, Offset::Offset(n))
                    .is_ok()
                {
                    let _ = self.consumer.commit(&tpl, CommitMode::Async);
                }
            }
            let part_key = PartitionKey {
                stream,
                topic: tp.0.clone(),
                partition: tp.1,
            };
            self.parts.insert(
                tp,
                Part {
                    buffer: PartitionBuffer::new(&part_key),
                    key: part_key,
                    next_start: next,
                    skip_below: next.unwrap_or(i64::MIN),
                    jobs,
                    owned,
                    offsets,
                    writer,
                },
            );
        }
        Ok(())
    }

    async fn handle(&mut self, m: &BorrowedMessage<'_>) -> Result<(), IngestError> {
        let tp: Tp = (m.topic().to_string(), m.partition());
        if !self.parts.contains_key(&tp) {
            if self.stream_of(&tp.0).is_none() {
                return Ok(());
            }
            // Assigned without a rebalance callback we saw (should not happen): register now.
            self.register(vec![tp.clone()]).await?;
        }
        let limits = &self.config.limits;
        let Some(part) = self.parts.get_mut(&tp) else {
            return Ok(());
        };
        let offset = m.offset();
        let counters = self.metrics.stream(part.key.stream);
        if offset < part.skip_below {
            add(&counters.skipped_landed, 1);
            return Ok(());
        }
        let payload = m.payload().unwrap_or_default();
        add(&counters.consumed, 1);
        add(&counters.consumed_bytes, payload.len() as u64);
        let buf = &mut part.buffer;
        if buf.start.is_none() {
            buf.start = Some(part.next_start.unwrap_or(offset));
            buf.opened_at = Instant::now();
            if part.next_start.is_none() {
                part.offsets.starts_at(offset);
            }
        }
        match decode(part.key.stream, payload, limits) {
            Ok(event) => {
                let lineage = Lineage {
                    offset,
                    kafka_ts: m.timestamp().to_millis(),
                };
                buf.builder
                    .append(&event, lineage)
                    .map_err(|e| IngestError::Internal(e.to_string()))?;
            }
            Err(err) => {
                tracing::debug!(topic = %tp.0, partition = tp.1, offset, error = %err, "dead-lettering invalid event");
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_string(), h.value.map(|v| v.to_vec())))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut dl = DeadLetter::new(
                    m.key().map(|k| k.to_vec()),
                    payload.to_vec(),
                    headers,
                    err.to_string(),
                    err.kind(),
                    part.key.stream.table_name(),
                    tp.0.clone(),
                    tp.1,
                    offset,
                );
                self.dead_letters.start(&mut dl);
                buf.dead_letters.push(dl);
            }
        }
        buf.end = offset;
        part.offsets.consumed(offset);
        buf.messages += 1;
        buf.raw_bytes += payload.len();
        if buf.builder.len() >= self.config.flush_max_events
            || buf.raw_bytes >= self.config.flush_max_bytes
        {
            self.flush(&tp).await?;
        }
        Ok(())
    }

    /// Closes the open range of a partition and hands it to its writer.
    async fn flush(&mut self, tp: &Tp) -> Result<(), IngestError> {
        let Some(part) = self.parts.get_mut(tp) else {
            return Ok(());
        };
        if part.buffer.is_empty() {
            return Ok(());
        }
        let mut buf = std::mem::replace(&mut part.buffer, PartitionBuffer::new(&part.key));
        let batch = buf
            .builder
            .finish()
            .map_err(|e| IngestError::Internal(e.to_string()))?;
        let start = buf.start.unwrap_or(buf.end);
        part.next_start = Some(buf.end + 1);
        let kib = u32::try_from(buf.raw_bytes / 1024)
            .unwrap_or(u32::MAX)
            .clamp(1, self.inflight_kib);
        // Backpressure: waits while too many bytes are on their way to storage.
        let permit = Arc::clone(&self.inflight)
            .acquire_many_owned(kib)
            .await
            .map_err(|e| IngestError::Internal(e.to_string()))?;
        let job = FlushJob {
            start,
            end: buf.end,
            batch,
            dead_letters: buf.dead_letters,
            permit: Some(permit),
        };
        // A writer stops only on an error, which it has reported on `failures`
        // already; `run` reports that one instead of this.
        part.jobs
            .send(job)
            .await
            .map_err(|_| IngestError::Internal(format!("writer of {} stopped", part.key)))
    }

    async fn flush_aged(&mut self) -> Result<(), IngestError> {
        let due: Vec<Tp> = self
            .parts
            .iter()
            .filter(|(_, p)| {
                !p.buffer.is_empty() && p.buffer.opened_at.elapsed() >= self.config.flush_interval
            })
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in due {
            self.flush(&tp).await?;
        }
        Ok(())
    }

    /// Lands what is buffered (when `flush`), waits for every writer, and commits
    /// synchronously what storage holds.
    async fn finish(mut self, flush: bool) -> Result<(), IngestError> {
        if flush {
            let tps: Vec<Tp> = self.parts.keys().cloned().collect();
            for tp in tps {
                self.flush(&tp).await?;
            }
        }
        let mut tpl = TopicPartitionList::new();
        let mut result = Ok(());
        for (tp, part) in self.parts.drain() {
            drop(part.jobs);
            match part.writer.await {
                Ok(exit) => {
                    if exit.landed_through >= 0 && part.owned.load(Ordering::Acquire) {
                        let _ = tpl.add_partition_offset(
                            &tp.0,
                            tp.1,
                            Offset::Offset(exit.landed_through + 1),
                        );
                    }
                    if let Err(e) = exit.result {
                        result = Err(e);
                    }
                }
                Err(e) => result = Err(IngestError::Internal(e.to_string())),
            }
        }
        for (_, h) in self.retired.drain() {
            let _ = h.await;
        }
        if tpl.count() > 0
            && let Err(e) = self.consumer.commit(&tpl, CommitMode::Sync)
        {
            tracing::warn!(error = %e, "final offset commit failed (storage still holds the resume point)");
        }
        self.dead_letters.flush(Duration::from_secs(10));
        let total = self.metrics.total();
        tracing::info!(
            landed = total.landed,
            dead_lettered = total.dead_lettered,
            files = total.files,
            "ingest stopped"
        );
        result
    }
}
