//! # feedloop-analytics: SQL over the landing zone
//!
//! DataFusion is feedloop's query engine. This crate owns the DataFusion session
//! that sees the landing zone as tables (`predictions`, `corrections`, `latency`)
//! and, as later issues land, the window jobs, drift queries and alert rules that
//! run on it.
//!
//! * [`session`] — [`LandingSession`]: registers the object store and the tables
//!   with their fixed Arrow schemas (so an empty landing zone is an empty table,
//!   and schema evolution never depends on which file DataFusion opens first).
//! * [`drift_report`] — [`run_drift_report`]: drift of every column between a
//!   reference and a current dataset (Parquet or CSV, local or object store),
//!   columns computed in parallel; JSON (`schemas/drift-report.v1.schema.json`)
//!   and table renderings.
//! * [`sql_functions`] — [`register_drift_functions`]: `ks_2samp`,
//!   `wasserstein`, `psi`, `jensenshannon`, … as SQL aggregate functions
//!   (`docs/sql.md`).
//! * [`feedback`] — the corrections join: `feedback`, `latest_corrections`,
//!   `unmatched_corrections` views and [`error_metrics`] for the window jobs.
//! * [`sql`] — the literals (strings, timestamps, doubles) of the SQL text the
//!   crates build.
//! * [`error`] — [`AnalyticsError`], with its cause as the source and
//!   [`AnalyticsError::is_retryable`].
//!
//! Retraining datasets, built on these views, are the `feedloop-datasets` crate.

pub mod drift_report;
pub mod error;
pub mod feedback;
pub mod session;
pub mod sql;
pub mod sql_functions;
pub mod windows;

pub use drift_report::{DriftReport, DriftRequest, run_drift_report};
pub use error::AnalyticsError;
pub use feedback::{FeedbackOptions, error_metrics, register_feedback};
pub use session::LandingSession;
pub use sql_functions::register_drift_functions;
