//! # feedloop-storage: where every event lands, exactly once
//!
//! Object storage is feedloop's shared truth: every ingest instance writes to it,
//! every analysis reads from it, and it — not Kafka — decides where ingest resumes.
//!
//! * [`config`] — [`StorageConfig`]: the `[storage]` section (URL and builder
//!   options) a [`Storage`] is opened from.
//! * [`store`] — [`Storage`]: an `object_store` opened from a URL (`file://`, a bare
//!   path, `s3://`, `gs://`, `az://`, `memory://`) plus the one write primitive the
//!   landing protocol needs, an atomic *create-if-absent* that is durable on return.
//! * [`landing`] — [`LandingZone`]: the landing-zone layout and its exactly-once file
//!   protocol (files named by topic, partition and first offset; resume point read
//!   back from storage). See `docs/architecture.md` § Exactly once.
//! * [`lease`] — [`Lease`]: one holder at a time for the singleton duties (window
//!   jobs, scheduled exports) of a scaled-out deployment, with expiry and takeover.
//! * [`datasets`] — [`DatasetStore`]: the layout, manifest and commit protocol of
//!   exported retraining datasets (immutable, content-hash versions, manifest last).
//! * [`layout`] — every top-level folder and file of a storage root, named once
//!   (`landing/`, `_tmp/`, `metrics/`, `alerts/`, `profiles/`, `state/`, `leases/`,
//!   `datasets/`); every other module asks it for its paths.
//! * [`history`] — the window jobs' history tables `metrics` and `alerts`:
//!   [`MetricRow`], [`AlertRow`], their Arrow schemas and column lists, and their
//!   one-file-per-window Parquet writes and reads.

pub mod config;
pub mod datasets;
pub mod history;
pub mod landing;
pub mod layout;
pub mod lease;
pub mod store;

pub use config::StorageConfig;
pub use datasets::{DatasetId, DatasetStore, Manifest};
pub use history::{AlertRow, MetricBand, MetricRow};
pub use landing::{FileMeta, LandedFile, LandingZone, PartitionKey, ResumePoint};
pub use lease::{Lease, LeaseStatus};
pub use store::{PutOutcome, Storage, StorageError};
