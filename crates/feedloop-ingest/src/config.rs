//! The `[ingest]` config section and the landing retry policy. Doc comments
//! here are the user docs; `[kafka]` is [`feedloop_kit::KafkaConfig`].

use feedloop_events::Limits;
use feedloop_kit::{Backoff, InvalidSetting};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The wait before retrying a failed landing or resume-point read:
/// `100 ms·2^attempt`, capped at 10 s, with jitter (see
/// [`IngestConfig::landing_max_attempts`]).
pub const LANDING_BACKOFF: Backoff =
    Backoff::new(Duration::from_millis(100), Duration::from_secs(10));

/// `[ingest]`: batching and validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Longest time an event waits in memory before its batch is landed
    /// (humantime, e.g. `"5s"`). Bounds both freshness and what a crash re-reads.
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// Land a partition's batch once it holds this many events.
    pub flush_max_events: usize,
    /// Land a partition's batch once its raw JSON reaches this many bytes.
    pub flush_max_bytes: usize,
    /// Upper bound on bytes of batches waiting to be written, across partitions.
    /// Consumption pauses when it is reached (backpressure).
    pub max_inflight_bytes: usize,
    /// zstd level of landed Parquet files (1–22).
    pub zstd_level: i32,
    /// Attempts to land one batch, or to read a partition's resume point,
    /// before ingest stops with the storage error (1–100). Only retryable
    /// errors (throttling, timeouts, 5xx) are tried again, after exponential
    /// backoff with jitter capped at 10 s, so the default 8 rides out 11–23 s
    /// of failing storage, and each further attempt adds 5–10 s; permission
    /// and space errors stop at once. Nothing is committed past durable data
    /// either way.
    pub landing_max_attempts: u32,
    /// Size limits every event must meet.
    pub limits: Limits,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            flush_interval: Duration::from_secs(5),
            flush_max_events: 100_000,
            flush_max_bytes: 64 << 20,
            max_inflight_bytes: 512 << 20,
            zstd_level: 1,
            landing_max_attempts: 8,
            limits: Limits::default(),
        }
    }
}

impl IngestConfig {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.flush_interval < Duration::from_millis(10)
            || self.flush_interval > Duration::from_secs(3600)
        {
            return Err(InvalidSetting::new(
                "ingest.flush_interval",
                "expected a duration between 10ms and 1h, e.g. \"5s\"",
            ));
        }
        if self.flush_max_events == 0 {
            return Err(InvalidSetting::new(
                "ingest.flush_max_events",
                "expected a positive number of events",
            ));
        }
        if self.flush_max_bytes < 1024 {
            return Err(InvalidSetting::new(
                "ingest.flush_max_bytes",
                "expected at least 1024 bytes",
            ));
        }
        if self.max_inflight_bytes < self.flush_max_bytes {
            return Err(InvalidSetting::new(
                "ingest.max_inflight_bytes",
                "expected at least ingest.flush_max_bytes",
            ));
        }
        if !(1..=22).contains(&self.zstd_level) {
            return Err(InvalidSetting::new(
                "ingest.zstd_level",
                "expected a zstd level from 1 to 22",
            ));
        }
        if !(1..=100).contains(&self.landing_max_attempts) {
            return Err(InvalidSetting::new(
                "ingest.landing_max_attempts",
                "expected a number of attempts from 1 to 100",
            ));
        }
        let l = &self.limits;
        for (key, v) in [
            ("ingest.limits.max_event_bytes", l.max_event_bytes),
            ("ingest.limits.max_string_bytes", l.max_string_bytes),
            ("ingest.limits.max_features", l.max_features),
            ("ingest.limits.max_tags", l.max_tags),
            ("ingest.limits.max_name_bytes", l.max_name_bytes),
        ] {
            if v == 0 {
                return Err(InvalidSetting::new(key, "expected a positive number"));
            }
        }
        Ok(())
    }
}
