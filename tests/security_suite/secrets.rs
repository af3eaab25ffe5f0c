//! Secrets stay out of everything the `feedloop` binary prints: the SASL
//! password and other `[kafka.options]` secrets, the S3 keys of
//! `[storage.options]`, the HTTP API token and the export hash key never appear
//! on stdout or stderr — through `validate`, config errors, a `run` that cannot
//! reach its broker (at trace level, with librdkafka's own debug logging on), a
//! query against an S3 endpoint that refuses it, misspelt secret options that
//! librdkafka rejects, environment overrides, and every `--help`.

use feedloop_cli::config::ConfigFile;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SASL_PASSWORD: &str = "SaslPw-Zq81x-never-print";
const SSL_KEY_PASSWORD: &str = "SslKeyPw-Vb27k-never-print";
const AWS_SECRET: &str = "AwsSecret-Hm44p-never-print";
const HTTP_TOKEN: &str = "HttpToken-Rt90c-never-print";
const HASH_KEY: &str = "HashKey-Lw63d-never-print";
/// Secrets as they might be written unquoted: all digits.
const NUMERIC_PASSWORD: &str = "918273645546";
const NUMERIC_TOKEN: &str = "5550123987";
const NUMERIC_HASH_KEY: &str = "31415926535";

/// Every secret value a test may have configured.
const SECRETS: [&str; 8] = [
    SASL_PASSWORD,
    SSL_KEY_PASSWORD,
    AWS_SECRET,
    HTTP_TOKEN,
    HASH_KEY,
    NUMERIC_PASSWORD,
    NUMERIC_TOKEN,
    NUMERIC_HASH_KEY,
];

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_feedloop"))
}

/// A `feedloop` command with a clean `FEEDLOOP_*`/`RUST_LOG` environment.
fn feedloop(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("FEEDLOOP_") || k == "RUST_LOG" || k.starts_with("AWS_") {
            c.env_remove(k);
        }
    }
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    feedloop(args, env).output().expect("cannot run feedloop")
}

fn text(o: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Neither stream holds any secret (nor a recognisable piece of one).
#[track_caller]
fn assert_no_secret(what: &str, out: &Output) {
    let all = text(out);
    for s in SECRETS {
        assert!(!all.contains(s), "{what}: secret `{s}` printed:\n{all}");
        // A quoted or split-up fragment would still give it away.
        let frag = &s[..s.len().min(10)];
        assert!(!all.contains(frag), "{what}: part of `{s}` printed:\n{all}");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    free_port()
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), crate::TEST_CA_PEM).unwrap();
        Setup { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, toml: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, toml).unwrap();
        p.to_str().unwrap().to_string()
    }

    /// A config with every kind of secret, TLS and SASL on, a broker that is
    /// not there, and local storage.
    fn full_config(&self, extra: &str) -> String {
        format!(
            r#"[kafka]
brokers = "127.0.0.1:{port}"
group_id = "security-test"

[kafka.options]
"security.protocol" = "SASL_SSL"
"sasl.mechanisms" = "SCRAM-SHA-512"
"sasl.username" = "feedloop-user"
"sasl.password" = "{SASL_PASSWORD}"
"ssl.ca.location" = "{ca}"
"ssl.key.password" = "{SSL_KEY_PASSWORD}"
"debug" = "all"
"reconnect.backoff.ms" = "50"

[storage]
url = "{data}"

[storage.options]
aws_secret_access_key = "{AWS_SECRET}"

[http]
token = "{HTTP_TOKEN}"

[export.privacy]
hash_key = "{HASH_KEY}"

[log]
level = "trace"
{extra}
"#,
            port = closed_port(),
            ca = self.path("ca.pem").display(),
            data = self.path("data").display(),
        )
    }
}

#[test]
fn validate_never_prints_secrets_from_the_file_or_the_environment() {
    let s = Setup::new();
    let cfg = s.write("full.toml", &s.full_config(""));
    for format in ["human", "json"] {
        let out = run(
            &["--log-format", format, "validate", "--config", &cfg],
            &[("RUST_LOG", "trace")],
        );
        assert!(out.status.success(), "{}", text(&out));
        assert_no_secret("validate", &out);
        let shown = String::from_utf8_lossy(&out.stdout);
        // The secrets were read (and redacted), not dropped; the rest is shown.
        assert!(
            shown.matches("<redacted>").count() >= 5,
            "expected five redacted values:\n{shown}"
        );
        assert!(
            shown.contains("SASL_SSL") && shown.contains("feedloop-user"),
            "{shown}"
        );
    }

    // The same secrets from `FEEDLOOP_…` variables, over a file without them.
    let plain = s.write("plain.toml", "[kafka]\nbrokers = \"b:9092\"\n");
    let env = [
        ("RUST_LOG", "trace"),
        ("FEEDLOOP_HTTP__TOKEN", HTTP_TOKEN),
        (
            "FEEDLOOP_STORAGE__OPTIONS__AWS_SECRET_ACCESS_KEY",
            AWS_SECRET,
        ),
        ("FEEDLOOP_EXPORT__PRIVACY__HASH_KEY", HASH_KEY),
    ];
    let out = run(&["validate", "--config", &plain], &env);
    assert!(out.status.success(), "{}", text(&out));
    assert_no_secret("validate with env secrets", &out);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(shown.matches("<redacted>").count(), 3, "{shown}");

    // All-digit secrets: the environment provider reads them as numbers, TOML
    // when unquoted. They are text to feedloop, never quoted in a type error.
    let numeric = s.write(
        "numeric.toml",
        &format!("[kafka.options]\n\"sasl.password\" = {NUMERIC_PASSWORD}\n"),
    );
    let out = run(
        &["validate", "--config", &numeric],
        &[
            ("FEEDLOOP_HTTP__TOKEN", NUMERIC_TOKEN),
            ("FEEDLOOP_EXPORT__PRIVACY__HASH_KEY", NUMERIC_HASH_KEY),
            ("RUST_LOG", "trace"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_no_secret("validate with numeric secrets", &out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("<redacted>")
            .count(),
        3,
        "{}",
        text(&out)
    );
}

#[test]
fn config_errors_never_quote_secrets() {
    let s = Setup::new();
    let cases = [
        // Another key is wrong: the error names it, and only it.
        (
            s.full_config("[ingest]\nflush_interval = \"soon\"\n"),
            "ingest.flush_interval",
        ),
        // Secrets of the wrong shape.
        (
            format!("[http]\ntoken = [\"{HTTP_TOKEN}\"]\n"),
            "http.token",
        ),
        (
            format!("[kafka.options]\n\"sasl.password\" = {{ v = \"{SASL_PASSWORD}\" }}\n"),
            "kafka.options",
        ),
        (
            format!("[storage.options]\naws_secret_access_key = [\"{AWS_SECRET}\"]\n"),
            "storage.options",
        ),
        // A secret in the wrong section.
        (
            format!("[kafka]\nsasl_password = \"{SASL_PASSWORD}\"\n"),
            "sasl_password",
        ),
    ];
    for (i, (toml, key)) in cases.iter().enumerate() {
        let cfg = s.write(&format!("bad{i}.toml"), toml);
        for cmd in ["validate", "run", "query"] {
            let mut args = vec![cmd, "--config", &cfg];
            if cmd == "query" {
                args.push("SELECT 1");
            }
            let out = run(&args, &[("RUST_LOG", "trace")]);
            assert_eq!(out.status.code(), Some(2), "{cmd} {toml}: {}", text(&out));
            assert!(
                String::from_utf8_lossy(&out.stderr).contains(key),
                "{cmd} {toml}: {}",
                text(&out)
            );
            assert_no_secret(&format!("{cmd} with {toml}"), &out);
        }
    }
    // From the environment, with an all-digit secret next to a bad value.
    let plain = s.write("plain.toml", "");
    let out = run(
        &["run", "--config", &plain],
        &[
            ("FEEDLOOP_HTTP__TOKEN", NUMERIC_TOKEN),
            (
                "FEEDLOOP_STORAGE__OPTIONS__AWS_SECRET_ACCESS_KEY",
                AWS_SECRET,
            ),
            ("FEEDLOOP_INGEST__FLUSH_MAX_EVENTS", "lots"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ingest.flush_max_events"));
    assert_no_secret("run with a bad env value", &out);
}

/// librdkafka rejects a misspelt option when a client is created, and rdkafka's
/// error message ends with the rejected value: a misspelt secret key would
/// print the secret. Each client (the ingest consumer, the alerts producer,
/// `feedloop produce`'s producer) reports the key without the value.
#[test]
fn a_misspelt_secret_option_is_named_but_not_printed() {
    let s = Setup::new();
    let data = s.path("data");
    let base = |windows: bool| {
        format!(
            "[kafka]\nbrokers = \"127.0.0.1:{}\"\n[kafka.options]\n\"sasl.pasword\" = \"{SASL_PASSWORD}\"\n\
             [storage]\nurl = \"{}\"\n[windows]\nenabled = {windows}\n[log]\nlevel = \"trace\"\n",
            closed_port(),
            data.display()
        )
    };
    let consumer = s.write("typo-consumer.toml", &base(false));
    let alerts = s.write("typo-alerts.toml", &base(true));
    let events = s.path("events.jsonl");
    std::fs::write(&events, "{\"prediction_id\": \"p\"}\n").unwrap();
    let runs = [
        ("ingest consumer", vec!["run", "--config", &consumer]),
        ("alerts producer", vec!["run", "--config", &alerts]),
        (
            "produce",
            vec![
                "produce",
                "--config",
                &consumer,
                "--topic",
                "predictions",
                events.to_str().unwrap(),
            ],
        ),
    ];
    for (what, args) in runs {
        let mut child = feedloop(&args, &[("RUST_LOG", "trace")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait_or_kill(&mut child, Duration::from_secs(60));
        assert!(!out.status.success(), "{what}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("sasl.pasword"),
            "{what} must name the key: {err}"
        );
        assert_no_secret(what, &out);
    }
}

/// Waits for `child` up to `limit`, then kills it; returns its output.
fn wait_or_kill(child: &mut std::process::Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if child.try_wait().unwrap().is_none() {
        let _ = child.kill();
    }
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    if let Some(mut o) = child.stdout.take() {
        o.read_to_end(&mut stdout).unwrap();
    }
    if let Some(mut e) = child.stderr.take() {
        e.read_to_end(&mut stderr).unwrap();
    }
    Output {
        status: child.wait().unwrap(),
        stdout,
        stderr,
    }
}

/// `feedloop run` with every secret configured, at trace level with
/// librdkafka's `debug = all`, against a broker that is not there (SASL over
/// TLS), the window job, scheduled exports and the HTTP API on: seconds of
/// connection errors and retries, then SIGTERM. Nothing it logs holds a secret.
#[test]
fn run_at_trace_level_with_a_missing_broker_logs_no_secret() {
    let s = Setup::new();
    let http_port = free_port();
    let extra = "[windows]\nenabled = true\npoll_interval = \"100ms\"\n\n\
         [[export.datasets]]\nname = \"d\"\nmodel = \"m\"\npolicy = \"corrected\"\nevery = \"1s\"\n";
    let toml = s.full_config(extra).replace(
        "token = ",
        &format!("listen = \"127.0.0.1:{http_port}\"\nenabled = true\ntoken = "),
    );
    let cfg = s.write("run.toml", &toml);
    for format in ["human", "json"] {
        let mut child = feedloop(
            &["--log-format", format, "run", "--config", &cfg],
            &[("RUST_LOG", "trace")],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        // Drain stderr while it runs (trace output fills a pipe quickly).
        let stderr = child.stderr.take().unwrap();
        let collected = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&collected);
        let reader = std::thread::spawn(move || {
            let mut stderr = stderr;
            let mut buf = [0u8; 65536];
            loop {
                match stderr.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.lock().unwrap().extend_from_slice(&buf[..n]),
                }
            }
        });
        // Let it try the broker, the API, the window job and the exports.
        std::thread::sleep(Duration::from_secs(4));
        let api = http_get(http_port, "/api/v1/datasets", None);
        assert!(api.starts_with("HTTP/1.1 401"), "{api}");
        let api = http_get(http_port, "/api/v1/datasets", Some(HTTP_TOKEN));
        assert!(api.starts_with("HTTP/1.1 200"), "{api}");
        std::thread::sleep(Duration::from_secs(2));
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let mut out = wait_or_kill(&mut child, Duration::from_secs(30));
        reader.join().unwrap();
        out.stderr = collected.lock().unwrap().clone();
        assert_no_secret(&format!("run ({format})"), &out);
        // The run did log at trace level, librdkafka's debug lines included.
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("ingest started"), "{err}");
        assert!(
            err.contains("librdkafka"),
            "no librdkafka debug output:\n{err}"
        );
        // librdkafka dumped its configuration, secrets included, as redacted.
        assert!(err.contains("sasl.password = [redacted]"), "{err}");
        assert!(err.contains("ssl.key.password = [redacted]"), "{err}");
        assert!(err.lines().count() > 100, "{err}");
    }
}

/// A plain HTTP/1.1 GET; returns the whole answer.
fn http_get(port: u16, path: &str, token: Option<&str>) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut s = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) if Instant::now() > deadline => panic!("HTTP API not up: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// A fake S3 endpoint that records request heads and refuses every request.
fn refusing_s3() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match conn.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).into_owned());
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>\
                        <Message>Access Denied</Message></Error>";
            let _ = write!(
                conn,
                "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, seen)
}

/// S3 credentials are used (the requests are signed with them) but never
/// printed, whether they come from `[storage.options]` or the environment,
/// when the store refuses `query` and `export`.
#[test]
fn s3_credentials_are_used_but_never_printed() {
    let s = Setup::new();
    let (port, seen) = refusing_s3();
    let access_key_id = "AKIAFEEDLOOPSECTEST";
    let with_options = s.write(
        "s3.toml",
        &format!(
            "[storage]\nurl = \"s3://bucket/prefix\"\n[storage.options]\n\
             aws_endpoint = \"http://127.0.0.1:{port}\"\naws_allow_http = \"true\"\n\
             aws_region = \"us-east-1\"\naws_access_key_id = \"{access_key_id}\"\n\
             aws_secret_access_key = \"{AWS_SECRET}\"\n[log]\nlevel = \"trace\"\n"
        ),
    );
    let from_env = s.write(
        "s3-env.toml",
        &format!(
            "[storage]\nurl = \"s3://bucket/prefix\"\n[storage.options]\n\
             aws_endpoint = \"http://127.0.0.1:{port}\"\naws_allow_http = \"true\"\n\
             aws_region = \"us-east-1\"\n"
        ),
    );
    let env_secrets = [
        ("RUST_LOG", "trace"),
        ("AWS_ACCESS_KEY_ID", access_key_id),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET),
    ];
    let option_secrets = [
        ("RUST_LOG", "trace"),
        (
            "FEEDLOOP_STORAGE__OPTIONS__AWS_SECRET_ACCESS_KEY",
            AWS_SECRET,
        ),
    ];
    let cases: [(&str, &[(&str, &str)]); 3] = [
        (&with_options, &[("RUST_LOG", "trace")]),
        (&from_env, &env_secrets),
        (&with_options, &option_secrets),
    ];
    for (cfg, env) in cases {
        for args in [
            vec!["query", "--config", cfg, "SELECT count(*) FROM predictions"],
            vec![
                "export",
                "--config",
                cfg,
                "--model",
                "m",
                "--policy",
                "corrected",
            ],
        ] {
            let mut child = feedloop(&args, env)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let out = wait_or_kill(&mut child, Duration::from_secs(120));
            assert!(!out.status.success(), "{args:?}: {}", text(&out));
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("403"),
                "{args:?}: the store's refusal is reported: {}",
                text(&out)
            );
            assert_no_secret(&format!("{args:?}"), &out);
        }
    }
    let heads = seen.lock().unwrap().clone();
    assert!(!heads.is_empty(), "no request reached the fake S3");
    assert!(
        heads
            .iter()
            .all(|h| h.contains(&format!("Credential={access_key_id}/"))),
        "every request is signed with the configured key: {heads:#?}"
    );
    // SigV4 never sends the secret itself.
    assert!(heads.iter().all(|h| !h.contains(AWS_SECRET)));
}

/// Every `--help` (the top level, each subcommand, `help <cmd>`), with every
/// secret in the environment and `FEEDLOOP_CONFIG` naming a file full of them.
#[test]
fn help_never_shows_secrets() {
    let s = Setup::new();
    let cfg = s.write("full.toml", &s.full_config(""));
    let env = [
        ("FEEDLOOP_CONFIG", cfg.as_str()),
        ("FEEDLOOP_HTTP__TOKEN", HTTP_TOKEN),
        ("FEEDLOOP_KAFKA__OPTIONS__SASL_PASSWORD", SASL_PASSWORD),
        (
            "FEEDLOOP_STORAGE__OPTIONS__AWS_SECRET_ACCESS_KEY",
            AWS_SECRET,
        ),
        ("FEEDLOOP_EXPORT__PRIVACY__HASH_KEY", HASH_KEY),
        ("FEEDLOOP_LOG_FORMAT", "json"),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET),
        ("RUST_LOG", "trace"),
    ];
    let top = run(&["--help"], &env);
    assert!(top.status.success(), "{}", text(&top));
    assert_no_secret("--help", &top);
    // The subcommands, as the top-level help lists them.
    let help = String::from_utf8_lossy(&top.stdout).into_owned();
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // Command names are indented by two; wrapped descriptions by more.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    for c in [
        "run", "demo", "produce", "query", "drift", "export", "validate",
    ] {
        assert!(commands.contains(&c), "{c} missing from {commands:?}");
    }
    for c in &commands {
        for args in [vec![*c, "--help"], vec![*c, "-h"], vec!["help", *c]] {
            let out = run(&args, &env);
            assert!(out.status.success(), "{args:?}: {}", text(&out));
            assert!(!out.stdout.is_empty(), "{args:?}");
            assert_no_secret(&format!("{args:?}"), &out);
        }
    }
    let out = run(&["--version"], &env);
    assert_no_secret("--version", &out);
}

/// The config structs that carry secrets print them as `<redacted>` with
/// `{:?}`, so a debug log line or an error holding one cannot leak them.
#[test]
fn debug_printing_of_config_sections_redacts_secrets() {
    let s = Setup::new();
    let cfg = s.write("full.toml", &s.full_config(""));
    let config = feedloop_server::config::Config::load(Some(Path::new(&cfg))).unwrap();
    assert_eq!(config.kafka.options["sasl.password"], SASL_PASSWORD);
    assert_eq!(config.http.token.as_deref(), Some(HTTP_TOKEN));
    for shown in [
        format!("{:?}", config.kafka),
        format!("{:#?}", config.kafka),
        format!("{:?}", config.http),
        format!("{:?}", config.export),
        format!("{:?}", config.export.privacy),
    ] {
        for secret in SECRETS {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
    assert!(format!("{:?}", config.kafka).contains("SASL_SSL"));
    assert!(format!("{:?}", config.http).contains("<redacted>"));
}

/// Unquoted all-digit secrets load as exactly their text (what librdkafka, the
/// API and the HMAC then use), not as numbers or errors.
#[test]
fn numeric_secrets_load_as_their_text() {
    let s = Setup::new();
    let cfg = s.write(
        "numeric.toml",
        &format!(
            "[kafka.options]\n\"sasl.password\" = {NUMERIC_PASSWORD}\n\"session.timeout.ms\" = 45000\n\
             [http]\ntoken = {NUMERIC_TOKEN}\n[export.privacy]\nhash_key = {NUMERIC_HASH_KEY}\n"
        ),
    );
    let config = feedloop_server::config::Config::load(Some(Path::new(&cfg))).unwrap();
    assert_eq!(config.kafka.options["sasl.password"], NUMERIC_PASSWORD);
    assert_eq!(config.kafka.options["session.timeout.ms"], "45000");
    assert_eq!(config.http.token.as_deref(), Some(NUMERIC_TOKEN));
    assert_eq!(
        config.export.privacy.hash_key.as_deref(),
        Some(NUMERIC_HASH_KEY)
    );
}

/// An all-digit secret in `[storage.options]` (from the file or a `FEEDLOOP_…`
/// variable, which figment reads as a number) must be taken as text, not
/// rejected by a type error that quotes it.
#[test]

fn numeric_storage_secrets_are_never_quoted() {
    let s = Setup::new();
    let numeric = s.write(
        "numeric-storage.toml",
        &format!("[storage.options]\naws_secret_access_key = {NUMERIC_PASSWORD}\n"),
    );
    let out = run(&["validate", "--config", &numeric], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_no_secret("numeric storage secret in the file", &out);
    let plain = s.write("plain.toml", "");
    let out = run(
        &["validate", "--config", &plain],
        &[(
            "FEEDLOOP_STORAGE__OPTIONS__AWS_SECRET_ACCESS_KEY",
            NUMERIC_PASSWORD,
        )],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_no_secret("numeric storage secret from the environment", &out);
}

/// Secrets usually come from the environment, but librdkafka's option names
/// have dots, which `FEEDLOOP_KAFKA__OPTIONS__SASL.PASSWORD` cannot carry
/// (figment splits it into `sasl` → `password`) and
/// `FEEDLOOP_KAFKA__OPTIONS__SASL_PASSWORD` sets a `sasl_password` option that
/// librdkafka rejects. The underscore form should set `sasl.password`.
#[test]

fn the_sasl_password_can_come_from_the_environment() {
    let s = Setup::new();
    let plain = s.write("plain.toml", "");
    let out = run(
        &["validate", "--config", &plain],
        &[("FEEDLOOP_KAFKA__OPTIONS__SASL_PASSWORD", SASL_PASSWORD)],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_no_secret("sasl.password from the environment", &out);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("\"sasl.password\" = \"<redacted>\""),
        "{shown}"
    );
}
