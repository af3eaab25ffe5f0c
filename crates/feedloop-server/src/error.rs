//! [`ServerError`]: why `feedloop run` could not start or stopped with an error.
//! Each variant is the context the service adds to its cause, so the CLI's
//! `error: …` line reads the same as the chain of causes.

use std::net::SocketAddr;

/// Why the service (or one of its parts) failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// `storage.url` (or its options) cannot be opened: a usage error (the CLI
    /// exits with 2).
    #[error("invalid config: `storage.url`: {0}")]
    StorageUrl(feedloop_storage::StorageError),
    /// A config value checked at start-up (`http.listen`).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// `alerts.webhook` is not a usable URL.
    #[error("invalid config: `alerts.webhook`")]
    Webhook(#[source] feedloop_alerts::SinkError),
    /// The producer of the alerts topic could not be created.
    #[error("cannot create the alerts producer")]
    AlertsProducer(#[source] feedloop_alerts::SinkError),
    /// The corrections producer could not be created (a config error names the
    /// key, never its value).
    #[error("cannot create the Kafka producer: {0}")]
    Producer(rdkafka::error::KafkaError),
    /// The HTTP server cannot bind `http.listen`.
    #[error("cannot listen on {addr} (`http.listen`): {error}")]
    Listen {
        addr: SocketAddr,
        error: std::io::Error,
    },
    /// Serving HTTP failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Opening the landing zone's tables or a window job failed.
    #[error(transparent)]
    Analytics(#[from] feedloop_analytics::AnalyticsError),
    /// The ingest pipeline stopped with an error.
    #[error("ingest failed")]
    Ingest(#[source] feedloop_ingest::IngestError),
}

impl ServerError {
    /// True for a mistake in the config rather than a failure of the service.
    /// The CLI maps it to exit code 2 (only `storage.url` is: other config
    /// values were checked when the config was loaded).
    pub fn is_usage(&self) -> bool {
        matches!(self, ServerError::StorageUrl(_))
    }
}
