//! Loading the TOML config of `feedloop run` and friends, with `FEEDLOOP_…`
//! overrides (the types are [`feedloop_server::config`]).
//!
//! Every key can be overridden by an environment variable: `FEEDLOOP_` + the key
//! path in upper case with `__` between levels, e.g. `FEEDLOOP_KAFKA__BROKERS`,
//! `FEEDLOOP_INGEST__LIMITS__MAX_EVENT_BYTES`. Loading fails at start with the
//! offending key and what was expected.

use anyhow::bail;
use feedloop_server::config::Config;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use std::collections::BTreeMap;
use std::path::Path;

/// The config as a file: read from TOML and the environment, written back as
/// TOML with its secrets hidden. `use feedloop_cli::config::ConfigFile` brings
/// `Config::load` into scope.
pub trait ConfigFile: Sized {
    /// Loads `path` (when given) over the defaults, then `FEEDLOOP_…` variables,
    /// then validates.
    fn load(path: Option<&Path>) -> anyhow::Result<Self>;

    /// The config as TOML with secret-looking values replaced by `<redacted>`.
    fn to_redacted_toml(&self) -> String;
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

impl ConfigFile for Config {
    fn load(path: Option<&Path>) -> anyhow::Result<Config> {
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

    fn to_redacted_toml(&self) -> String {
        let mut c = self.clone();
        for opts in [&mut c.kafka.options, &mut c.storage.options] {
            for (k, v) in opts.iter_mut() {
                if feedloop_kit::secrets::is_secret_option(k) {
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

/// The config as TOML. The `toml` crate (figment's own TOML dependency) writes
/// it: unset options are left out, `[[export.datasets]]` become arrays of
/// tables, and what it writes loads back to the same config.
fn toml_string(c: &Config) -> String {
    match toml::to_string(c) {
        Ok(s) => s,
        // Every field of Config is TOML-representable; this cannot happen
        // short of a bug, and then the reader sees why instead of a panic.
        Err(e) => format!("# the config could not be written as TOML: {e}\n"),
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

    /// What `feedloop validate --show` and the demo's `feedloop.toml` print
    /// loads back to the same config: unset options (`alerts.webhook`) are
    /// left out rather than written as `null`, and scheduled datasets are
    /// arrays of tables.
    #[test]
    fn the_written_toml_loads_back_to_the_same_config() {
        let text = "[alerts]\nk = 3.0\n[alerts.metrics.error_rate]\nconsecutive = 2\n\
                    [windows]\nsize = \"10m\"\n\
                    [[export.datasets]]\nname = \"wrong\"\nmodel = \"m\"\npolicy = \"wrong\"\nevery = \"1h\"\n";
        for c in [Config::default(), load_str(text).unwrap()] {
            let shown = c.to_redacted_toml();
            assert!(!shown.contains("null"), "{shown}");
            assert_eq!(load_str(&shown).unwrap(), c, "{shown}");
        }
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
