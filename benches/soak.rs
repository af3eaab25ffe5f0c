//! Soak: the full pipeline (`feedloop run`: ingest, window jobs, alerts,
//! scheduled exports, HTTP) over 10M events from a real broker (nisshi),
//! sampling the process every second: RSS, open file descriptors, threads and
//! what `/metrics` reports. Writes the samples as CSV and an SVG plot.
//!
//!   cargo bench --bench soak                              # 10M events
//!   FEEDLOOP_SOAK_EVENTS=1000000 cargo bench --bench soak
//!   FEEDLOOP_SOAK_OUT=docs/benchmarks cargo bench --bench soak   # where soak.csv / soak.svg go
//!   FEEDLOOP_SOAK_RATE=20000 cargo bench --bench soak     # steady 20k events/s instead of flat out
//!
//! Not a test: it prints numbers and asserts nothing about speed. It fails only
//! if events are lost or doubled.

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

struct Sample {
    t: f64,
    rss_mib: f64,
    fds: usize,
    threads: usize,
    landed: f64,
    windows: f64,
    export_rows: f64,
}

fn scrape(port: u16) -> std::collections::HashMap<String, f64> {
    use std::io::{Read, Write};
    let mut out = std::collections::HashMap::new();
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return out;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    for line in body.lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some((name, v)) = line.rsplit_once(' ')
            && let Ok(v) = v.parse::<f64>()
        {
            let family = name.split('{').next().unwrap_or(name).to_string();
            *out.entry(family).or_insert(0.0) += v;
            out.insert(name.to_string(), v);
        }
    }
    out
}

fn svg(samples: &[Sample]) -> String {
    let (w, h, pad) = (900.0, 360.0, 50.0);
    let t_max = samples.last().map(|s| s.t).unwrap_or(1.0).max(1.0);
    let rss_max = samples.iter().map(|s| s.rss_mib).fold(1.0, f64::max) * 1.1;
    let landed_max = samples.iter().map(|s| s.landed).fold(1.0, f64::max);
    let x = |t: f64| pad + (w - 2.0 * pad) * t / t_max;
    let y = |v: f64, max: f64| h - pad - (h - 2.0 * pad) * v / max;
    let line = |f: &dyn Fn(&Sample) -> (f64, f64)| {
        samples
            .iter()
            .map(|s| {
                let (a, b) = f(s);
                format!("{a:.1},{b:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut o = String::new();
    let _ = write!(
        o,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{pad}" y="20" font-size="14">feedloop run soak: RSS (MiB, blue) and events landed (grey, right axis) over time (s)</text>
<line x1="{pad}" y1="{b}" x2="{r}" y2="{b}" stroke="black"/><line x1="{pad}" y1="{pad}" x2="{pad}" y2="{b}" stroke="black"/>
<polyline fill="none" stroke="#999" stroke-width="1.5" points="{landed}"/>
<polyline fill="none" stroke="#1f6feb" stroke-width="2" points="{rss}"/>
<text x="{pad}" y="{bl}">0</text><text x="{r}" y="{bl}" text-anchor="end">{t_max:.0} s</text>
<text x="5" y="{top}">{rss_max:.0}</text><text x="{r2}" y="{top}">{landed_max:.0}</text>
</svg>
"##,
        b = h - pad,
        r = w - pad,
        r2 = w - pad + 2.0,
        bl = h - pad + 15.0,
        top = pad + 4.0,
        landed = line(&|s| (x(s.t), y(s.landed, landed_max))),
        rss = line(&|s| (x(s.t), y(s.rss_mib, rss_max))),
    );
    o
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let events: usize = env_or("FEEDLOOP_SOAK_EVENTS", 10_000_000);
    // Events per second to produce at (0: as fast as the broker takes them).
    let rate: f64 = env_or("FEEDLOOP_SOAK_RATE", 0.0);
    let out_dir = std::path::PathBuf::from(env_or("FEEDLOOP_SOAK_OUT", "target/soak".to_string()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let broker = harness::Nisshi::start();
    broker.create_feedloop_topics(4);
    broker.create_topic("feedloop-alerts", 1);
    let brokers = broker.brokers.clone();
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("store");
    let port = harness::free_port();
    let cfg = dir.path().join("soak.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[kafka]
brokers = "{brokers}"
group_id = "soak"
[storage]
url = "{}"
[windows]
size = "1m"
allowed_lateness = "2m"
poll_interval = "1s"
[http]
enabled = true
listen = "127.0.0.1:{port}"
[[export.datasets]]
name = "soak-sample"
model = "spam-filter"
policy = "sample"
rate = 0.001
every = "60s"
"#,
            storage.display()
        ),
    )
    .unwrap();

    // Traffic in one-hour chunks of event time, produced while `feedloop run` consumes.
    let spec = feedloop_traffic::TrafficSpec::default();
    const PER_MODEL_PER_CHUNK: usize = 60_000;
    let probe = feedloop_traffic::generate(&feedloop_traffic::TrafficSpec {
        predictions_per_model: PER_MODEL_PER_CHUNK,
        span_ms: 3_600_000,
        bad_rate: 0.001,
        ..spec.clone()
    });
    let per_chunk = probe.predictions.len() + probe.corrections.len() + probe.latency.len();
    let chunks = events.div_ceil(per_chunk);
    drop(probe);
    eprintln!(
        "soak: {chunks} chunks of {per_chunk} events (≈{} events)",
        chunks * per_chunk
    );

    let child = std::process::Command::new(env!("CARGO_BIN_EXE_feedloop"))
        .args(["run", "--config"])
        .arg(&cfg)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(out_dir.join("soak.log")).unwrap())
        .spawn()
        .unwrap();
    let proc_ = harness::FeedloopProc { child };
    let pid = proc_.child.id();

    let producing = tokio::spawn({
        let brokers = brokers.clone();
        async move {
            let p = harness::producer(&brokers);
            let paced_from = Instant::now();
            let mut total = 0usize;
            let mut valid = 0usize;
            for c in 0..chunks {
                let t = feedloop_traffic::generate(&feedloop_traffic::TrafficSpec {
                    predictions_per_model: PER_MODEL_PER_CHUNK,
                    span_ms: 3_600_000,
                    start_ms: spec.start_ms + c as i64 * 3_600_000,
                    seed: c as u64,
                    bad_rate: 0.001,
                    ..spec.clone()
                });
                valid += t.predictions.len() - t.bad_predictions;
                total += t.predictions.len() + t.corrections.len() + t.latency.len();
                if rate > 0.0 {
                    // Paced: slices of 2 000 messages, each sent when the rate
                    // says, so the load is steady at a 0.1 s granularity.
                    let mut sent =
                        total - (t.predictions.len() + t.corrections.len() + t.latency.len());
                    for (topic, msgs) in [
                        ("predictions", &t.predictions),
                        ("corrections", &t.corrections),
                        ("latency", &t.latency),
                    ] {
                        for slice in msgs.chunks(2_000) {
                            let due = paced_from + Duration::from_secs_f64(sent as f64 / rate);
                            tokio::time::sleep_until(due.into()).await;
                            harness::produce(&p, topic, slice).await;
                            sent += slice.len();
                        }
                    }
                } else {
                    harness::produce(&p, "predictions", &t.predictions).await;
                    harness::produce(&p, "corrections", &t.corrections).await;
                    harness::produce(&p, "latency", &t.latency).await;
                }
            }
            (total, valid)
        }
    });

    let started = Instant::now();
    let mut samples = Vec::new();
    let mut produced: Option<(usize, usize)> = None;
    let mut producing = Some(producing);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(h) = producing.as_ref()
            && h.is_finished()
            && let Some(h) = producing.take()
        {
            produced = Some(h.await.unwrap());
        }
        let Some((rss_mib, fds, threads)) = harness::proc_sample(pid) else {
            panic!(
                "feedloop run exited; see {}",
                out_dir.join("soak.log").display()
            );
        };
        let m = scrape(port);
        let landed = m
            .get("feedloop_events_landed_total")
            .copied()
            .unwrap_or(0.0)
            + m.get("feedloop_events_dead_lettered_total")
                .copied()
                .unwrap_or(0.0);
        samples.push(Sample {
            t: started.elapsed().as_secs_f64(),
            rss_mib,
            fds,
            threads,
            landed,
            windows: m
                .get("feedloop_windows_closed_total")
                .copied()
                .unwrap_or(0.0),
            export_rows: m.get("feedloop_export_rows_total").copied().unwrap_or(0.0),
        });
        if let Some((total, _)) = produced
            && landed >= total as f64
        {
            // Let the window jobs and one more export catch up, still sampling.
            if samples.len() > 30 && samples[samples.len() - 30].landed >= total as f64 {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(3600),
            "soak did not finish"
        );
    }
    let took = started.elapsed();
    assert!(
        proc_.terminate(Duration::from_secs(120)),
        "unclean shutdown"
    );
    let (total, valid) = produced.unwrap();

    let mut csv = String::from("t_s,rss_mib,fds,threads,events_done,windows_closed,export_rows\n");
    for s in &samples {
        let _ = writeln!(
            csv,
            "{:.1},{:.1},{},{},{},{},{}",
            s.t, s.rss_mib, s.fds, s.threads, s.landed, s.windows, s.export_rows
        );
    }
    std::fs::write(out_dir.join("soak.csv"), csv).unwrap();
    std::fs::write(out_dir.join("soak.svg"), svg(&samples)).unwrap();

    // Landed once: one row per valid prediction and per source offset.
    // (Prediction ids repeat from chunk to chunk: each is generated with the
    // same id sequence, so ids cannot tell a duplicate here.)
    let (rows, _ids, offsets) = harness::landed(&storage, "predictions").await;
    assert_eq!((rows, offsets), (valid as i64, valid as i64));
    let at = |q: f64| &samples[((samples.len() - 1) as f64 * q) as usize];
    let warm = samples.len() / 10;
    let after_warmup: Vec<f64> = samples[warm..].iter().map(|s| s.rss_mib).collect();
    let first = samples.first().unwrap();
    let last = samples.last().unwrap();
    println!(
        "soak: {total} events ({valid} valid predictions) in {:.0}s = {:.0} events/s end to end",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64()
    );
    println!(
        "RSS MiB at 10/25/50/75/100%: {:.0}/{:.0}/{:.0}/{:.0}/{:.0}; after warm-up min {:.0} max {:.0}",
        at(0.10).rss_mib,
        at(0.25).rss_mib,
        at(0.5).rss_mib,
        at(0.75).rss_mib,
        last.rss_mib,
        after_warmup.iter().copied().fold(f64::MAX, f64::min),
        after_warmup.iter().copied().fold(0.0, f64::max),
    );
    // Least-squares slope of RSS over the second half of the run: a leak shows
    // as a slope that does not go to zero however long the run.
    let half = &samples[samples.len() / 2..];
    let n = half.len() as f64;
    let (mt, mr) = (
        half.iter().map(|s| s.t).sum::<f64>() / n,
        half.iter().map(|s| s.rss_mib).sum::<f64>() / n,
    );
    let slope = half
        .iter()
        .map(|s| (s.t - mt) * (s.rss_mib - mr))
        .sum::<f64>()
        / half
            .iter()
            .map(|s| (s.t - mt).powi(2))
            .sum::<f64>()
            .max(f64::MIN_POSITIVE);
    println!(
        "RSS slope over the second half ({:.0} s): {:+.2} MiB/min",
        half.last().map_or(0.0, |l| l.t) - half[0].t,
        slope * 60.0
    );
    println!(
        "open fds {} → {} (max {}); threads {} → {} (max {})",
        first.fds,
        last.fds,
        samples.iter().map(|s| s.fds).max().unwrap_or(0),
        first.threads,
        last.threads,
        samples.iter().map(|s| s.threads).max().unwrap_or(0)
    );
    println!(
        "windows closed {}, export rows {}; samples in {}",
        last.windows,
        last.export_rows,
        out_dir.display()
    );
}
