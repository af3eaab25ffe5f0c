//! One export's request ([`ExportRequest`]: model, filters, policy, "now") and
//! result ([`ExportOutcome`]).

use crate::policy::Policy;
use feedloop_storage::datasets::{DatasetId, FailPoint, Manifest};

/// One export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub model: String,
    /// Dataset name (default: the policy's name).
    pub name: Option<String>,
    pub model_version: Option<String>,
    /// Predictions with `ts ≥ since_ms` (epoch milliseconds).
    pub since_ms: Option<i64>,
    /// Predictions with `ts < until_ms`.
    pub until_ms: Option<i64>,
    pub policy: Policy,
    /// The export's "now" (epoch milliseconds), as the `feedback` views see it:
    /// corrections without a prediction older than `now_ms − horizon` are
    /// unmatched. The caller's clock (the CLI's, the scheduler's tick), never
    /// read here.
    pub now_ms: i64,
    /// Stop before the manifest (crash-safety tests).
    pub fail_point: FailPoint,
}

impl ExportRequest {
    pub fn new(model: impl Into<String>, policy: Policy, now_ms: i64) -> Self {
        ExportRequest {
            model: model.into(),
            name: None,
            model_version: None,
            since_ms: None,
            until_ms: None,
            policy,
            now_ms,
            fail_point: FailPoint::None,
        }
    }

    pub fn dataset_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.policy.kind().as_str().to_string())
    }
}

/// What an export wrote (or found already written).
#[derive(Debug, Clone)]
pub struct ExportOutcome {
    pub id: DatasetId,
    /// The version folder's URL (holds `_manifest.json`), with a trailing `/`.
    pub url: String,
    pub manifest: Manifest,
    /// False when the same version already existed: nothing was written.
    pub created: bool,
    pub bytes: u64,
    /// Leftover version folders (crashed exports) removed before this export.
    pub cleaned: Vec<String>,
}
