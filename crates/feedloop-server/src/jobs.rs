//! The singleton duties of `feedloop run` — window jobs and scheduled exports —
//! and the jobs lease ([`feedloop_storage::Lease`]) that elects the one
//! instance of a deployment running them. Ingest is not here: every instance
//! consumes its share of the partitions through the consumer group.

use crate::alerting::AlertObserver;
use crate::config::Config;
use crate::error::ServerError;
use feedloop_analytics::LandingSession;
use feedloop_kit::Histogram;
use feedloop_storage::{Lease, LeaseStatus, Storage};
use feedloop_windows::WindowJob;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What the jobs of this process did, for `/metrics`.
#[derive(Debug, Default)]
pub struct JobMetrics {
    /// Duration of each window-job tick that closed at least one window.
    pub window_tick_seconds: Histogram,
    /// Windows closed by this process.
    pub windows_closed: AtomicU64,
    /// Rows written by scheduled exports of this process (new versions only).
    pub export_rows: AtomicU64,
    /// Scheduled export runs that failed.
    pub export_failures: AtomicU64,
    /// The jobs lease as last seen: (epoch, valid until) while held.
    held: Mutex<Option<(u64, Instant)>>,
    /// Times this process acquired the jobs lease.
    pub lease_acquisitions: AtomicU64,
}

impl JobMetrics {
    /// The epoch of the jobs lease if this process holds it right now.
    pub fn lease_held(&self) -> Option<u64> {
        let held = *self.held.lock().ok()?;
        held.and_then(|(epoch, until)| (Instant::now() < until).then_some(epoch))
    }

    fn set_held(&self, v: Option<(u64, Instant)>) {
        if let Ok(mut h) = self.held.lock() {
            *h = v;
        }
    }
}

/// Keeps the jobs lease: polls it every `ttl / 5` until `stop`, then releases
/// it once `finished` (the jobs have stopped) so a follower takes over at once.
pub async fn keep_lease(
    mut lease: Lease,
    metrics: Arc<JobMetrics>,
    mut stop: watch::Receiver<bool>,
    finished: impl Future<Output = ()>,
) {
    tracing::info!(instance = %lease.holder(), "competing for the jobs lease (window jobs, scheduled exports)");
    let mut was_held = false;
    loop {
        match lease.poll().await {
            Ok(LeaseStatus::Held { epoch }) => {
                if !was_held {
                    metrics.lease_acquisitions.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(epoch, "this instance now runs the window jobs and exports");
                }
                was_held = true;
            }
            Ok(LeaseStatus::Follower { holder, epoch }) => {
                if was_held {
                    tracing::warn!(
                        epoch,
                        ?holder,
                        "jobs lease lost; window jobs and exports stop here"
                    );
                }
                was_held = false;
            }
            // A storage error: keep what we had until it expires on its own.
            Err(e) => {
                tracing::warn!(error = %e, "cannot renew or check the jobs lease");
                if was_held && lease.held().is_none() {
                    tracing::warn!(
                        "jobs lease lapsed (not renewed in time); window jobs and exports stop here"
                    );
                    was_held = false;
                }
            }
        }
        metrics.set_held(lease.held().zip(lease.valid_until()));
        tokio::select! {
            _ = tokio::time::sleep(lease.renew_interval()) => {}
            _ = stop.changed() => break,
        }
    }
    finished.await;
    metrics.set_held(None);
    if let Err(e) = lease.release().await {
        tracing::warn!(error = %e, "cannot release the jobs lease; it expires on its own");
    }
}

/// Sleeps `d`, or less when `stop` flips; true when stopping.
async fn pause(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

/// Runs the window jobs until `stop`, while this instance holds the jobs lease.
/// Each time it (re)gains the lease it reopens the job from storage, so it
/// continues exactly where the previous holder stopped.
pub async fn run_windows(
    config: Config,
    storage: Storage,
    observer: impl Fn() -> AlertObserver,
    metrics: Arc<JobMetrics>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ServerError> {
    let session = LandingSession::new(&storage).await?;
    let poll = config.windows.poll_interval;
    'lease: loop {
        let Some(epoch) = metrics.lease_held() else {
            if pause(poll.min(Duration::from_secs(1)), &mut stop).await {
                return Ok(());
            }
            continue;
        };
        let open = async {
            let corrections =
                feedloop_windows::CorrectionMetrics::new(&storage, config.export.feedback.clone())
                    .await?;
            let fence_metrics = Arc::clone(&metrics);
            Ok::<_, ServerError>(
                WindowJob::open(
                    config.windows.clone(),
                    storage.clone(),
                    session.context().clone(),
                )
                .await?
                .with_observer(Box::new(observer()))?
                .with_source(Box::new(corrections))
                .with_fence(Box::new(move || fence_metrics.lease_held() == Some(epoch))),
            )
        };
        let mut job = match open.await {
            Ok(job) => job,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the window jobs; retrying");
                if pause(poll, &mut stop).await {
                    return Ok(());
                }
                continue;
            }
        };
        tracing::info!(epoch, size = ?config.windows.size, lateness = ?config.windows.allowed_lateness, cursor = ?job.state().cursor, "window jobs started");
        loop {
            if metrics.lease_held() != Some(epoch) {
                tracing::info!(epoch, "window jobs paused: the jobs lease is not held");
                continue 'lease;
            }
            let started = Instant::now();
            match job.tick().await {
                Ok(reports) => {
                    if !reports.is_empty() {
                        metrics.window_tick_seconds.observe(started.elapsed());
                        metrics
                            .windows_closed
                            .fetch_add(reports.len() as u64, Ordering::Relaxed);
                    }
                    for r in reports {
                        tracing::info!(
                            window_start = r.window_start,
                            rows = r.rows.len(),
                            alerts = r.alerts.len(),
                            "window closed"
                        );
                    }
                }
                // Storage hiccups: reopen from the persisted state, as after a
                // crash (the in-memory job may have half-applied the window).
                Err(e) => {
                    tracing::warn!(error = %e, "window job failed; reopening it from storage at the next poll");
                    if pause(poll, &mut stop).await {
                        return Ok(());
                    }
                    continue 'lease;
                }
            }
            if pause(poll, &mut stop).await {
                return Ok(());
            }
        }
    }
}

/// Runs the `[[export.datasets]]` that are due until `stop`, while this
/// instance holds the jobs lease, checking as often as the most frequent
/// dataset asks (between once a second and once a minute).
pub async fn run_exports(
    config: Config,
    storage: Storage,
    metrics: Arc<JobMetrics>,
    mut stop: watch::Receiver<bool>,
) {
    let tick = config
        .export
        .datasets
        .iter()
        .map(|d| d.every)
        .min()
        .unwrap_or(Duration::from_secs(60))
        .clamp(Duration::from_secs(1), Duration::from_secs(60));
    tracing::info!(
        datasets = config.export.datasets.len(),
        ?tick,
        "scheduled exports enabled (run by the jobs lease holder)"
    );
    loop {
        if metrics.lease_held().is_some() {
            let now = chrono::Utc::now().timestamp_millis();
            match feedloop_datasets::run_scheduled_exports(&storage, &config.export, now).await {
                Ok(runs) => {
                    for r in runs {
                        match &r.result {
                            Ok(out) => {
                                if out.created {
                                    metrics
                                        .export_rows
                                        .fetch_add(out.manifest.row_count, Ordering::Relaxed);
                                }
                                tracing::info!(model = %r.model, dataset = %r.name, rows = out.manifest.row_count, created = out.created, url = %out.url, "scheduled export")
                            }
                            Err(e) => {
                                metrics.export_failures.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(model = %r.model, dataset = %r.name, error = %e, "scheduled export failed; retrying at its next turn")
                            }
                        }
                    }
                }
                Err(e) => {
                    metrics.export_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "scheduled exports failed; retrying later")
                }
            }
        }
        if pause(tick, &mut stop).await {
            return;
        }
    }
}
