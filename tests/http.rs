//! The HTTP server of `feedloop run`, through the binary and a real broker:
//! `/metrics` (parsed), probes, the JSON API, `POST /api/v1/corrections`
//! end to end into the landing zone, the page at `/` (rendered by a headless
//! Chromium, which the suite needs: scripts/test installs it), and the
//! `deploy/` files.

mod harness;

use harness::prometheus::parse_prometheus;
use harness::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

fn http_config(
    dir: &Path,
    brokers: &str,
    storage: &Path,
    port: u16,
    token: Option<&str>,
) -> std::path::PathBuf {
    let path = write_config(dir, brokers, "http-test", storage, "200ms");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "[http]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\nmax_body_bytes = 4096\n"
    ));
    if let Some(t) = token {
        text.push_str(&format!("token = \"{t}\"\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn non_loopback_without_token_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[http]\nenabled = true\nlisten = \"0.0.0.0:9464\"\n").unwrap();
    let out = std::process::Command::new(feedloop_bin())
        .args(["run", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("http.listen"), "{err}");
    // And the token never shows when the config is printed.
    std::fs::write(
        &cfg,
        "[http]\nenabled = true\nlisten = \"0.0.0.0:9464\"\ntoken = \"hunter2hunter2\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(feedloop_bin())
        .args(["validate", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("[http]") && !shown.contains("hunter2"),
        "{shown}"
    );
}

#[test]
fn metrics_probes_api_and_corrections() {
    let broker = Nisshi::start();
    broker.create_feedloop_topics(2);
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("data");
    let port = free_port();
    let token = "t0ken-for-tests";
    let cfg = http_config(dir.path(), &broker.brokers, &storage, port, Some(token));
    let _proc = FeedloopProc::run(&cfg, &dir.path().join("feedloop.log"));
    let log = || std::fs::read_to_string(dir.path().join("feedloop.log")).unwrap_or_default();

    wait_http(port, "/healthz", 200, Duration::from_secs(30));
    let ready = wait_http(port, "/readyz", 200, Duration::from_secs(60));
    assert_eq!(json(&ready.body)["ready"], true);

    // /metrics parses, and every documented family is there. Ready may mean
    // a standby for a moment (a first group generation can hand out nothing):
    // scrape until the partitions are assigned.
    wait_until(Duration::from_secs(30), || {
        let m = http(port, "GET", "/metrics", None, None);
        parse_prometheus(&m.body)
            .1
            .iter()
            .any(|s| s.0 == "feedloop_assigned_partitions" && s.2 >= 1.0)
    });
    let m = http(port, "GET", "/metrics", None, None);
    assert_eq!(m.status, 200);
    assert!(
        m.headers.contains("text/plain; version=0.0.4"),
        "{}",
        m.headers
    );
    let (types, samples) = parse_prometheus(&m.body);
    for name in feedloop_server::http::prom::METRIC_NAMES {
        assert!(
            types.contains_key(*name),
            "{name} missing from /metrics:\n{}",
            m.body
        );
    }
    let streams: BTreeSet<_> = samples
        .iter()
        .filter(|s| s.0 == "feedloop_events_consumed_total")
        .map(|s| s.1["stream"].clone())
        .collect();
    assert_eq!(
        streams,
        ["corrections", "latency", "predictions"]
            .map(String::from)
            .into()
    );
    assert!(
        samples
            .iter()
            .any(|s| s.0 == "feedloop_assigned_partitions" && s.2 >= 1.0)
    );
    assert!(
        samples
            .iter()
            .any(|s| s.0 == "feedloop_alert_deliveries_total" && s.1["outcome"] == "sent")
    );
    // The single instance holds the jobs lease; histograms are complete families.
    let value = |name: &str| {
        samples
            .iter()
            .find(|s| s.0 == name && s.1.is_empty())
            .map(|s| s.2)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    for h in [
        "feedloop_flush_duration_seconds",
        "feedloop_window_job_duration_seconds",
    ] {
        assert_eq!(types[h], "histogram");
        let inf = samples
            .iter()
            .find(|s| s.0 == format!("{h}_bucket") && s.1["le"] == "+Inf")
            .map(|s| s.2);
        assert_eq!(inf, Some(value(&format!("{h}_count"))), "{h}");
    }
    assert!(
        wait_until(Duration::from_secs(30), || {
            let m = http(port, "GET", "/metrics", None, None);
            m.body.contains("\nfeedloop_jobs_lease_held 1\n")
        }),
        "the only instance never took the jobs lease:\n{}",
        log()
    );
    check_deploy_files(&types);

    // Auth.
    let good = r#"[{"prediction_id":"p-1","ts":1795392000000,"label":"spam","source":"user"},{"prediction_id":"p-2","ts":"2026-11-23T00:00:00Z","value":3.5}]"#;
    assert_eq!(
        http(port, "POST", "/api/v1/corrections", None, Some(good)).status,
        401
    );
    assert_eq!(
        http(
            port,
            "POST",
            "/api/v1/corrections",
            Some("t0ken-for-tesTs"),
            Some(good)
        )
        .status,
        401
    );
    assert_eq!(http(port, "GET", "/api/v1/alerts", None, None).status, 401);
    assert_eq!(http(port, "GET", "/", None, None).status, 401);

    // Bad input: nothing produced.
    let bad = r#"[{"prediction_id":"p-3","ts":1795392000000,"label":"ham"},{"prediction_id":"p-4","ts":1795392000000}]"#;
    let r = http(port, "POST", "/api/v1/corrections", Some(token), Some(bad));
    assert_eq!(r.status, 400, "{}", r.body);
    let e = json(&r.body);
    assert_eq!(e["index"], 1, "{e}");
    assert_eq!(e["field"], "label", "{e}");
    let r = http(
        port,
        "POST",
        "/api/v1/corrections",
        Some(token),
        Some("{not json"),
    );
    assert_eq!(r.status, 400);
    assert!(json(&r.body)["error"].as_str().unwrap().contains("JSON"));
    let big = format!(
        r#"{{"prediction_id":"p-5","ts":1795392000000,"label":"{}"}}"#,
        "x".repeat(5000)
    );
    assert_eq!(
        http(port, "POST", "/api/v1/corrections", Some(token), Some(&big)).status,
        413
    );

    // Good input: accepted, produced, landed.
    let r = http(port, "POST", "/api/v1/corrections", Some(token), Some(good));
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(json(&r.body)["accepted"], 2);
    let single = r#"{"prediction_id":"p-6","ts":1795392000000,"label":"ham"}"#;
    let r = http(
        port,
        "POST",
        "/api/v1/corrections",
        Some(token),
        Some(single),
    );
    assert_eq!(json(&r.body)["accepted"], 1);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ok = rt.block_on(wait_for(Duration::from_secs(60), || async {
        landed(&storage, "corrections").await.0 >= 3
    }));
    assert!(ok, "corrections did not land:\n{}", log());
    std::thread::sleep(Duration::from_secs(1));
    let (rows, ids, _) = rt.block_on(landed(&storage, "corrections"));
    assert_eq!((rows, ids), (3, 3), "exactly the accepted corrections land");
    let m = http(port, "GET", "/metrics", None, None);
    let (_, samples) = parse_prometheus(&m.body);
    assert!(
        samples
            .iter()
            .any(|s| s.0 == "feedloop_corrections_accepted_total" && s.2 == 3.0)
    );

    // Read API: JSON, quoted literals, bad `since`.
    for path in [
        "/api/v1/alerts",
        "/api/v1/alerts?state=firing&model=it%27s&since=24h",
        "/api/v1/metrics?model=a&metric=error_rate&since=2026-01-01T00:00:00Z",
    ] {
        let r = http(port, "GET", path, Some(token), None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let v = json(&r.body);
        assert!(
            v.get("alerts").or(v.get("metrics")).unwrap().is_array(),
            "{v}"
        );
    }
    let r = http(
        port,
        "GET",
        "/api/v1/alerts?since=yesterday",
        Some(token),
        None,
    );
    assert_eq!(
        (r.status, json(&r.body)["field"].as_str()),
        (400, Some("since"))
    );
    let r = http(port, "GET", "/api/v1/datasets", Some(token), None);
    assert_eq!(r.status, 200);
    assert!(json(&r.body)["datasets"].is_array());
    let r = http(port, "GET", "/", Some(token), None);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<h1>feedloop</h1>"));
}

/// Every YAML file under deploy/ parses; the dashboard JSON parses and every
/// feedloop metric it references is one `/metrics` exposes.
fn check_deploy_files(exposed: &BTreeMap<String, String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let mut yaml = 0;
    let mut dashboards = 0;
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            match p.extension().and_then(|e| e.to_str()) {
                Some("yml" | "yaml") => {
                    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
                        let v = <serde_yaml_ng::Value as serde::Deserialize>::deserialize(doc)
                            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                        assert!(!v.is_null(), "{}: empty document", p.display());
                        // A ConfigMap's feedloop.toml is a valid config.
                        if let Some(toml) = v
                            .get("data")
                            .and_then(|d| d.get("feedloop.toml"))
                            .and_then(|t| t.as_str())
                        {
                            validate_config_text(toml, &p);
                        }
                    }
                    yaml += 1;
                }
                Some("toml") => validate_config_text(&text, &p),
                Some("json") => {
                    let v = json(&text);
                    if v.get("panels").is_some() {
                        dashboards += 1;
                        let mut names = BTreeSet::new();
                        collect_metric_names(&text, &mut names);
                        assert!(
                            !names.is_empty(),
                            "{}: references no feedloop metric",
                            p.display()
                        );
                        for n in names {
                            let base = ["_bucket", "_sum", "_count"]
                                .iter()
                                .fold(n.clone(), |b, s| {
                                    b.strip_suffix(s).map(str::to_string).unwrap_or(b)
                                });
                            assert!(
                                exposed.contains_key(&n) || exposed.contains_key(&base),
                                "{}: metric {n} is not exposed by /metrics",
                                p.display()
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }
    assert!(
        yaml >= 5,
        "expected the compose file and the Kubernetes manifests under deploy/, found {yaml} YAML files"
    );
    assert!(dashboards >= 1, "no Grafana dashboard JSON under deploy/");
}

/// `feedloop validate` accepts the config (with the token the Secret provides).
fn validate_config_text(toml: &str, from: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("feedloop.toml");
    std::fs::write(&p, toml).unwrap();
    let out = std::process::Command::new(feedloop_bin())
        .args(["validate", "--config"])
        .arg(&p)
        .env("FEEDLOOP_HTTP__TOKEN", "from-the-secret")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        from.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn collect_metric_names(text: &str, out: &mut BTreeSet<String>) {
    let mut rest = text;
    while let Some(i) = rest.find("feedloop_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        // Only whole identifiers (not e.g. part of a path or a longer word).
        let before = rest[..i].chars().last();
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '/') {
            out.insert(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
}

#[test]
fn page_draws_charts_from_the_demo_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = std::process::Command::new(feedloop_bin())
        .args(["demo", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let broker = Nisshi::start();
    // Topics of their own: the demo's landed partitions hold offsets this new
    // broker's `predictions` never had, which ingest rightly refuses (TopicReset).
    for t in [
        "page-predictions",
        "page-corrections",
        "page-latency",
        "feedloop-dlq",
    ] {
        broker.create_topic(t, 1);
    }
    let port = free_port();
    let cfg = http_config(dir.path(), &broker.brokers, &data, port, None);
    // Only the page: no window jobs writing while we look.
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(
        "[kafka.topics]\npredictions = \"page-predictions\"\ncorrections = \"page-corrections\"\nlatency = \"page-latency\"\n[windows]\nenabled = false\n",
    );
    std::fs::write(&cfg, text).unwrap();
    let _proc = FeedloopProc::run(&cfg, &dir.path().join("feedloop.log"));
    wait_http(port, "/healthz", 200, Duration::from_secs(30));
    let page = http(port, "GET", "/", None, None);
    assert_eq!(page.status, 200);
    let html = page.body;
    std::fs::write(dir.path().join("page.html"), &html).unwrap();
    assert!(
        html.contains("<svg") && !html.contains("<script"),
        "inline SVG, no scripts"
    );
    // Charts carry data: polylines with many points, bands, and the demo's incident as alert spans.
    let polylines = html.matches("<polyline").count();
    assert!(polylines >= 5, "{polylines} polylines");
    let max_points = html
        .split("data-points=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse::<usize>().ok())
        .max()
        .unwrap_or(0);
    assert!(max_points >= 10, "series have {max_points} points at most");
    assert!(html.contains("class=\"band\""), "no ±kσ band drawn");
    assert!(html.contains("class=\"alert\""), "no alert window marked");
    assert!(html.contains("drift per feature") && html.contains("latency percentiles"));

    // A real browser renders it.
    let chromium = ["chromium", "chromium-browser"].into_iter().find(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    // Part of the suite: no Chromium is a failure, not a skip.
    let chromium = chromium.expect(
        "no chromium on PATH: the page's screenshot check needs it; scripts/test installs it \
         (apt-get install chromium)",
    );
    let shot = std::env::var("FEEDLOOP_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("page.png"));
    let profile = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .args([
            "--window-size=1280,2000",
            &format!("http://127.0.0.1:{port}/"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "chromium failed");
    let png = std::fs::read(&shot).expect("no screenshot written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // A blank 1280×2000 page compresses to a few KB; charts do not.
    assert!(
        png.len() > 40_000,
        "screenshot is {} bytes: blank?",
        png.len()
    );
}
