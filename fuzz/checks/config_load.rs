// Invariants of the config loader `feedloop_cli::config::ConfigFile::load`, shared
// (via `include!`) by the fuzz target `fuzz/fuzz_targets/config_load.rs` and the
// regression test `crates/feedloop-cli/tests/fuzz_regressions.rs`. No inner
// attributes or `//!` comments, so it can be included anywhere.
//
// Input: the text of a config file. Lines of the form `#env NAME=VALUE` (TOML
// comments, so the file stays valid TOML) also set the environment variable
// `FEEDLOOP_NAME` (the prefix is added when missing) for the load, so the
// `FEEDLOOP_…__…` overrides are fuzzed too.
//
// `Config::load` reads a file, so the text is written to a temporary file first
// (the loader is not rewritten for the fuzzer). Every other `FEEDLOOP_…__…`
// variable is removed from the process environment first, so results do not
// depend on the caller's environment. Not thread-safe: one caller at a time.
//
// Checked:
// * `Config::load` never panics;
// * `Ok(config)`: `config.validate()` agrees, `to_redacted_toml()` does not
//   panic and its output does not depend on any secret value (options whose
//   key `feedloop_kit::secrets::is_secret_option` calls secret, the HTTP
//   token, the export hash key), and loading again gives the same config;
// * `Err(e)`: the message is non-empty and names a key in backticks, unless the
//   file is not UTF-8 or not TOML at all (then it names the file).

use feedloop_cli::config::ConfigFile;
use feedloop_kit::secrets::is_secret_option;
use feedloop_server::config::Config;
use std::path::{Path, PathBuf};

/// The environment overrides an input sets: `#env NAME=VALUE` lines.
pub fn env_overrides(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("#env "))
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let k = k.trim();
            let k = if k.starts_with("FEEDLOOP_") {
                k.to_string()
            } else {
                format!("FEEDLOOP_{k}")
            };
            // What `std::env::set_var` accepts.
            let ok = !k.contains(['=', '\0']) && !v.contains('\0');
            ok.then(|| (k, v.to_string()))
        })
        .collect()
}

fn scratch_file() -> PathBuf {
    std::env::temp_dir().join(format!("feedloop-fuzz-config-{}.toml", std::process::id()))
}

fn load_with_env(path: &Path, env: &[(String, String)]) -> Result<Config, String> {
    let stale: Vec<_> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("FEEDLOOP_") && k.contains("__"))
        .collect();
    // SAFETY: single-threaded by contract (libFuzzer runs one input at a time; the
    // regression test is the only test of its binary).
    unsafe {
        for k in stale {
            std::env::remove_var(k);
        }
        for (k, v) in env {
            std::env::set_var(k, v);
        }
    }
    let result = Config::load(Some(path)).map_err(|e| format!("{e:#}"));
    unsafe {
        for (k, _) in env {
            std::env::remove_var(k);
        }
    }
    result
}

/// Whether `msg` names something in backticks, e.g. `` `ingest.flush_interval` ``.
fn names_a_key(msg: &str) -> bool {
    let parts: Vec<&str> = msg.split('`').collect();
    (1..parts.len().saturating_sub(1))
        .step_by(2)
        .any(|i| !parts[i].trim().is_empty())
}

/// Checks every invariant for one input; panics (with the reason) when one breaks.
pub fn check_config(data: &[u8]) {
    let text = std::str::from_utf8(data).ok();
    let env = text.map(env_overrides).unwrap_or_default();
    let path = scratch_file();
    std::fs::write(&path, data).expect("write the scratch config file");
    let result = load_with_env(&path, &env);
    match &result {
        Ok(config) => {
            if let Err(e) = config.validate() {
                panic!("loaded a config that does not validate: {e:#}");
            }
            let shown = config.to_redacted_toml();
            check_redacted(config, &shown);
            let again = load_with_env(&path, &env);
            assert_eq!(again.as_ref(), Ok(config), "loading is not deterministic");
        }
        Err(msg) => {
            assert!(!msg.trim().is_empty(), "empty error");
            let toml = text.map(|t| {
                figment::Figment::from(
                    <figment::providers::Toml as figment::providers::Format>::string(t),
                )
                .extract::<figment::value::Dict>()
                .is_ok()
            });
            if toml == Some(true) {
                assert!(
                    names_a_key(msg),
                    "the error names no key: {msg}\n--- input ---\n{}",
                    String::from_utf8_lossy(data)
                );
            } else {
                // Not UTF-8 or not TOML: no key to name; the error says which file.
                assert!(
                    msg.contains(&*path.to_string_lossy()) || msg.contains("UTF-8"),
                    "a syntax error that names neither key nor file: {msg}"
                );
            }
        }
    }
    let _ = std::fs::remove_file(&path);
}

fn check_redacted(config: &Config, shown: &str) {
    // What the output must be: the same config with every secret value replaced
    // by the marker. Equal outputs mean the secrets' values cannot show.
    let mut masked = config.clone();
    for opts in [&mut masked.kafka.options, &mut masked.storage.options] {
        for (k, v) in opts.iter_mut() {
            if is_secret_option(k) {
                *v = "<redacted>".into();
            }
        }
    }
    for s in [&mut masked.http.token, &mut masked.export.privacy.hash_key] {
        if s.is_some() {
            *s = Some("<redacted>".into());
        }
    }
    assert_eq!(
        shown,
        masked.to_redacted_toml(),
        "to_redacted_toml depends on a secret value"
    );
}
