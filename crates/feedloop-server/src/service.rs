//! The service wiring of `feedloop run`: opens storage, starts ingest, the jobs
//! lease and its jobs, alert delivery and the HTTP server, and stops them in
//! order when the caller's shutdown future completes.

use crate::alerting::AlertObserver;
use crate::config::Config;
use crate::error::ServerError;
use crate::jobs::{JobMetrics, keep_lease, run_exports, run_windows};
use feedloop_alerts::{AlertDispatcher, AlertSink, KafkaSink, LogSink, WebhookSink};
use feedloop_ingest::{Ingest, IngestMetrics};
use feedloop_storage::{LandingZone, Lease, Storage};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Opens the storage root named by the config.
pub fn open_storage(config: &Config) -> Result<Storage, ServerError> {
    let opts = config
        .storage
        .options
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()));
    Storage::open(&config.storage.url, opts).map_err(ServerError::StorageUrl)
}

/// Logs a one-line progress summary every `every`.
pub fn spawn_progress_log(
    metrics: Arc<IngestMetrics>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let t = metrics.total();
            tracing::info!(
                consumed = t.consumed,
                landed = t.landed,
                dead_lettered = t.dead_lettered,
                files = t.files,
                lag = metrics.total_lag(),
                "progress"
            );
        }
    })
}

/// The alert sinks of a config: the log, the alerts topic, and the webhook if set.
pub fn alert_dispatcher(config: &Config) -> Result<Arc<AlertDispatcher>, ServerError> {
    let mut sinks: Vec<Arc<dyn AlertSink>> = vec![Arc::new(LogSink)];
    sinks.push(Arc::new(
        KafkaSink::new(
            &config.kafka.brokers,
            &config.kafka.topics.alerts,
            &config.kafka.options,
        )
        .map_err(ServerError::AlertsProducer)?,
    ));
    if let Some(w) = WebhookSink::from_config(&config.alerts).map_err(ServerError::Webhook)? {
        sinks.push(Arc::new(w));
    }
    Ok(Arc::new(AlertDispatcher::new(
        sinks,
        config.alerts.queue_capacity,
    )))
}

/// Runs the service until `shutdown` completes. Then ingest lands and commits
/// what it holds, the HTTP server finishes its requests, the window jobs stop
/// and alert delivery drains (10 s at most), the exports stop, and the jobs
/// lease is released last, so a follower takes over at once.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
    let storage = open_storage(&config)?;
    let removed = storage.clean_stale_tmp(Duration::from_secs(3600));
    if removed > 0 {
        tracing::info!(removed, "removed stale temporary files of crashed writers");
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let jobs = Arc::new(JobMetrics::default());
    let windows = if config.windows.enabled {
        let dispatcher = alert_dispatcher(&config)?;
        let alerts = config.alerts.clone();
        let d = Arc::clone(&dispatcher);
        let task = tokio::spawn(run_windows(
            config.clone(),
            storage.clone(),
            move || AlertObserver::new(alerts.clone(), Some(Arc::clone(&d))),
            Arc::clone(&jobs),
            stop_rx.clone(),
        ));
        Some((task, dispatcher))
    } else {
        None
    };
    let exports = (!config.export.datasets.is_empty()).then(|| {
        tokio::spawn(run_exports(
            config.clone(),
            storage.clone(),
            Arc::clone(&jobs),
            stop_rx.clone(),
        ))
    });
    // The lease is released only after the jobs above have stopped.
    let (jobs_done_tx, jobs_done_rx) = tokio::sync::oneshot::channel::<()>();
    let lease = (windows.is_some() || exports.is_some()).then(|| {
        let lease = Lease::new(
            storage.clone(),
            "jobs",
            config.cluster.instance_id(),
            config.cluster.lease_ttl,
        );
        tokio::spawn(keep_lease(
            lease,
            Arc::clone(&jobs),
            stop_rx.clone(),
            async move {
                let _ = jobs_done_rx.await;
            },
        ))
    });
    let landing_storage = storage.clone();
    let landing = LandingZone::new(storage).with_zstd_level(config.ingest.zstd_level);
    let ingest = Ingest::new(config.kafka.clone(), config.ingest.clone(), landing);
    let progress = spawn_progress_log(ingest.metrics(), Duration::from_secs(30));
    let http = crate::http::start(
        &config,
        landing_storage.clone(),
        ingest.metrics(),
        windows.as_ref().map(|(_, d)| d),
        Arc::clone(&jobs),
        stop_rx.clone(),
    )
    .await?;
    let result = ingest
        .run(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
    progress.abort();
    if let Some(h) = http {
        let _ = h.await;
    }
    if let Some((task, dispatcher)) = windows {
        match task.await {
            Ok(Err(e)) => tracing::error!(error = %e, "window jobs failed"),
            Err(e) => tracing::error!(error = %e, "window jobs task failed"),
            Ok(Ok(())) => {}
        }
        if let Ok(d) = Arc::try_unwrap(dispatcher) {
            d.shutdown(Duration::from_secs(10)).await;
        }
    }
    if let Some(t) = exports {
        let _ = t.await;
    }
    let _ = jobs_done_tx.send(());
    if let Some(l) = lease {
        let _ = l.await;
    }
    result.map_err(ServerError::Ingest)
}
