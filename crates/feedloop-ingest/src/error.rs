//! Errors of the ingest pipeline, each saying whether a retry may help.

use feedloop_storage::StorageError;
use rdkafka::error::KafkaError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The Kafka client could not be created or subscribed (bad settings). Not retryable.
    #[error("kafka client setup failed: {0}")]
    Setup(#[source] KafkaError),
    /// A Kafka operation failed.
    #[error("kafka {operation} failed: {source}")]
    Kafka {
        operation: &'static str,
        #[source]
        source: KafkaError,
    },
    /// Landing data failed permanently or after every retry; consumption stopped
    /// with nothing committed past the last durable file.
    #[error("landing {partition} failed: {source}")]
    Landing {
        partition: String,
        #[source]
        source: StorageError,
    },
    /// An internal invariant broke (a task panicked). A bug; restart is safe.
    #[error("internal error: {0}")]
    Internal(String),
}

impl IngestError {
    /// True when restarting the pipeline may succeed without operator action.
    pub fn is_retryable(&self) -> bool {
        match self {
            IngestError::Setup(_) => false,
            IngestError::Kafka { .. } | IngestError::Internal(_) => true,
            IngestError::Landing { source, .. } => source.is_retryable(),
        }
    }
}
