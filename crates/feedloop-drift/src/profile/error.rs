//! Errors of the profile API, and the two constructors the other profile
//! modules share (a statistic's error for one feature, an invalid profile).

use thiserror::Error;

use crate::column::StatTest;
use crate::error::DriftError;

/// Errors of the profile API.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ProfileError {
    /// A statistic's error not tied to one feature (e.g. an invalid threshold).
    #[error(transparent)]
    Drift(#[from] DriftError),
    /// A statistic's error for one feature.
    #[error("feature `{feature}`: {source}")]
    Feature {
        /// The feature.
        feature: String,
        /// The underlying error.
        #[source]
        source: DriftError,
    },
    /// The feature is not in the profile.
    #[error("feature `{0}` is not in the reference profile")]
    UnknownFeature(String),
    /// The same feature was given twice.
    #[error("feature `{0}` was given twice")]
    DuplicateFeature(String),
    /// Invalid [`ProfileConfig`](super::ProfileConfig).
    #[error("invalid profile configuration: {0}")]
    InvalidConfig(&'static str),
    /// The serialised profile has an unknown `format_version`.
    #[error("unsupported profile format_version {found} (this build reads {supported})")]
    UnsupportedFormatVersion {
        /// Version found.
        found: u32,
        /// Version supported.
        supported: u32,
    },
    /// The profile is internally inconsistent.
    #[error("invalid profile for feature `{feature}`: {reason}")]
    InvalidProfile {
        /// The feature.
        feature: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The profile could not be (de)serialised.
    #[error("profile JSON: {0}")]
    Json(String),
    /// A value of the wrong type for the feature.
    #[error("feature `{feature}` holds {expected} values, got a {found} value")]
    ValueType {
        /// The feature.
        feature: String,
        /// What the feature accepts.
        expected: &'static str,
        /// What was given.
        found: &'static str,
    },
    /// Window counts belong to a different profile (or were tampered with).
    #[error("window counts were made for a different reference profile")]
    ProfileMismatch,
    /// Raw values were supplied for a categorical feature.
    #[error("raw values were supplied for categorical feature `{0}`")]
    RawValuesForCategorical(String),
    /// KS or Wasserstein was forced but the window's raw values were not supplied.
    #[error("the {test} test of feature `{feature}` needs the window's raw values")]
    RawValuesRequired {
        /// The feature.
        feature: String,
        /// The test.
        test: StatTest,
    },
}

pub(super) fn feature_err(feature: &str) -> impl Fn(DriftError) -> ProfileError + '_ {
    move |source| ProfileError::Feature {
        feature: feature.to_owned(),
        source,
    }
}

pub(super) fn invalid(feature: &str, reason: &'static str) -> ProfileError {
    ProfileError::InvalidProfile {
        feature: feature.to_owned(),
        reason,
    }
}
