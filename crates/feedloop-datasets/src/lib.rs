//! # feedloop-datasets: retraining datasets
//!
//! Select predictions (with their corrections) by a policy and write them as
//! an immutable, versioned Parquet dataset.
//!
//! [`export_dataset`] is the one-shot export (`feedloop export`);
//! [`run_scheduled_exports`] runs the `[[export.datasets]]` entries that are due
//! (the scheduler of `feedloop run` calls it on a timer); [`count_policies`] is
//! the dry run; [`read_dataset`] reads a committed version back. Layout,
//! manifest and commit protocol: [`feedloop_storage::datasets`]. The rows come
//! from the `feedback` views of [`feedloop_analytics::feedback`].
//!
//! An export reads a **snapshot**: it lists the landing files of `predictions`
//! and `corrections` (and `alerts/` for the `drifted` policy) once, queries
//! exactly those files, and records them in the manifest (`source_files`).
//! Rows are ordered by `(ts, prediction_id, _topic, _partition, _offset)` and
//! parts are encoded deterministically, so the same export over the same data
//! gives byte-identical parts and therefore the same content-hash version.
//! The whole selection is held in memory while it is encoded (parts are
//! whole-object PUTs).
//!
//! **Columns**: `prediction_id, ts, model, model_version, output_label,
//! output_score, output_value, corrected_label, corrected_value,
//! correction_source, correction_ts, correction_count, is_corrected, is_wrong`,
//! then one `tag_<name>` VARCHAR column per tag, then one column per feature
//! (sorted by name), then the lineage `_topic, _partition, _offset`.
//! A feature's column type is the one type its non-null values have in the
//! selected rows (number → DOUBLE, string → VARCHAR, boolean → BOOLEAN); a
//! feature seen with several types becomes VARCHAR with numbers and booleans
//! rendered as text (`3`, `0.5`, `true`); a feature that is always null is
//! DOUBLE. A feature whose name is already taken by a column gets the name
//! `feature_<name>`. Privacy rules (`[export.privacy]`) drop a feature or tag,
//! or replace its values by the hex HMAC-SHA256 of their text form (VARCHAR).
//!
//! ## Modules, in the order an export runs through them
//!
//! * [`config`] — `[export]`: [`ExportConfig`] and its scheduled entries,
//!   [`ScheduledDataset`].
//! * [`policy`] — [`PolicyKind`], [`PolicyParams`] (the one definition of the
//!   parameters: config keys, and `feedloop export` options with the `clap`
//!   feature) and [`Policy`].
//! * [`privacy`] — [`PrivacyConfig`] rules and [`hmac_sha256`].
//! * [`request`] — [`ExportRequest`] and [`ExportOutcome`].
//! * [`snapshot`] — pinning the landing files an export reads.
//! * [`selection`] — the selection SQL of each policy, and [`unit_hash`].
//! * [`pivot`] — features and tags to typed columns.
//! * [`export`] — [`export_dataset`] and [`count_policies`].
//! * [`read`] — [`read_dataset`].
//! * [`schedule`] — [`run_scheduled_exports`] and its `_schedule.json` markers.
//!
//! Errors are [`feedloop_analytics::AnalyticsError`]s: an export is a query
//! job, and its storage errors keep their cause and retryability.

pub mod config;
pub mod export;
pub mod pivot;
pub mod policy;
pub mod privacy;
pub mod read;
pub mod request;
pub mod schedule;
pub mod selection;
pub mod snapshot;

pub use config::{ExportConfig, ScheduledDataset};
pub use export::{count_policies, export_dataset};
pub use policy::{Policy, PolicyKind, PolicyParams};
pub use privacy::{PrivacyConfig, PrivacyRule, hmac_sha256};
pub use read::read_dataset;
pub use request::{ExportOutcome, ExportRequest};
pub use schedule::{ScheduledRun, run_scheduled_exports};
pub use selection::{register_unit_hash, unit_hash};
