//! # feedloop-analytics: SQL over the landing zone
//!
//! DataFusion is feedloop's query engine. This crate owns the DataFusion session
//! that sees the landing zone as tables (`predictions`, `corrections`, `latency`,
//! and the history tables `metrics`, `alerts`), the drift SQL functions and the
//! corrections join. The window jobs that run on it are `feedloop-windows`; the
//! offline drift report is `feedloop-report`.
//!
//! * [`session`] — [`LandingSession`]: registers the object store and the tables
//!   with their fixed Arrow schemas (so an empty landing zone is an empty table,
//!   and schema evolution never depends on which file DataFusion opens first).
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

pub mod error;
pub mod feedback;
pub mod session;
pub mod sql;
pub mod sql_functions;

pub use error::AnalyticsError;
pub use feedback::{FeedbackOptions, error_metrics, error_metrics_windows, register_feedback};
pub use session::LandingSession;
pub use sql_functions::register_drift_functions;
