//! The `feedloop` binary's surface: help, config errors that name the key,
//! environment overrides, secrets kept out of output, `validate`, `query` formats.

mod harness;

use std::process::{Command, Output};

fn feedloop(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(harness::feedloop_bin());
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("cannot run feedloop")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_lists_every_command() {
    let out = feedloop(&["--help"], &[]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for cmd in ["run", "demo", "produce", "query", "validate"] {
        assert!(help.contains(cmd), "{help}");
    }
    let out = feedloop(&["run", "--help"], &[]);
    assert!(text(&out.stdout).contains("FEEDLOOP_"));
}

#[test]
fn bad_config_fails_at_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[ingest]\nflush_max_events = \"many\"\n",
            "ingest.flush_max_events",
        ),
        ("[kafka]\nbrokers = \"\"\n", "kafka.brokers"),
        ("[storage]\nurl = \"ftp://nowhere/x\"\n", "storage.url"),
        (
            "[kafka.topics]\ndead_letter = \"predictions\"\n",
            "kafka.topics.dead_letter",
        ),
        ("[ingest]\nunknown_key = 1\n", "unknown_key"),
    ];
    for (i, (toml, key)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("c{i}.toml"));
        std::fs::write(&path, format!("{toml}\n[log]\nlevel = \"warn\"\n")).unwrap();
        let out = feedloop(&["run", "--config", path.to_str().unwrap()], &[]);
        assert_eq!(out.status.code(), Some(2), "{toml}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(key),
            "{toml}: {}",
            text(&out.stderr)
        );
    }
    let out = feedloop(&["run", "--config", "/no/such/feedloop.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not found"));
}

#[test]
fn environment_overrides_every_key_and_secrets_stay_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[kafka]\nbrokers = \"file:9092\"\n[kafka.options]\n\"sasl.password\" = \"s3cr3t-pw\"\n",
    )
    .unwrap();
    let out = feedloop(
        &["validate", "--config", path.to_str().unwrap()],
        &[
            ("FEEDLOOP_KAFKA__BROKERS", "env-host:9092"),
            ("FEEDLOOP_INGEST__LIMITS__MAX_TAGS", "7"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("brokers = \"env-host:9092\""), "{shown}");
    assert!(shown.contains("max_tags = 7"), "{shown}");
    assert!(!shown.contains("s3cr3t-pw"), "{shown}");
    let out = feedloop(
        &["validate", "--config", path.to_str().unwrap()],
        &[("FEEDLOOP_INGEST__FLUSH_INTERVAL", "whenever")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("ingest.flush_interval"),
        "{}",
        text(&out.stderr)
    );
    let help = text(
        &feedloop(
            &["run", "--help"],
            &[("FEEDLOOP_KAFKA__OPTIONS__SASL_PASSWORD", "s3cr3t-pw")],
        )
        .stdout,
    );
    assert!(!help.contains("s3cr3t-pw"));
}

#[test]
fn validate_events_reports_each_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"prediction_id":"a","model":"m","model_version":"v","ts":0,"output":{"label":"x"}}"#, "\n",
            r#"{"prediction_id":"b","model":"m m","model_version":"v","ts":0,"output":{"label":"x"}}"#, "\n",
            "\n",
            r#"{"prediction_id":"c","model":"m","model_version":"v","ts":"noon","output":{"label":"x"}}"#, "\n",
        ),
    )
    .unwrap();
    let out = feedloop(
        &[
            "validate",
            "--events",
            path.to_str().unwrap(),
            "--stream",
            "predictions",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let s = text(&out.stdout);
    assert!(s.contains("line 2: field `model`"), "{s}");
    assert!(s.contains("line 4: field `ts`"), "{s}");
    assert!(s.contains("1 valid, 2 invalid"), "{s}");
    let out = feedloop(&["validate", "--print-schema", "latency"], &[]);
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "feedloop latency event, version 1");
}

#[test]
fn query_formats_on_an_empty_landing_zone_and_sql_errors() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("FEEDLOOP_STORAGE__URL", dir.path().to_str().unwrap())];
    let out = feedloop(
        &[
            "query",
            "--format",
            "csv",
            "SELECT prediction_id, ts FROM predictions",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "prediction_id,ts\n");
    let out = feedloop(
        &[
            "query",
            "--format",
            "json",
            "SELECT count(*) AS n FROM latency",
        ],
        &env,
    );
    assert_eq!(text(&out.stdout).trim(), r#"[{"n":0}]"#);
    let out = feedloop(&["query", "SELECT nope FROM predictions"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("nope"), "{}", text(&out.stderr));
}

#[test]
fn drift_sketch_mode_marks_estimates_and_checks_the_sketch_size() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("ref.csv");
    let c = dir.path().join("cur.csv");
    let mut rb = String::from("x,color\n");
    let mut cb = String::from("x,color\n");
    // 20 000 distinct values a side (a KLL sketch of k = 1000 compacts), and
    // two colours.
    for i in 0..20_000u64 {
        let x = ((i * 7919) % 20_011) as f64 / 100.0;
        let color = ["red", "blue"][(i % 2) as usize];
        rb.push_str(&format!("{x},{color}\n"));
        cb.push_str(&format!("{},{color}\n", x + 30.0));
    }
    std::fs::write(&r, rb).unwrap();
    std::fs::write(&c, cb).unwrap();
    let (rs, cs) = (r.to_str().unwrap(), c.to_str().unwrap());
    let base = ["drift", "--reference", rs, "--current", cs];

    let out = feedloop(
        &[&base[..], &["--sketch", "--format", "json"]].concat(),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let x = &v["columns"]["x"];
    assert_eq!(x["drift"], true);
    assert_eq!(x["estimate"]["k"], 1000, "{x}");
    let eps = x["estimate"]["rank_error"]["reference"].as_f64().unwrap();
    assert!(eps > 0.0 && eps < 0.003, "{x}");
    assert!(x["estimate"]["ks_statistic_bound"].as_f64().unwrap() > 0.0);
    let color = &v["columns"]["color"];
    assert_eq!(color["test"], "jensenshannon");
    assert!(color.get("estimate").is_none(), "{color}");
    // Without --sketch: exact, no estimate.
    let out = feedloop(&[&base[..], &["--format", "json"]].concat(), &[]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["columns"]["x"].get("estimate").is_none());

    // The table marks estimated scores; --sketch-k sets the size.
    let out = feedloop(&[&base[..], &["--sketch-k", "200"]].concat(), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains('≈') && table.contains("k = 200"), "{table}");

    // A size DataSketches does not accept fails before any work, naming the flag.
    let out = feedloop(&[&base[..], &["--sketch", "--sketch-k", "3"]].concat(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("--sketch-k") && err.contains("8..=65535"),
        "{err}"
    );
}

#[test]
fn drift_report_and_sql_drift_functions() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("ref.csv");
    let c = dir.path().join("cur.csv");
    let mut rb = String::from("x,color\n");
    let mut cb = String::from("x,color\n");
    for i in 0..200 {
        rb.push_str(&format!("{},{}\n", i as f64 / 10.0, ["red", "blue"][i % 2]));
        cb.push_str(&format!(
            "{},{}\n",
            5.0 + i as f64 / 10.0,
            ["red", "blue"][i % 2]
        ));
    }
    std::fs::write(&r, rb).unwrap();
    std::fs::write(&c, cb).unwrap();
    let out = feedloop(
        &[
            "drift",
            "--reference",
            r.to_str().unwrap(),
            "--current",
            c.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["n_reference"], 200);
    assert_eq!(v["columns"]["x"]["test"], "ks");
    assert_eq!(v["columns"]["x"]["drift"], true);
    assert_eq!(v["columns"]["color"]["test"], "z");
    assert_eq!(v["columns"]["color"]["drift"], false);
    assert_eq!(v["share_drifted"], 0.5);
    assert_eq!(v["dataset_drift"], true);
    let out = feedloop(
        &[
            "drift",
            "--reference",
            r.to_str().unwrap(),
            "--current",
            c.to_str().unwrap(),
            "--stattest",
            "x=psi",
            "--threshold",
            "x=100",
        ],
        &[],
    );
    let table = text(&out.stdout);
    assert!(table.contains("psi") && !table.contains("DRIFT"), "{table}");
    let out = feedloop(
        &[
            "drift",
            "--reference",
            r.to_str().unwrap(),
            "--current",
            c.to_str().unwrap(),
            "--stattest",
            "x=magic",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown test `magic`"));

    let env = [("FEEDLOOP_STORAGE__URL", dir.path().to_str().unwrap())];
    let out = feedloop(
        &[
            "query",
            "--format",
            "csv",
            "SELECT round(ks_2samp(v, c)['statistic'], 3) AS d FROM (VALUES (1.0, false), (2.0, false), (3.0, true), (4.0, true)) AS t(v, c)",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "d\n1.0\n");
}
