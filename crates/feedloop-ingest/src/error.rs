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
    /// Storage already holds offsets the broker's log does not reach: the topic
    /// was deleted and recreated (or truncated, or `brokers` points at another
    /// cluster). Consuming would mistake new events for landed ones, so ingest
    /// stops for an operator to decide. Not retryable.
    #[error(
        "{partition}: storage already holds offsets up to {landed_through} but the broker's log ends at {log_end}: \
         the topic was deleted and recreated, truncated, or `kafka.brokers` points at another cluster. \
         Refusing to consume (new events would be taken for landed ones). Move `{landing_dir}` aside \
         (or point `storage.url` elsewhere) to start this partition afresh; see docs/operations.md"
    )]
    TopicReset {
        partition: String,
        landed_through: i64,
        log_end: i64,
        landing_dir: String,
    },
    /// An internal invariant broke (a task panicked). A bug; restart is safe.
    #[error("internal error: {0}")]
    Internal(String),
}

impl IngestError {
    /// True when restarting the pipeline may succeed without operator action.
    pub fn is_retryable(&self) -> bool {
        match self {
            IngestError::Setup(_) | IngestError::TopicReset { .. } => false,
            IngestError::Kafka { .. } | IngestError::Internal(_) => true,
            IngestError::Landing { source, .. } => source.is_retryable(),
        }
    }
}
