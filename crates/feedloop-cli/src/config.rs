//! The TOML config of `feedloop run` and friends, with `FEEDLOOP_…` overrides.
//!
//! Every key can be overridden by an environment variable: `FEEDLOOP_` + the key
//! path in upper case with `__` between levels, e.g. `FEEDLOOP_KAFKA__BROKERS`,
//! `FEEDLOOP_INGEST__LIMITS__MAX_EVENT_BYTES`. Loading fails at start with the
//! offending key and what was expected.

use anyhow::{Context, bail};
use feedloop_ingest::{IngestConfig, KafkaConfig};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

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
    pub export: feedloop_analytics::ExportConfig,
    /// `[http]`: the HTTP server of `feedloop run` (metrics, probes, API, page).
    pub http: crate::http::HttpConfig,
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
    fn validate(&self) -> anyhow::Result<()> {
        if self.lease_ttl < std::time::Duration::from_secs(1) {
            bail!("invalid config: `cluster.lease_ttl`: expected at least 1s");
        }
        if self
            .instance_id
            .as_deref()
            .is_some_and(|i| i.trim().is_empty())
        {
            bail!("invalid config: `cluster.instance_id`: expected a non-empty name");
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
    #[serde(deserialize_with = "feedloop_ingest::config::lenient::string_map")]
    pub options: BTreeMap<String, String>,
}

impl std::fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageConfig")
            .field("url", &self.url)
            .field(
                "options",
                &feedloop_ingest::config::redacted_options(&self.options),
            )
            .finish()
    }
}

/// Environment variables of option maps, taken verbatim: `FEEDLOOP_KAFKA__OPTIONS__SASL_PASSWORD`
/// sets librdkafka's `sasl.password` (`_` → `.`: librdkafka keys have dots, which
/// variable names cannot carry), `FEEDLOOP_STORAGE__OPTIONS__AWS_REGION` sets
/// `aws_region`. Values stay text (figment would read `000123` as a number).
fn env_option_maps() -> Vec<(&'static str, BTreeMap<String, String>)> {
    let mut kafka = BTreeMap::new();
    let mut storage = BTreeMap::new();
    for (k, v) in std::env::vars() {
        if let Some(name) = k.strip_prefix("FEEDLOOP_KAFKA__OPTIONS__") {
            kafka.insert(name.to_ascii_lowercase().replace('_', "."), v);
        } else if let Some(name) = k.strip_prefix("FEEDLOOP_STORAGE__OPTIONS__") {
            storage.insert(name.to_ascii_lowercase(), v);
        }
    }
    vec![("kafka.options", kafka), ("storage.options", storage)]
}

/// Secret settings from the environment, as the exact text given.
const ENV_SECRETS: [(&str, &str); 2] = [
    ("FEEDLOOP_HTTP__TOKEN", "http.token"),
    (
        "FEEDLOOP_EXPORT__PRIVACY__HASH_KEY",
        "export.privacy.hash_key",
    ),
];

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            url: "./feedloop-data".into(),
            options: BTreeMap::new(),
        }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

impl Config {
    /// Loads `path` (when given) over the defaults, then `FEEDLOOP_…` variables,
    /// then validates.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(p) = path {
            if !p.is_file() {
                bail!("config file `{}` not found", p.display());
            }
            fig = fig.merge(Toml::file_exact(p));
        }
        // Only nested keys: every config key lives in a section, and this keeps
        // `FEEDLOOP_CONFIG` and friends (CLI flags) out of the config.
        fig = fig.merge(
            Env::prefixed("FEEDLOOP_")
                .split("__")
                .filter(|k| k.as_str().contains('.'))
                .filter(|k| {
                    !k.as_str().starts_with("kafka.options.")
                        && !k.as_str().starts_with("storage.options.")
                }),
        );
        for (key, map) in env_option_maps() {
            if !map.is_empty() {
                fig = fig.merge(Serialized::default(key, map));
            }
        }
        for (var, key) in ENV_SECRETS {
            if let Ok(v) = std::env::var(var) {
                fig = fig.merge(Serialized::default(key, v));
            }
        }
        let config: Config = fig.extract().map_err(|e| {
            let mut msg = String::from("invalid config");
            for err in e {
                let key = err.path.join(".");
                msg.push_str(&format!(
                    "\n  - {}{}",
                    if key.is_empty() {
                        String::new()
                    } else {
                        format!("`{key}`: ")
                    },
                    err.kind
                ));
                match (err.metadata.and_then(|m| m.source.clone()), path) {
                    // The file as the user named it: figment shows it relative
                    // to the working directory when that is shorter
                    // (`../feedloop.toml`), which reads as another file.
                    (Some(figment::Source::File(_)), Some(p)) => {
                        msg.push_str(&format!(" (from {})", p.display()))
                    }
                    (Some(src), _) => msg.push_str(&format!(" (from {src})")),
                    (None, _) => {}
                }
            }
            anyhow::anyhow!(msg)
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values beyond their types.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.kafka.validate().context("invalid config")?;
        self.ingest.validate().context("invalid config")?;
        self.windows.validate().context("invalid config")?;
        self.alerts.validate().context("invalid config")?;
        self.export
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid config: {e}"))?;
        self.http
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid config: {e}"))?;
        self.cluster.validate()?;
        if self.storage.url.trim().is_empty() {
            bail!(
                "invalid config: `storage.url`: expected a local path or a file://, s3://, gs:// or az:// URL"
            );
        }
        Ok(())
    }

    /// The config as TOML with secret-looking values replaced by `<redacted>`.
    pub fn to_redacted_toml(&self) -> String {
        let mut c = self.clone();
        for opts in [&mut c.kafka.options, &mut c.storage.options] {
            for (k, v) in opts.iter_mut() {
                if feedloop_ingest::config::is_secret_option(k) {
                    *v = "<redacted>".into();
                }
            }
        }
        if c.export.privacy.hash_key.is_some() {
            c.export.privacy.hash_key = Some("<redacted>".into());
        }
        if c.http.token.is_some() {
            c.http.token = Some("<redacted>".into());
        }
        // Webhook URLs often carry their secret in the path (Slack, Teams).
        if let Some(w) = &c.alerts.webhook {
            c.alerts.webhook = Some(match url::Url::parse(w) {
                Ok(u) => format!(
                    "{}://{}/<redacted>",
                    u.scheme(),
                    u.authority().rsplit('@').next().unwrap_or("")
                ),
                Err(_) => "<redacted>".into(),
            });
        }
        toml_string(&c)
    }
}

fn toml_string(c: &Config) -> String {
    // figment re-exports no TOML serializer; render the few sections by hand via serde_json.
    let v = serde_json::to_value(c).unwrap_or_default();
    let mut out = String::new();
    render_table(&mut out, "", &v);
    out
}

fn render_table(out: &mut String, path: &str, v: &serde_json::Value) {
    let Some(obj) = v.as_object() else { return };
    let mut nested = Vec::new();
    if !path.is_empty() {
        out.push_str(&format!("[{path}]\n"));
    }
    for (k, val) in obj {
        let key = if k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            k.clone()
        } else {
            format!("{k:?}")
        };
        match val {
            serde_json::Value::Object(_) => nested.push((key, val)),
            other => out.push_str(&format!("{key} = {other}\n")),
        }
    }
    for (k, val) in nested {
        let p = if path.is_empty() {
            k
        } else {
            format!("{path}.{k}")
        };
        out.push('\n');
        render_table(out, &p, val);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(toml: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("c.toml");
        std::fs::write(&p, toml)?;
        Config::load(Some(&p))
    }

    #[test]
    fn defaults_and_overrides() {
        let c = load_str("[kafka]\nbrokers = \"b:1\"\n[kafka.options]\n\"security.protocol\" = \"SASL_SSL\"\n\"sasl.password\" = \"hunter2\"\n[ingest]\nflush_interval = \"250ms\"\n").unwrap();
        assert_eq!(c.kafka.brokers, "b:1");
        assert_eq!(c.kafka.group_id, "feedloop");
        assert_eq!(
            c.ingest.flush_interval,
            std::time::Duration::from_millis(250)
        );
        assert_eq!(c.kafka.options["security.protocol"], "SASL_SSL");
        let shown = c.to_redacted_toml();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("SASL_SSL"));
    }

    #[test]
    fn webhook_urls_are_shown_without_their_secret_path() {
        let c = load_str("[alerts]\nwebhook = \"https://user:pw@hooks.slack.com/services/T000/B000/XXXXSECRET\"\n").unwrap();
        let shown = c.to_redacted_toml();
        assert!(
            shown.contains("https://hooks.slack.com/<redacted>"),
            "{shown}"
        );
        assert!(
            !shown.contains("XXXXSECRET") && !shown.contains("pw@"),
            "{shown}"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                "[ingest]\nflush_max_events = \"lots\"\n",
                "ingest.flush_max_events",
            ),
            (
                "[ingest]\nflush_interval = \"soon\"\n",
                "ingest.flush_interval",
            ),
            ("[kafka]\nbrokerz = \"x\"\n", "brokerz"),
            (
                "[kafka.topics]\npredictions = \"a b\"\n",
                "kafka.topics.predictions",
            ),
            (
                "[kafka.topics]\nlatency = \"predictions\"\n",
                "kafka.topics.latency",
            ),
            (
                "[kafka.options]\n\"enable.auto.commit\" = \"true\"\n",
                "enable.auto.commit",
            ),
            (
                "[ingest]\nlanding_max_attempts = 0\n",
                "ingest.landing_max_attempts",
            ),
            (
                "[ingest.limits]\nmax_features = 0\n",
                "ingest.limits.max_features",
            ),
            ("[log]\nformat = \"xml\"\n", "log.format"),
        ];
        for (toml, key) in cases {
            let err = format!("{:#}", load_str(toml).unwrap_err());
            assert!(err.contains(key), "{toml}: {err}");
        }
        let err = Config::load(Some(Path::new("/nonexistent/feedloop.toml"))).unwrap_err();
        assert!(err.to_string().contains("not found"));
    }
}
