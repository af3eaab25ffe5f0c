//! The config of `feedloop run` and friends: one struct per TOML section, with
//! defaults and the checks beyond types ([`Config::validate`]). Reading it from a
//! file and `FEEDLOOP_…` variables is the CLI's business (`feedloop_cli::config`).

use feedloop_ingest::{IngestConfig, KafkaConfig};
use feedloop_kit::InvalidSetting;
pub use feedloop_storage::StorageConfig;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// The whole config file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[kafka]`: brokers, consumer group, topics, librdkafka options.
    pub kafka: KafkaConfig,
    /// `[storage]`: where the landing zone (and later datasets) live.
    pub storage: StorageConfig,
    /// `[ingest]`: batching and validation limits.
    pub ingest: IngestConfig,
    /// `[windows]`: event-time windows, segments and references of the window jobs.
    pub windows: feedloop_windows::WindowsConfig,
    /// `[alerts]`: the ±kσ rule and where alerts go.
    pub alerts: feedloop_alerts::AlertsConfig,
    /// `[log]`: log format and level.
    pub log: LogConfig,
    /// `[export]`: retraining datasets (defaults, privacy rules, scheduled exports).
    pub export: feedloop_datasets::ExportConfig,
    /// `[http]`: the HTTP server of `feedloop run` (metrics, probes, API, page).
    pub http: HttpConfig,
    /// `[cluster]`: how several `feedloop run` instances share the work.
    pub cluster: ClusterConfig,
}

/// `[cluster]`. Every instance of a deployment consumes its share of the Kafka
/// partitions (one consumer group); exactly one at a time — the holder of the
/// `jobs` lease in storage — runs the window jobs and scheduled exports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// This instance's name in the lease. Must be unique among the running
    /// instances; a stable one (e.g. a StatefulSet pod name) lets a restarted
    /// instance take its lease back at once. Default: `<host>-<pid>-<random>`.
    pub instance_id: Option<String>,
    /// How long the jobs lease survives its holder without renewal before
    /// another instance takes over (the failover time). Renewed every `ttl / 5`.
    #[serde(with = "humantime_serde")]
    pub lease_ttl: std::time::Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            instance_id: None,
            lease_ttl: std::time::Duration::from_secs(15),
        }
    }
}

impl ClusterConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.lease_ttl < std::time::Duration::from_secs(1) {
            return Err(invalid("cluster.lease_ttl", "expected at least 1s"));
        }
        if self
            .instance_id
            .as_deref()
            .is_some_and(|i| i.trim().is_empty())
        {
            return Err(invalid("cluster.instance_id", "expected a non-empty name"));
        }
        Ok(())
    }

    /// The configured instance id, or `<host>-<pid>-<random>`.
    pub fn instance_id(&self) -> String {
        if let Some(id) = &self.instance_id {
            return id.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "feedloop".into());
        format!(
            "{host}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        )
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `human` or `json`.
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `feedloop_ingest=debug,info`.
    /// `RUST_LOG` wins when set.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Human,
            level: "info".into(),
        }
    }
}

/// How log lines look on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// `[http]`. `Debug` shows the token as `<redacted>`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Serve HTTP from `feedloop run`.
    pub enabled: bool,
    /// `ip:port` to listen on. A non-loopback address needs `token`.
    pub listen: String,
    /// Bearer token of the API and page (`FEEDLOOP_HTTP__TOKEN`). Redacted when printed.
    /// An all-digit token is text too (the environment provider reads it as a number).
    #[serde(deserialize_with = "feedloop_kit::setting::lenient::opt_string")]
    pub token: Option<String>,
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("enabled", &self.enabled)
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            enabled: false,
            listen: "127.0.0.1:9464".into(),
            token: None,
            max_body_bytes: 1 << 20,
        }
    }
}

impl HttpConfig {
    /// The listen address, checked: a non-loopback address needs a token.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        let addr: SocketAddr = self.listen.parse().map_err(|e| {
            invalid(
                "http.listen",
                format!(
                    "expected ip:port such as 127.0.0.1:9464, got {:?} ({e})",
                    self.listen
                ),
            )
        })?;
        if self.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(invalid(
                "http.token",
                "must not be empty (leave it unset for a loopback-only API)",
            ));
        }
        if self.token.is_none() && !addr.ip().is_loopback() {
            return Err(invalid(
                "http.listen",
                format!(
                    "{addr} is not a loopback address; set `http.token` (or FEEDLOOP_HTTP__TOKEN) to serve the API beyond this host"
                ),
            ));
        }
        Ok(addr)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        if self.max_body_bytes == 0 {
            return Err(invalid("http.max_body_bytes", "must be at least 1"));
        }
        Ok(())
    }
}

/// Why [`Config::validate`] refused a config: `invalid config: `, the key and
/// what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A section's own check (`[kafka]`, `[ingest]`, `[windows]`, `[alerts]`,
    /// `[http]`, `[cluster]`, `[storage]`): the key and what was expected.
    #[error("invalid config: {0}")]
    Setting(#[from] InvalidSetting),
    /// `[export]`.
    #[error("invalid config: {0}")]
    Export(String),
}

fn invalid(key: &'static str, expected: impl Into<String>) -> ConfigError {
    ConfigError::Setting(InvalidSetting::new(key, expected))
}

impl Config {
    /// Checks values beyond their types.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.kafka.validate()?;
        self.ingest.validate()?;
        self.windows.validate()?;
        self.alerts.validate()?;
        self.export.validate().map_err(ConfigError::Export)?;
        self.http.validate()?;
        self.cluster.validate()?;
        if self.storage.url.trim().is_empty() {
            return Err(invalid(
                "storage.url",
                "expected a local path or a file://, s3://, gs:// or az:// URL",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_rules() {
        let mut c = HttpConfig::default();
        assert!(c.validate().is_ok());
        c.listen = "0.0.0.0:9464".into();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("http.listen"), "{e}");
        c.token = Some("s3cret".into());
        assert!(c.validate().is_ok());
        c.listen = "[::1]:80".into();
        c.token = None;
        assert!(c.validate().is_ok());
        c.listen = "nonsense".into();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("http.listen")
        );
    }
}
