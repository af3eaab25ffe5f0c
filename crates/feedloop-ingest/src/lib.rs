//! # feedloop-ingest: Kafka → landing zone, exactly once
//!
//! One consumer-group member consumes the predictions, corrections and latency
//! topics. Per assigned partition it decodes messages into an Arrow batch
//! ([`feedloop_events`]), dead-letters what fails, and hands full batches to that
//! partition's writer task, which lands them as Parquet through
//! [`feedloop_storage::LandingZone`] and only then commits the Kafka offset.
//!
//! * [`config`] — the `[ingest]` section of the TOML config and the landing retry
//!   policy; `[kafka]` ([`KafkaConfig`]) and the librdkafka client settings built
//!   from it are [`feedloop_kit::kafka`]'s.
//! * [`context`] — the librdkafka client context and [`context::IngestConsumer`].
//! * [`pipeline`] — [`Ingest`]: the consume loop, rebalances, flush policy, shutdown.
//! * [`resume`] — where an assigned partition resumes (storage, checked against
//!   the broker's log).
//! * [`partition`] — per-partition buffers and the ordered writer task.
//! * [`dead_letter`] — the dead-letter producer: original bytes plus reason headers.
//! * [`metrics`] — counters (consumed, landed, dead-lettered, bytes) and lag.
//!
//! Why it is exactly once: see `docs/architecture.md` § Exactly once, and the
//! protocol notes on [`feedloop_storage::landing`]. In short, storage (not the
//! Kafka commit) says where a partition resumes, file names are the first offset
//! of a gap-free chain, and files are created only if absent.

pub mod config;
pub mod context;
pub mod dead_letter;
pub mod error;
pub mod metrics;
pub mod partition;
pub mod pipeline;
pub mod resume;

pub use config::IngestConfig;
pub use error::IngestError;
pub use feedloop_kit::{KafkaConfig, Topics};
pub use metrics::{IngestMetrics, StreamCounters};
pub use pipeline::Ingest;
