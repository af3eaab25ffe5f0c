//! What the window job calls out to while closing a window: the
//! [`WindowObserver`] (the alert engine), extra [`MetricSource`]s, and the
//! [`Fence`] that stops it when this instance loses the jobs lease.

use datafusion::execution::context::SessionContext;
use feedloop_analytics::AnalyticsError;
use feedloop_storage::Storage;
use feedloop_storage::history::{AlertRow, MetricBand, MetricRow};
use futures::future::BoxFuture;

/// Turns a closed window's metric rows into alert transitions; its state is
/// persisted with the job's.
pub trait WindowObserver: Send + Sync {
    fn observe(&mut self, window_start: i64, window_end: i64, rows: &[MetricRow]) -> Vec<AlertRow>;
    /// The band the next [`WindowObserver::observe`] will judge `row` against,
    /// read just before it; the job stores it with the row. `None` (the
    /// default): the row is not judged against a band.
    fn band(&self, row: &MetricRow) -> Option<MetricBand> {
        let _ = row;
        None
    }
    /// Delivers alerts once they are recorded in the `alerts` table.
    fn deliver(&mut self, alerts: &[AlertRow]);
    /// The alerts of the last `observe` were delivered before (by an earlier
    /// run of this window): drop them without delivering.
    fn skip_delivery(&mut self) {}
    fn save_state(&self) -> serde_json::Value;
    fn restore_state(&mut self, state: serde_json::Value) -> Result<(), String>;
}

/// More metrics for a closed window (e.g. correction coverage and error rate).
pub trait MetricSource: Send + Sync {
    /// Called before a run of `count` windows of `size_ms` from `start` is
    /// closed, so the source can compute them all at once and hand each out in
    /// [`MetricSource::compute`] (default: nothing).
    fn prepare<'a>(
        &'a self,
        start: i64,
        size_ms: i64,
        count: usize,
        segments: &'a [String],
    ) -> BoxFuture<'a, Result<(), AnalyticsError>> {
        let _ = (start, size_ms, count, segments);
        Box::pin(async { Ok(()) })
    }

    fn compute<'a>(
        &'a self,
        ctx: &'a SessionContext,
        storage: &'a Storage,
        window_start: i64,
        window_end: i64,
        segments: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<MetricRow>, AnalyticsError>>;
}

/// Asked before each window is closed: `false` stops the tick (this instance
/// no longer holds the jobs lease; the next holder closes the rest).
pub type Fence = Box<dyn Fn() -> bool + Send + Sync>;
