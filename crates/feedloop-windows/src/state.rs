//! The window job's durable state: [`JobState`] (cursor, landing index,
//! first-seen windows, pending late events, the observer's state) and its one
//! file, `state/windows.json` ([`layout::windows_state`]), read when the job
//! opens and rewritten after every closed window.

use crate::index::LandingIndex;
use feedloop_analytics::AnalyticsError;
use feedloop_storage::{Storage, StorageError, layout};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the job persists between runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JobState {
    pub format_version: u32,
    /// Start of the next window to close (epoch ms).
    pub cursor: Option<i64>,
    pub index: LandingIndex,
    /// Start of the first window each model version (`model/version`) was seen in.
    pub first_seen: BTreeMap<String, i64>,
    /// Late-event rows waiting for the next window's metrics file.
    #[serde(default)]
    pub pending_late: Vec<(String, String, i64, f64)>,
    /// The observer's state.
    #[serde(default)]
    pub observer: serde_json::Value,
}

impl JobState {
    /// The state stored in `storage`, or a fresh one when there is none.
    pub async fn load(storage: &Storage) -> Result<JobState, AnalyticsError> {
        let path = layout::windows_state();
        match storage.get(&path).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                AnalyticsError::Input(format!("{path} is not a window-job state: {e}"))
            }),
            Err(StorageError::ObjectStore {
                source: object_store::Error::NotFound { .. },
                ..
            }) => Ok(JobState::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the stored state with this one.
    pub async fn save(&self, storage: &Storage) -> Result<(), AnalyticsError> {
        let json =
            serde_json::to_vec(self).map_err(|e| AnalyticsError::Execution(e.to_string()))?;
        storage
            .put_overwrite(&layout::windows_state(), json.into())
            .await?;
        Ok(())
    }
}
