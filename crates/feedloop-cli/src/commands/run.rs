//! `feedloop run`: the pipeline, until SIGINT/SIGTERM.

use crate::alerting::AlertObserver;
use crate::config::Config;
use anyhow::Context;
use feedloop_alerts::{AlertDispatcher, AlertSink, KafkaSink, LogSink, WebhookSink};
use feedloop_analytics::LandingSession;
use feedloop_analytics::windows::WindowJob;
use feedloop_ingest::{Ingest, IngestMetrics};
use feedloop_storage::{LandingZone, Storage};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Opens the storage root named by the config.
pub fn open_storage(config: &Config) -> anyhow::Result<Storage> {
    let opts = config
        .storage
        .options
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()));
    Storage::open(&config.storage.url, opts).map_err(|e| {
        anyhow::Error::new(super::UsageError(format!(
            "invalid config: `storage.url`: {e}"
        )))
    })
}

/// Completes on the first SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
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
pub fn alert_dispatcher(config: &Config) -> anyhow::Result<Arc<AlertDispatcher>> {
    let mut sinks: Vec<Arc<dyn AlertSink>> = vec![Arc::new(LogSink)];
    sinks.push(Arc::new(
        KafkaSink::new(
            &config.kafka.brokers,
            &config.kafka.topics.alerts,
            &config.kafka.options,
        )
        .context("cannot create the alerts producer")?,
    ));
    if let Some(w) =
        WebhookSink::from_config(&config.alerts).context("invalid config: `alerts.webhook`")?
    {
        sinks.push(Arc::new(w));
    }
    Ok(Arc::new(AlertDispatcher::new(
        sinks,
        config.alerts.queue_capacity,
    )))
}

/// Runs the window jobs until `stop` flips to true.
pub async fn run_windows(
    config: Config,
    storage: Storage,
    observer: AlertObserver,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let session = LandingSession::new(&storage).await?;
    let corrections = feedloop_analytics::feedback::CorrectionMetrics::new(
        &storage,
        config.export.feedback.clone(),
    )
    .await?;
    let mut job = WindowJob::open(config.windows.clone(), storage, session.context().clone())
        .await?
        .with_observer(Box::new(observer))?
        .with_source(Box::new(corrections));
    tracing::info!(size = ?config.windows.size, lateness = ?config.windows.allowed_lateness, "window jobs started");
    loop {
        match job.tick().await {
            Ok(reports) => {
                for r in reports {
                    tracing::info!(
                        window_start = r.window_start,
                        rows = r.rows.len(),
                        alerts = r.alerts.len(),
                        "window closed"
                    );
                }
            }
            // Storage hiccups: the next tick retries from the persisted cursor.
            Err(e) => tracing::warn!(error = %e, "window job failed; retrying at the next poll"),
        }
        tokio::select! {
            _ = tokio::time::sleep(config.windows.poll_interval) => {}
            _ = stop.changed() => break,
        }
    }
    Ok(())
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let storage = open_storage(&config)?;
    let removed = storage.clean_stale_tmp(Duration::from_secs(3600));
    if removed > 0 {
        tracing::info!(removed, "removed stale temporary files of crashed writers");
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let windows = if config.windows.enabled {
        let dispatcher = alert_dispatcher(&config)?;
        let observer = AlertObserver::new(config.alerts.clone(), Some(Arc::clone(&dispatcher)));
        let task = tokio::spawn(run_windows(
            config.clone(),
            storage.clone(),
            observer,
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
            stop_rx.clone(),
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
        stop_rx.clone(),
    )
    .await?;
    let result = ingest
        .run(async move {
            shutdown_signal().await;
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
    result.context("ingest failed")
}

/// Runs the `[[export.datasets]]` that are due until `stop`, checking as often as
/// the most frequent dataset asks (between once a second and once a minute).
pub async fn run_exports(config: Config, storage: Storage, mut stop: watch::Receiver<bool>) {
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
        "scheduled exports started"
    );
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        match feedloop_analytics::export::run_scheduled_exports(&storage, &config.export, now).await
        {
            Ok(runs) => {
                for r in runs {
                    match &r.result {
                        Ok(out) => {
                            tracing::info!(model = %r.model, dataset = %r.name, rows = out.manifest.row_count, created = out.created, url = %out.url, "scheduled export")
                        }
                        Err(e) => {
                            tracing::warn!(model = %r.model, dataset = %r.name, error = %e, "scheduled export failed; retrying at its next turn")
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "scheduled exports failed; retrying later"),
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.changed() => break,
        }
    }
}
