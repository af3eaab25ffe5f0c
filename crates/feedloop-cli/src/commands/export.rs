//! `feedloop export`: a retraining dataset from the landing zone.
//!
//! Progress goes to stderr (one line per step), the summary too; the last line
//! of stdout is the dataset URL (the folder holding `_manifest.json`), so
//! `url=$(feedloop export … | tail -1)` works.

use crate::cli::ExportArgs;
use anyhow::Context;
use feedloop_analytics::AnalyticsError;
use feedloop_datasets::{ExportRequest, Policy, count_policies, export_dataset};
use feedloop_server::config::Config;
use feedloop_storage::datasets::FailPoint;
use std::io::{IsTerminal, Write};

fn human_bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = n as f64;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < units.len() {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{x:.1} {}", units[u])
    }
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let config = super::load_config(args.config.as_deref())?;
    export_with(&config, args).await
}

pub async fn export_with(config: &Config, args: ExportArgs) -> anyhow::Result<()> {
    let usage = |m: String| anyhow::Error::new(super::UsageError(m));
    let storage = super::run::open_storage(config)?;
    let params = &args.params;
    let policy = Policy::from_params(args.policy, params).map_err(usage)?;
    let now_ms = chrono::Utc::now().timestamp_millis(); // the CLI's clock, read once at the edge
    let mut req = ExportRequest::new(args.model.clone(), policy, now_ms);
    req.name = args.name.clone();
    req.model_version = args.version.clone();
    req.since_ms = args.since;
    req.until_ms = args.until;
    // Crash-safety tests stop an export between its parts and its manifest.
    if std::env::var("FEEDLOOP_TEST_FAILPOINT").as_deref() == Ok("before_manifest") {
        req.fail_point = FailPoint::BeforeManifest;
    }
    let input_err = |e: AnalyticsError| match e {
        AnalyticsError::Input(m) | AnalyticsError::Query(m) => usage(m),
        e if e.is_input() => usage(e.to_string()),
        other => anyhow::Error::new(other),
    };

    if args.dry_run {
        let counts = count_policies(&storage, &config.export, &req, params)
            .await
            .map_err(input_err)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{:<12} {:>12}", "policy", "rows")?;
        for (policy, n) in counts {
            let mark = if policy == args.policy.as_str() {
                " *"
            } else {
                ""
            };
            writeln!(out, "{policy:<12} {n:>12}{mark}")?;
        }
        eprintln!(
            "dry run: nothing written (* = --policy {})",
            args.policy.as_str()
        );
        return Ok(());
    }

    let tty = std::io::stderr().is_terminal();
    let progress = move |msg: &str| {
        let mut e = std::io::stderr().lock();
        if tty {
            // One status line, rewritten in place.
            let _ = write!(e, "\r\x1b[2Kexport: {msg}");
            let _ = e.flush();
        } else {
            let _ = writeln!(e, "export: {msg}");
        }
    };
    let outcome = export_dataset(&storage, &config.export, &req, &progress)
        .await
        .map_err(input_err)
        .context("export failed")?;
    if tty {
        eprintln!();
    }
    let m = &outcome.manifest;
    eprintln!(
        "{} dataset {}/{} version {}: {} rows, {} files, {}{}",
        if outcome.created {
            "exported"
        } else {
            "unchanged (already exported):"
        },
        m.model,
        m.name,
        m.version,
        m.row_count,
        m.files.len(),
        human_bytes(outcome.bytes),
        if m.notes.is_empty() {
            String::new()
        } else {
            format!(" — {}", m.notes.join("; "))
        }
    );
    println!("{}", outcome.url);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::ConfigFile;
    use feedloop_datasets::{PolicyKind, PrivacyRule};
    use feedloop_server::config::Config;

    fn load(toml: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("c.toml");
        std::fs::write(&p, toml)?;
        Config::load(Some(&p))
    }

    #[test]
    fn export_section_parses_validates_and_hides_the_key() {
        let c = load(
            "[export]\nrows_per_part = 10\n[export.feedback]\nabs_tolerance = 0.5\nhorizon = \"3days\"\n\
             [export.privacy]\nhash_key = \"s3cret\"\n[export.privacy.features]\nemail = \"drop\"\nuser = \"hash\"\n\
             [[export.datasets]]\nname = \"daily\"\nmodel = \"spam\"\npolicy = \"sample\"\nrate = 0.1\nevery = \"1day\"\n",
        )
        .unwrap();
        assert_eq!(c.export.rows_per_part, 10);
        assert_eq!(c.export.feedback.abs_tolerance, 0.5);
        assert_eq!(
            c.export.feedback.horizon,
            std::time::Duration::from_secs(3 * 86400)
        );
        assert_eq!(c.export.privacy.features["user"], PrivacyRule::Hash);
        assert_eq!(c.export.datasets[0].policy, PolicyKind::Sample);
        assert!(!c.to_redacted_toml().contains("s3cret"));

        for (toml, needle) in [
            (
                "[[export.datasets]]\nname = \"d\"\nmodel = \"m\"\npolicy = \"sample\"\nevery = \"1h\"\n",
                "rate",
            ),
            (
                "[[export.datasets]]\nname = \"d\"\nmodel = \"m\"\npolicy = \"best\"\nevery = \"1h\"\n",
                "policy",
            ),
            ("[export.privacy.tags]\nuser = \"hash\"\n", "hash_key"),
            ("[export.feedback]\nrel_tolerance = -1.0\n", "rel_tolerance"),
        ] {
            let err = format!("{:#}", load(toml).unwrap_err());
            assert!(err.contains(needle), "{toml}: {err}");
        }
    }
}
