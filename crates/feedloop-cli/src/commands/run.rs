//! `feedloop run`: the pipeline, until SIGINT/SIGTERM.

use crate::config::Config;
use anyhow::Context;
use feedloop_ingest::{Ingest, IngestMetrics};
use feedloop_storage::{LandingZone, Storage};
use std::sync::Arc;
use std::time::Duration;

/// Opens the storage root named by the config.
pub fn open_storage(config: &Config) -> anyhow::Result<Storage> {
    let opts = config.storage.options.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    Storage::open(&config.storage.url, opts)
        .map_err(|e| anyhow::Error::new(super::UsageError(format!("invalid config: `storage.url`: {e}"))))
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
pub fn spawn_progress_log(metrics: Arc<IngestMetrics>, every: Duration) -> tokio::task::JoinHandle<()> {
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

pub async fn run(config: Config) -> anyhow::Result<()> {
    let storage = open_storage(&config)?;
    let removed = storage.clean_stale_tmp(Duration::from_secs(3600));
    if removed > 0 {
        tracing::info!(removed, "removed stale temporary files of crashed writers");
    }
    let landing = LandingZone::new(storage).with_zstd_level(config.ingest.zstd_level);
    let ingest = Ingest::new(config.kafka.clone(), config.ingest.clone(), landing);
    let progress = spawn_progress_log(ingest.metrics(), Duration::from_secs(30));
    let result = ingest.run(shutdown_signal()).await;
    progress.abort();
    result.context("ingest failed")
}
