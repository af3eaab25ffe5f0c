//! [`AnalyticsError`]: the errors of queries, analytics jobs and exports, each
//! keeping its cause ([`DataFusionError`], [`ArrowError`], [`StorageError`]) as
//! its source and saying whether a retry may help.

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use feedloop_storage::StorageError;

/// Errors of analytics jobs and queries.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// The SQL text or a query setting is wrong. Not retryable.
    #[error("query error: {0}")]
    Query(String),
    /// DataFusion rejected the SQL: syntax, unknown table or column, a plan it
    /// cannot build. Not retryable.
    #[error("query error: {0}")]
    Plan(#[source] DataFusionError),
    /// DataFusion failed running a query (reading files, executing a plan).
    #[error("execution error: {0}")]
    DataFusion(#[source] DataFusionError),
    /// An Arrow computation (cast, concatenation, decoding) failed. Not retryable.
    #[error("execution error: {0}")]
    Arrow(#[source] ArrowError),
    /// Reading or writing storage failed; retryable as the storage error is.
    #[error("{0}")]
    Storage(#[source] StorageError),
    /// Running a job failed (reading storage, a task that died).
    #[error("execution error: {0}")]
    Execution(String),
    /// The inputs of a job are unusable: a missing file or column, an empty
    /// dataset, data a requested test cannot use. Not retryable.
    #[error("{0}")]
    Input(String),
}

impl AnalyticsError {
    /// True when the same job may succeed if run again unchanged: storage or
    /// file reads that failed transiently, a cancelled task, exhausted memory.
    /// Wrong SQL, wrong requests and unusable data are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            AnalyticsError::Query(_)
            | AnalyticsError::Plan(_)
            | AnalyticsError::Arrow(_)
            | AnalyticsError::Input(_) => false,
            AnalyticsError::Execution(_) => true,
            AnalyticsError::Storage(e) => e.is_retryable(),
            AnalyticsError::DataFusion(e) => matches!(
                e.find_root(),
                DataFusionError::ObjectStore(_)
                    | DataFusionError::IoError(_)
                    | DataFusionError::ExecutionJoin(_)
                    | DataFusionError::ResourcesExhausted(_)
            ),
        }
    }

    /// True when the request itself must change (its SQL, its parameters, its
    /// inputs, the storage it names) rather than be retried: a command line
    /// reports these as usage errors.
    pub fn is_input(&self) -> bool {
        match self {
            AnalyticsError::Query(_) | AnalyticsError::Plan(_) | AnalyticsError::Input(_) => true,
            AnalyticsError::Storage(e) => !e.is_retryable(),
            AnalyticsError::DataFusion(_)
            | AnalyticsError::Arrow(_)
            | AnalyticsError::Execution(_) => false,
        }
    }
}

impl From<ArrowError> for AnalyticsError {
    fn from(e: ArrowError) -> Self {
        AnalyticsError::Arrow(e)
    }
}

impl From<DataFusionError> for AnalyticsError {
    fn from(e: DataFusionError) -> Self {
        use DataFusionError as E;
        // Planning errors often arrive wrapped (a diagnostic, a context): look
        // at the root cause, so `SELECT * FROM nosuch` is a query error.
        match e.find_root() {
            E::SQL(..) | E::Plan(_) | E::SchemaError(..) | E::NotImplemented(_) => {
                AnalyticsError::Plan(e)
            }
            _ => AnalyticsError::DataFusion(e),
        }
    }
}

impl From<StorageError> for AnalyticsError {
    fn from(e: StorageError) -> Self {
        AnalyticsError::Storage(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_follows_the_cause() {
        let plan: AnalyticsError = DataFusionError::Plan("no such column".into()).into();
        assert!(matches!(plan, AnalyticsError::Plan(_)));
        let wrapped: AnalyticsError = DataFusionError::Context(
            "planning".into(),
            Box::new(DataFusionError::Plan("table 'nosuch' not found".into())),
        )
        .into();
        assert!(matches!(wrapped, AnalyticsError::Plan(_)) && !wrapped.is_retryable());
        assert!(!plan.is_retryable() && plan.is_input());
        assert_eq!(
            plan.to_string(),
            "query error: Error during planning: no such column"
        );

        let io = DataFusionError::IoError(std::io::Error::other("reset"));
        let io: AnalyticsError = DataFusionError::Context("scan".into(), Box::new(io)).into();
        assert!(matches!(io, AnalyticsError::DataFusion(_)));
        assert!(io.is_retryable() && !io.is_input());

        let internal: AnalyticsError = DataFusionError::Internal("bug".into()).into();
        assert!(!internal.is_retryable());

        let bad_url = StorageError::InvalidUrl {
            url: "x://".into(),
            reason: "unknown scheme".into(),
        };
        let storage: AnalyticsError = bad_url.into();
        assert!(!storage.is_retryable() && storage.is_input());
        assert_eq!(
            storage.to_string(),
            "invalid storage URL `x://`: unknown scheme"
        );
        assert!(std::error::Error::source(&storage).is_some());

        let arrow: AnalyticsError = ArrowError::CastError("no".into()).into();
        assert!(!arrow.is_retryable() && !arrow.is_input());
        assert!(AnalyticsError::Execution("x".into()).is_retryable());
        assert!(!AnalyticsError::Input("x".into()).is_retryable());
    }
}
