//! Event-time window jobs on the landing zone.
//!
//! The job follows the landing zone — not Kafka — so any number of ingest
//! instances feed one analysis:
//!
//! * [`index`] — which landing files exist and their event-time ranges (from
//!   Parquet footers), discovered incrementally per partition;
//! * [`profiles`] — reference profiles per model version: built once, stored as
//!   JSON in object storage, reloaded on restart;
//! * [`compute`] — the DataFusion queries that turn one closed window into metric
//!   rows (volume, late events, drift per feature, prediction drift, latency);
//! * [`history`] — the `metrics` and `alerts` tables (Parquet in the storage root);
//! * [`job`] — [`WindowJob`]: watermark, window closing, state persistence.

pub mod compute;
pub mod config;
pub mod history;
pub mod index;
pub mod job;
pub mod profiles;

pub use config::{ReferenceSource, WindowsConfig};
pub use history::MetricRow;
pub use job::{WindowJob, WindowReport};
