//! # feedloop-server: the long-running service (`feedloop run`)
//!
//! One process of a deployment, from a [`Config`](config::Config) to a clean
//! stop: [`run`] is the whole service, the CLI's `feedloop run` calls it with a
//! future that completes on SIGINT/SIGTERM.
//!
//! # Design
//!
//! The parts and how they fit (wired in [`service`]):
//!
//! * **Ingest** ([`feedloop_ingest::Ingest`]): every instance is a member of
//!   one consumer group and lands its share of the partitions. Its run ends
//!   when the shutdown future completes, after landing and committing what it
//!   holds; its error is the service's error.
//! * **The jobs lease** ([`jobs::keep_lease`], a [`feedloop_storage::Lease`]
//!   named `jobs` in storage): the work that must run once per deployment —
//!   the window jobs and the scheduled exports ([`jobs`]) — runs only on the
//!   lease holder. Followers poll the lease and take over when it expires; the
//!   window job checks that the lease (same epoch) is still held before it
//!   closes each window, so an instance that lost it stops at once.
//! * **Alert delivery** ([`alerting`]): the window job's observer feeds metric
//!   rows to the ±kσ engine and hands its alerts to an
//!   [`AlertDispatcher`](feedloop_alerts::AlertDispatcher) with the log, Kafka
//!   and webhook sinks. Delivery happens in the background; the dispatcher is
//!   drained at shutdown.
//! * **HTTP** ([`http`], when `[http] enabled`): Prometheus metrics of ingest
//!   and jobs, probes, the JSON API (alerts, metrics, datasets, corrections
//!   through [`kafka_producer`]) and a page with charts. It binds at start, so a
//!   busy port fails the start rather than later.
//!
//! Every task watches one stop signal (a `watch` channel flipped when the
//! shutdown future completes). The stop order matters: ingest first, then HTTP,
//! the jobs and alert delivery, and the jobs lease last, released only after
//! the jobs have stopped, so a follower starts from their persisted state.
//!
//! The config types live here ([`config`]) because the service needs them;
//! reading them from TOML and `FEEDLOOP_…` variables is the CLI's job. Errors are
//! typed ([`ServerError`]); the CLI turns them into messages and exit codes.

pub mod alerting;
pub mod config;
pub mod error;
pub mod http;
pub mod jobs;
pub mod kafka_producer;
pub mod service;

pub use error::ServerError;
pub use service::run;
