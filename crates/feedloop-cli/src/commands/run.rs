//! `feedloop run`: the service ([`feedloop_server::run`]) until SIGINT/SIGTERM,
//! its errors turned into messages and exit codes (a bad `storage.url` is a
//! usage error, exit code 2).

use super::UsageError;
use feedloop_server::ServerError;
use feedloop_server::config::Config;
use feedloop_storage::Storage;

/// A service error at the CLI's edge: config mistakes become [`UsageError`]s.
fn edge(e: ServerError) -> anyhow::Error {
    if e.is_usage() {
        anyhow::Error::new(UsageError(e.to_string()))
    } else {
        anyhow::Error::new(e)
    }
}

/// Opens the storage root named by the config.
pub fn open_storage(config: &Config) -> anyhow::Result<Storage> {
    feedloop_server::service::open_storage(config).map_err(edge)
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

pub async fn run(config: Config) -> anyhow::Result<()> {
    feedloop_server::run(config, shutdown_signal())
        .await
        .map_err(edge)
}
