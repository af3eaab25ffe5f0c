//! The `[windows]` config section. Doc comments here are the user docs.

use feedloop_kit::InvalidSetting;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// `[windows]`: event-time windows and references.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowsConfig {
    /// Run the window jobs (metrics, drift, alerts) from this process. With
    /// several `feedloop run` instances, leave it on everywhere: only the holder
    /// of the `jobs` lease in storage runs them at a time (`[cluster]`), and
    /// another takes over when it stops. Give every instance the same value:
    /// the lease holder runs the jobs *its* config enables, so an instance with
    /// `false` that holds the lease (for scheduled exports) runs no window jobs.
    pub enabled: bool,
    /// Tumbling window size (humantime, e.g. `"5m"`).
    #[serde(with = "humantime_serde")]
    pub size: Duration,
    /// How far behind the latest event time a window still waits for stragglers.
    /// A window closes when `latest event time − allowed_lateness ≥ its end`.
    #[serde(with = "humantime_serde")]
    pub allowed_lateness: Duration,
    /// Tags to segment metrics by, e.g. `["country", "device"]`: volume and
    /// correction metrics are computed per value of each tag, besides overall.
    pub segments: Vec<String>,
    /// How often the landing zone is checked for new files.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// A partition with no new landed file for this long stops holding back the
    /// watermark (it is idle, not late). Keep it above the consumer group's
    /// `session.timeout.ms` (librdkafka: 45 s), so the partitions of a crashed
    /// instance hold windows open until another instance takes them over.
    #[serde(with = "humantime_serde")]
    pub partition_idle_timeout: Duration,
    /// Default reference of every model version: its first N windows.
    pub reference_windows: usize,
    /// Per-model settings, by model name.
    pub models: BTreeMap<String, ModelConfig>,
}

impl Default for WindowsConfig {
    fn default() -> Self {
        WindowsConfig {
            enabled: true,
            size: Duration::from_secs(300),
            allowed_lateness: Duration::from_secs(60),
            segments: Vec::new(),
            poll_interval: Duration::from_secs(5),
            partition_idle_timeout: Duration::from_secs(60),
            reference_windows: 12,
            models: BTreeMap::new(),
        }
    }
}

/// `[windows.models.<name>]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Where this model's reference comes from (default: its first windows).
    pub reference: Option<ReferenceSource>,
}

/// A model's reference data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum ReferenceSource {
    /// A Parquet file or folder (local path or object-store URL) with one column
    /// per feature: `{ file = "s3://bucket/reference.parquet" }`.
    File { file: String },
    /// A time range of the landing zone, RFC 3339:
    /// `{ since = "2026-11-01T00:00:00Z", until = "2026-11-08T00:00:00Z" }`.
    Range { since: String, until: String },
    /// The first N windows after a model version is first seen: `{ first_windows = 12 }`.
    FirstWindows { first_windows: usize },
}

impl WindowsConfig {
    pub fn size_ms(&self) -> i64 {
        self.size.as_millis() as i64
    }

    pub fn lateness_ms(&self) -> i64 {
        self.allowed_lateness.as_millis() as i64
    }

    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let bad = |key: &str, expected: &str| InvalidSetting::new(key, expected);
        if self.size < Duration::from_secs(1) || self.size > Duration::from_secs(7 * 86_400) {
            return Err(bad(
                "windows.size",
                "expected a duration between 1s and 7d, e.g. \"5m\"",
            ));
        }
        if self.allowed_lateness > Duration::from_secs(7 * 86_400) {
            return Err(bad(
                "windows.allowed_lateness",
                "expected a duration up to 7d, e.g. \"1m\"",
            ));
        }
        if self.poll_interval < Duration::from_millis(10) {
            return Err(bad("windows.poll_interval", "expected at least 10ms"));
        }
        if self.reference_windows == 0 {
            return Err(bad(
                "windows.reference_windows",
                "expected a positive number of windows",
            ));
        }
        for (name, m) in &self.models {
            match &m.reference {
                Some(ReferenceSource::Range { since, until }) => {
                    let key = format!("windows.models.{name}.reference");
                    let a = chrono::DateTime::parse_from_rfc3339(since)
                        .map_err(|_| bad(&key, "expected `since` as an RFC 3339 time"))?;
                    let b = chrono::DateTime::parse_from_rfc3339(until)
                        .map_err(|_| bad(&key, "expected `until` as an RFC 3339 time"))?;
                    if b <= a {
                        return Err(bad(&key, "expected `until` after `since`"));
                    }
                }
                Some(ReferenceSource::FirstWindows { first_windows: 0 }) => {
                    return Err(bad(
                        &format!("windows.models.{name}.reference"),
                        "expected first_windows ≥ 1",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}
