//! Alerts of feedloop: when a window metric breaks away from normal, say so
//! once, say when it is over, and get the word out without stalling the
//! pipeline.
//!
//! # Design
//!
//! Window jobs close a window per series (model, model version, segment,
//! metric, optional feature) and hand its value, or a drift test's verdict, to
//! the [`AlertEngine`] as an [`Observation`]. Three layers, each replaceable:
//!
//! * [`rules`] decides whether one value breaches: a rolling ±kσ band over the
//!   series' own recent history, with a documented σ floor, a direction per
//!   metric and a run rule (`consecutive`). Static, reference-only thresholds
//!   (NannyML's mean + 3σ of reference chunks, upper side only) go stale as
//!   traffic evolves; a rolling band follows it, and the run rule is the
//!   debounce Scouter's SPC rules offer, configurable per metric.
//! * [`lifecycle`] turns breaches into alerts: exactly one `firing` when a
//!   series breaks out, nothing while it stays out, one `resolved` when it is
//!   back. Its state is plain serde data the caller persists after each window,
//!   so a restart neither re-fires nor forgets open alerts, and replayed windows
//!   are ignored.
//! * [`sinks`] delivers [`Alert`]s (the JSON contract of
//!   `schemas/alert.v1.schema.json`) to the log, a Kafka topic and a webhook,
//!   through the [`AlertDispatcher`]: bounded per-sink queues drained in the
//!   background, so a dead webhook never blocks a window job.
//!
//! Rules and lifecycle are pure and deterministic (no clock, no randomness), which
//! is what makes backfills and replays give the same alerts as live runs.
//!
//! ```
//! use feedloop_alerts::{AlertEngine, AlertsConfig, Observation, SeriesKey};
//! let mut engine = AlertEngine::new(AlertsConfig::default());
//! let key = SeriesKey {
//!     model: "spam-filter".into(), model_version: "2026-11-01".into(),
//!     segment: Default::default(), metric: "latency_p95".into(), feature: None,
//! };
//! let minute = 60_000;
//! for i in 0..20 {
//!     let value = if i == 19 { 250.0 } else { 100.0 + (i % 3) as f64 };
//!     let obs = Observation { key: key.clone(), window_start_ms: i * minute,
//!                             window_end_ms: (i + 1) * minute, value, drift: None };
//!     let alerts = engine.observe(&obs);
//!     assert_eq!(alerts.len(), usize::from(i == 19));
//! }
//! let saved = engine.state_json().unwrap();   // store after each window
//! let engine = AlertEngine::from_state_json(AlertsConfig::default(), &saved).unwrap();
//! assert_eq!(engine.open_alerts().count(), 1);
//! ```

pub mod alert;
pub mod lifecycle;
pub mod rules;
pub mod sinks;

pub use alert::{Alert, AlertState, DriftVerdict, Observation, SeriesKey, alert_id};
pub use lifecycle::{AlertEngine, EngineState, SeriesState, StateError};
pub use rules::{AlertsConfig, Band, Direction, MetricRule, Rule, Severity, Side};
pub use sinks::{
    AlertDispatcher, AlertSink, KafkaSink, LogSink, SinkError, SinkStats, WebhookSink,
};
