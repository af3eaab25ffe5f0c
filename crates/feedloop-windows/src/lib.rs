//! # feedloop-windows: event-time window jobs on the landing zone
//!
//! [`WindowJob`] turns the landing zone into history: every closed event-time
//! window becomes rows of the `metrics` table (volume, late events, drift per
//! feature, prediction drift, latency, correction metrics), alert transitions
//! in the `alerts` table, and alerts handed to the sinks.
//!
//! ## Design
//!
//! * **It follows the landing zone, not Kafka.** Any number of ingest instances
//!   feed one analysis: the job discovers landed files incrementally ([`index`],
//!   event-time ranges from Parquet footers) and reads exactly the files that
//!   overlap a window, so it never depends on which instance consumed what.
//! * **Watermark.** The latest event time over the partitions still receiving
//!   data, minus `allowed_lateness`; a lagging partition holds windows open, an
//!   idle one stops holding them. A window closes when the watermark passes its
//!   end; events landing later are counted as `late_events` of their window.
//! * **Closing a window** ([`job`]): read its rows ([`read`]: the overlapping
//!   landing files' needed columns, decoded in parallel, strings as
//!   dictionaries) and walk them ([`walk`]), compute its rows ([`drift`]
//!   against the version's reference profile from [`profiles`], and extra
//!   [`MetricSource`]s such as [`CorrectionMetrics`]), write the `metrics` file,
//!   let the [`WindowObserver`] (the alert engine) raise alerts, write the
//!   `alerts` file, deliver, then persist the state. History files are written
//!   create-if-absent, one per window ([`feedloop_storage::history`]).
//! * **State persistence** ([`state`]): cursor, landing index, first-seen
//!   windows and the observer's state live in `state/windows.json` and are
//!   rewritten after every window, so a crash recomputes at most the window in
//!   flight from the same files — history is never duplicated, and a window's
//!   alerts are delivered once (`state/alerts-delivered/`).
//! * **One instance at a time**: with a [`Fence`] (the jobs lease of
//!   `feedloop_storage::lease`), a window is closed only while the lease is held.
//!
//! Every path under the storage root comes from [`feedloop_storage::layout`];
//! queries run on DataFusion through `feedloop-analytics`, which knows nothing
//! of this crate.
//!
//! * [`config`] — the `[windows]` config section ([`WindowsConfig`]).
//! * [`index`] — [`LandingIndex`](index::LandingIndex): landing files and their event time.
//! * [`profiles`] — reference profiles per model version: built once, stored, reloaded.
//! * `pool` — the job's own threads, and running work on them from async code.
//! * [`read`] — a batch of windows' landing files into Arrow (the parquet crate, in parallel).
//! * [`walk`] — a window's rows out of those batches: feature samples, volume, latency.
//! * [`compute`] — DataFusion tables over landing files (late events, references), metric rows.
//! * [`drift`] — drift rows of a window against its reference profile.
//! * [`corrections`] — [`CorrectionMetrics`], the corrections join's metrics per window.
//! * [`hooks`] — [`WindowObserver`], [`MetricSource`], [`Fence`].
//! * [`state`] — [`JobState`] and its file.
//! * [`job`] — [`WindowJob`]: watermark, window closing.

pub mod compute;
pub mod config;
pub mod corrections;
pub mod drift;
pub mod hooks;
pub mod index;
pub mod job;
mod pool;
pub mod profiles;
pub mod read;
pub mod state;
pub mod walk;

pub use config::{ModelConfig, ReferenceSource, WindowsConfig};
pub use corrections::CorrectionMetrics;
pub use feedloop_storage::history::{AlertRow, MetricRow};
pub use hooks::{Fence, MetricSource, WindowObserver};
pub use job::{WindowJob, WindowReport};
pub use state::JobState;
