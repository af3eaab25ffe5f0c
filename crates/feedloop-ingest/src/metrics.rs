//! Ingest counters and consumer lag, shared with the CLI (and later `/metrics`).

use feedloop_events::StreamKind;
use feedloop_kit::Histogram;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Counters of one stream.
#[derive(Debug, Default)]
pub struct StreamCounters {
    /// Messages received from Kafka (valid or not, excluding re-deliveries of
    /// already-landed offsets).
    pub consumed: AtomicU64,
    /// Payload bytes of consumed messages.
    pub consumed_bytes: AtomicU64,
    /// Rows written to the landing zone by this process.
    pub landed: AtomicU64,
    /// Parquet bytes written.
    pub landed_bytes: AtomicU64,
    /// Files written.
    pub files: AtomicU64,
    /// Messages sent to the dead-letter topic.
    pub dead_lettered: AtomicU64,
    /// Re-delivered messages skipped because storage already holds them.
    pub skipped_landed: AtomicU64,
}

/// A copy of [`StreamCounters`] at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    pub consumed: u64,
    pub consumed_bytes: u64,
    pub landed: u64,
    pub landed_bytes: u64,
    pub files: u64,
    pub dead_lettered: u64,
    pub skipped_landed: u64,
}

impl StreamCounters {
    pub fn snapshot(&self) -> CountersSnapshot {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CountersSnapshot {
            consumed: l(&self.consumed),
            consumed_bytes: l(&self.consumed_bytes),
            landed: l(&self.landed),
            landed_bytes: l(&self.landed_bytes),
            files: l(&self.files),
            dead_lettered: l(&self.dead_lettered),
            skipped_landed: l(&self.skipped_landed),
        }
    }
}

/// How far one assigned partition is consumed and committed by this process.
/// Written with relaxed atomic stores: one per consumed message by the consume
/// loop, one per commit by the partition's writer; read by `/metrics`.
#[derive(Debug)]
pub struct PartitionOffsets {
    /// Offset after the last message consumed (−1 before the first).
    consumed_next: AtomicI64,
    /// Offset this process last committed, or where the partition resumed
    /// (storage's `end + 1`); −1 while unknown (nothing landed, no commit, no
    /// message consumed yet).
    committed_next: AtomicI64,
}

impl PartitionOffsets {
    /// A partition resuming at `resume` (`None`: nothing landed or committed).
    pub fn new(resume: Option<i64>) -> Self {
        let r = resume.unwrap_or(-1);
        PartitionOffsets {
            consumed_next: AtomicI64::new(r),
            committed_next: AtomicI64::new(r),
        }
    }

    /// The first range of a partition without a resume point starts at `offset`.
    pub fn starts_at(&self, offset: i64) {
        let _ =
            self.committed_next
                .compare_exchange(-1, offset, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The message at `offset` was consumed (hot path: one relaxed store).
    #[inline]
    pub fn consumed(&self, offset: i64) {
        self.consumed_next.store(offset + 1, Ordering::Relaxed);
    }

    /// Offsets below `next` are committed (requested from the broker).
    pub fn committed(&self, next: i64) {
        self.committed_next.fetch_max(next, Ordering::Relaxed);
    }

    /// Messages consumed past the committed offset: buffered, being landed, or
    /// landed and waiting for their commit.
    pub fn uncommitted(&self) -> u64 {
        let committed = self.committed_next.load(Ordering::Relaxed);
        let consumed = self.consumed_next.load(Ordering::Relaxed);
        if committed < 0 {
            return 0;
        }
        u64::try_from(consumed - committed).unwrap_or(0)
    }
}

/// All ingest metrics of a process.
#[derive(Debug, Default)]
pub struct IngestMetrics {
    pub predictions: StreamCounters,
    pub corrections: StreamCounters,
    pub latency: StreamCounters,
    /// Landing attempts that failed and were retried.
    pub landing_retries: AtomicU64,
    /// Time to make one landing file durable (encode + write + fsync or PUT),
    /// successful attempts only.
    pub flush_seconds: Histogram,
    /// Consumer errors reported by librdkafka (transport, unknown topic, …).
    pub consumer_errors: AtomicU64,
    /// Consumer lag per (topic, partition), from librdkafka statistics.
    pub lag: Mutex<BTreeMap<(String, i32), i64>>,
    /// Partitions currently assigned to this process.
    pub assigned: Mutex<Vec<(String, i32)>>,
    /// Consumed and committed offsets per partition this process owns
    /// (entries come and go with assignments; see [`IngestMetrics::uncommitted`]).
    pub offsets: Mutex<BTreeMap<(String, i32), Arc<PartitionOffsets>>>,
    /// True once the consumer group has given this member an assignment,
    /// possibly empty (more members than partitions), and `assigned` lists
    /// it; false from a revoke to the next assignment.
    pub group_member: std::sync::atomic::AtomicBool,
    /// When librdkafka reported all brokers down (Unix ms), 0 while a broker
    /// is reachable. See [`IngestMetrics::brokers_down_for`].
    pub brokers_down_since_ms: AtomicU64,
}

impl IngestMetrics {
    pub fn stream(&self, s: StreamKind) -> &StreamCounters {
        match s {
            StreamKind::Predictions => &self.predictions,
            StreamKind::Corrections => &self.corrections,
            StreamKind::Latency => &self.latency,
        }
    }

    /// Sum over streams.
    pub fn total(&self) -> CountersSnapshot {
        StreamKind::ALL
            .iter()
            .fold(CountersSnapshot::default(), |a, s| {
                let b = self.stream(*s).snapshot();
                CountersSnapshot {
                    consumed: a.consumed + b.consumed,
                    consumed_bytes: a.consumed_bytes + b.consumed_bytes,
                    landed: a.landed + b.landed,
                    landed_bytes: a.landed_bytes + b.landed_bytes,
                    files: a.files + b.files,
                    dead_lettered: a.dead_lettered + b.dead_lettered,
                    skipped_landed: a.skipped_landed + b.skipped_landed,
                }
            })
    }

    /// Records librdkafka's "all brokers down" (keeps the first time of an outage).
    pub fn mark_brokers_down(&self) {
        let now = unix_now_ms().max(1);
        let _ = self.brokers_down_since_ms.compare_exchange(
            0,
            now,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Records that a broker answered (a message arrived, or statistics show a
    /// broker up), and logs the end of an outage. One atomic load otherwise:
    /// it is called for every message.
    pub fn mark_brokers_up(&self) {
        if self.brokers_down_since_ms.load(Ordering::Relaxed) != 0
            && self.brokers_down_since_ms.swap(0, Ordering::Relaxed) != 0
        {
            tracing::info!("a Kafka broker is reachable again: ingest resumes");
        }
    }

    /// How long no broker has been reachable, `None` while one is.
    pub fn brokers_down_for(&self) -> Option<std::time::Duration> {
        match self.brokers_down_since_ms.load(Ordering::Relaxed) {
            0 => None,
            since => Some(std::time::Duration::from_millis(
                unix_now_ms().saturating_sub(since),
            )),
        }
    }

    /// Messages consumed past the committed offset, per owned partition.
    pub fn uncommitted(&self) -> Vec<((String, i32), u64)> {
        self.offsets
            .lock()
            .map(|o| {
                o.iter()
                    .map(|(tp, p)| (tp.clone(), p.uncommitted()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Total consumer lag over assigned partitions (messages).
    pub fn total_lag(&self) -> i64 {
        self.lag
            .lock()
            .map(|l| l.values().filter(|v| **v > 0).sum())
            .unwrap_or(0)
    }
}

/// Wall-clock Unix milliseconds (an outage is reported in wall time).
fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(crate) fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_is_consumed_past_the_commit() {
        // Resumed at 100 (storage's end + 1): nothing consumed yet.
        let p = PartitionOffsets::new(Some(100));
        assert_eq!(p.uncommitted(), 0);
        for o in 100..150 {
            p.consumed(o);
        }
        assert_eq!(p.uncommitted(), 50);
        p.committed(120);
        assert_eq!(p.uncommitted(), 30);
        p.committed(110); // a late, older commit does not move it back
        assert_eq!(p.uncommitted(), 30);
        p.committed(150);
        assert_eq!(p.uncommitted(), 0);

        // Nothing landed or committed: the first range starts at the first message.
        let p = PartitionOffsets::new(None);
        assert_eq!(p.uncommitted(), 0);
        p.starts_at(7);
        p.consumed(7);
        p.consumed(8);
        assert_eq!(p.uncommitted(), 2);
        p.committed(9);
        assert_eq!(p.uncommitted(), 0);
    }

    #[test]
    fn uncommitted_lists_owned_partitions() {
        let m = IngestMetrics::default();
        let p = Arc::new(PartitionOffsets::new(Some(0)));
        m.offsets
            .lock()
            .unwrap()
            .insert(("predictions".into(), 3), Arc::clone(&p));
        p.consumed(4);
        assert_eq!(m.uncommitted(), vec![(("predictions".to_string(), 3), 5)]);
    }
}
