//! The `[storage]` config section: the storage root's URL and the options of its
//! object-store builder ([`crate::Storage::open`]). Doc comments here are the
//! user docs; secret-looking options are redacted by [`feedloop_kit::secrets`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[storage]`. `Debug` redacts secret-looking options.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Storage root: a local path or `file://` URL, or `s3://bucket/prefix`,
    /// `gs://bucket/prefix`, `az://container/prefix`. Cloud credentials come from
    /// the usual environment variables (`AWS_ACCESS_KEY_ID`, …).
    pub url: String,
    /// Passed to the object store builder as is (e.g. `aws_endpoint`,
    /// `aws_allow_http`, `aws_region`). Values are text (an all-digit key too).
    #[serde(deserialize_with = "feedloop_kit::setting::lenient::string_map")]
    pub options: BTreeMap<String, String>,
}

impl std::fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageConfig")
            .field("url", &self.url)
            .field(
                "options",
                &feedloop_kit::secrets::redacted_options(&self.options),
            )
            .finish()
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            url: "./feedloop-data".into(),
            options: BTreeMap::new(),
        }
    }
}
