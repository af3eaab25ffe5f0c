//! Shared test harness: a real `nisshi` broker process on 127.0.0.1, `feedloop`
//! child processes, producers, and landing-zone checks.
#![allow(dead_code)]

use feedloop_analytics::LandingSession;
use feedloop_events::StreamKind;
use feedloop_storage::{LandingZone, Storage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod http_client;
pub mod prometheus;
#[allow(unused_imports)] // not every test binary uses all of it
pub use http_client::{Resp, http, wait_http};

pub fn feedloop_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_feedloop"))
}

/// The nisshi broker binary: `$NISSHI_BIN`, the copy `.ci/run` / `scripts/test`
/// install under `~/.cache/feedloop/tools`, or `nisshi` on PATH.
pub fn nisshi_bin() -> PathBuf {
    if let Ok(p) = std::env::var("NISSHI_BIN") {
        return PathBuf::from(p);
    }
    if let Ok(home) = std::env::var("HOME") {
        let p = Path::new(&home).join(".cache/feedloop/tools/bin/nisshi");
        if p.is_file() {
            return p;
        }
    }
    if let Ok(out) = Command::new("sh")
        .arg("-c")
        .arg("command -v nisshi")
        .output()
        && out.status.success()
    {
        return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    }
    panic!(
        "the nisshi broker is not installed: run `scripts/test` (it installs it once into ~/.cache/feedloop/tools), or set NISSHI_BIN"
    );
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

/// A nisshi broker on 127.0.0.1, killed on drop: in-memory storage
/// ([`Nisshi::start`]), or a bucket of a moto S3 server that outlives the
/// process ([`Nisshi::start_on_s3`], for restarts with data).
pub struct Nisshi {
    child: Option<Child>,
    pub port: u16,
    pub brokers: String,
    storage_engine: String,
    env: Vec<(String, String)>,
}

impl Nisshi {
    pub fn start() -> Nisshi {
        Nisshi::start_with("memory://nisshi/".into(), Vec::new())
    }

    /// A broker keeping its log and groups in `bucket` on `moto` (created
    /// here): [`Nisshi::restart`] brings it back with its data.
    pub fn start_on_s3(moto: &Moto, bucket: &str) -> Nisshi {
        moto.create_bucket(bucket);
        let env = [
            ("AWS_ENDPOINT", moto.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_REGION", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Nisshi::start_with(format!("s3://{bucket}/"), env)
    }

    fn start_with(storage_engine: String, env: Vec<(String, String)>) -> Nisshi {
        let port = free_port();
        let mut n = Nisshi {
            child: None,
            port,
            brokers: format!("127.0.0.1:{port}"),
            storage_engine,
            env,
        };
        n.spawn();
        n
    }

    fn spawn(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(nisshi_bin())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args([
                "--storage-engine",
                &self.storage_engine,
                "--group-initial-rebalance-delay",
                "0s",
                "--silent",
            ])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start nisshi");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nisshi did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILLs the broker (no clean shutdown; its port is free afterwards).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the broker again on the same port and storage.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn create_topic(&self, name: &str, partitions: i32) {
        let status = Command::new(nisshi_bin())
            .args([
                "topic",
                "create",
                name,
                "--partitions",
                &partitions.to_string(),
            ])
            .args([
                "--broker",
                &format!("tcp://127.0.0.1:{}", self.port),
                "--silent",
            ])
            .status()
            .expect("cannot run nisshi topic create");
        assert!(status.success(), "creating topic {name} failed");
    }

    /// The default topics of a feedloop config.
    pub fn create_feedloop_topics(&self, partitions: i32) {
        for t in ["predictions", "corrections", "latency"] {
            self.create_topic(t, partitions);
        }
        self.create_topic("feedloop-dlq", 1);
    }
}

impl Drop for Nisshi {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Writes a feedloop config for a broker and storage folder; returns its path.
pub fn write_config(
    dir: &Path,
    brokers: &str,
    group: &str,
    storage: &Path,
    flush: &str,
) -> PathBuf {
    let path = dir.join(format!("{group}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"[kafka]
brokers = "{brokers}"
group_id = "{group}"
[kafka.options]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
[storage]
url = "{}"
[ingest]
flush_interval = "{flush}"
flush_max_events = 5000
"#,
            storage.display()
        ),
    )
    .unwrap();
    path
}

/// A `feedloop` child process; SIGKILLed on drop if still running.
pub struct FeedloopProc {
    pub child: Child,
}

impl FeedloopProc {
    pub fn run(config: &Path, log: &Path) -> FeedloopProc {
        Self::run_with_env(config, log, &[])
    }

    /// `feedloop run` with extra environment variables (e.g. `FEEDLOOP_…` overrides).
    pub fn run_with_env(config: &Path, log: &Path, env: &[(&str, &str)]) -> FeedloopProc {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(feedloop_bin())
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("cannot start feedloop");
        FeedloopProc { child }
    }

    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a graceful exit; returns whether it exited 0.
    pub fn terminate(mut self, timeout: Duration) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for FeedloopProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn producer(brokers: &str) -> FutureProducer {
    rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "60000")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer")
}

/// Produces `msgs` (key, payload) to `topic` and waits for every acknowledgement
/// (a failed delivery panics). Returns how many the broker acknowledged: the
/// delivery reports that carry the message's offset in the log.
pub async fn produce(p: &FutureProducer, topic: &str, msgs: &[(Option<String>, Vec<u8>)]) -> usize {
    use futures::StreamExt;
    let mut acked = 0;
    let mut count = |d: rdkafka::producer::future_producer::Delivery| {
        if d.offset >= 0 {
            acked += 1;
        }
    };
    let mut inflight = futures::stream::FuturesUnordered::new();
    for (k, v) in msgs {
        let mut rec: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic).payload(v.as_slice());
        if let Some(k) = k {
            rec = rec.key(k.as_str());
        }
        inflight.push(p.send(rec, Duration::from_secs(60)));
        if inflight.len() > 20_000 {
            count(
                inflight
                    .next()
                    .await
                    .unwrap()
                    .map_err(|(e, _)| e)
                    .expect("delivery"),
            );
        }
    }
    while let Some(r) = inflight.next().await {
        count(r.map_err(|(e, _)| e).expect("delivery"));
    }
    acked
}

/// A valid prediction with a unique id.
pub fn prediction(id: &str, model: &str, extra_feature: Option<(&str, f64)>) -> Vec<u8> {
    let mut features = serde_json::json!({"x": 1.5, "color": "red", "flag": true});
    if let Some((k, v)) = extra_feature {
        features[k] = serde_json::json!(v);
    }
    serde_json::json!({
        "prediction_id": id, "model": model, "model_version": "v1", "ts": 1_795_392_000_000i64,
        "features": features, "output": {"label": "a", "score": 0.5},
    })
    .to_string()
    .into_bytes()
}

/// `feedloop run` serving `/metrics` (and the rest of its HTTP routes) on a
/// free loopback port, through `FEEDLOOP_HTTP__*`; returns the process and port.
pub fn run_with_http(config: &Path, log: &Path) -> (FeedloopProc, u16) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let proc = FeedloopProc::run_with_env(
        config,
        log,
        &[
            ("FEEDLOOP_HTTP__ENABLED", "true"),
            ("FEEDLOOP_HTTP__LISTEN", &listen),
        ],
    );
    (proc, port)
}

/// `GET /metrics` of the process on `port` (blocking, [`http`]); `None` while
/// nothing listens there or it does not answer 200.
pub fn scrape_metrics(port: u16) -> Option<String> {
    std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    let r = http(port, "GET", "/metrics", None, None);
    (r.status == 200).then_some(r.body)
}

/// The integers of the one row `sql` returns over `storage`'s tables.
pub async fn one_row_of_ints(storage: &Storage, sql: &str) -> Vec<i64> {
    let s = LandingSession::new(storage).await.unwrap();
    let (_, b) = s.sql(sql).await.unwrap();
    b[0].columns()
        .iter()
        .map(|c| {
            c.as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .unwrap()
                .value(0)
        })
        .collect()
}

/// Rows, distinct prediction ids and distinct (partition, offset) pairs of a table.
pub async fn landed(storage_dir: &Path, table: &str) -> (i64, i64, i64) {
    let storage = Storage::open(storage_dir.to_str().unwrap(), []).unwrap();
    let v = one_row_of_ints(
        &storage,
        &format!(
            "SELECT count(*), count(DISTINCT prediction_id), count(DISTINCT (_topic, _partition, _offset)) FROM {table}"
        ),
    )
    .await;
    (v[0], v[1], v[2])
}

/// True once the predictions table holds at least `n` rows.
pub async fn landed_at_least(storage_dir: &Path, n: i64) -> bool {
    landed(storage_dir, "predictions").await.0 >= n
}

/// Checks that every partition's files form a gap-free, non-overlapping chain.
pub async fn assert_chains(storage_dir: &Path, stream: StreamKind) -> usize {
    assert_chains_in(
        &Storage::open(storage_dir.to_str().unwrap(), []).unwrap(),
        stream,
    )
    .await
}

/// [`assert_chains`] on any storage.
pub async fn assert_chains_in(storage: &Storage, stream: StreamKind) -> usize {
    let zone = LandingZone::new(storage.clone());
    let mut files = 0;
    for key in zone.partitions(stream).await.unwrap() {
        let mut expect: Option<i64> = None;
        for path in zone.list_partition(&key, None).await.unwrap() {
            let (s, e, _) = zone.read_range(&path).await.unwrap();
            assert_eq!(
                Some(s),
                LandingZone::start_of(&path),
                "{path}: name and metadata disagree"
            );
            if let Some(x) = expect {
                assert_eq!(
                    s, x,
                    "{key}: file {path} does not start where the previous one ended"
                );
            }
            assert!(e >= s, "{path}: empty range");
            expect = Some(e + 1);
            files += 1;
        }
    }
    files
}

/// Polls until `cond` holds or `timeout` passes.
pub async fn wait_for<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

/// moto's S3 server binary: `$MOTO_SERVER_BIN`, or the venv `scripts/test`
/// installs under `~/.cache/feedloop/moto-venv`.
pub fn moto_bin() -> PathBuf {
    if let Ok(p) = std::env::var("MOTO_SERVER_BIN") {
        return PathBuf::from(p);
    }
    if let Ok(home) = std::env::var("HOME") {
        let p = Path::new(&home).join(".cache/feedloop/moto-venv/bin/moto_server");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "moto is not installed: run `scripts/test` (it installs moto[server] once into ~/.cache/feedloop/moto-venv), or set MOTO_SERVER_BIN"
    );
}

/// A moto S3 server on 127.0.0.1, killed on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let child = Command::new(moto_bin())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start moto_server");
        let deadline = Instant::now() + Duration::from_secs(90);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto {
            child,
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Creates a bucket (a plain path-style `PUT /<bucket>`).
    pub fn create_bucket(&self, bucket: &str) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        assert!(
            resp.starts_with("HTTP/1.1 200"),
            "CreateBucket {bucket} failed: {resp}"
        );
    }

    /// `object_store` options for this server (dummy credentials).
    pub fn storage_options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("aws_access_key_id", "testing"),
            ("aws_secret_access_key", "testing"),
            ("aws_region", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The same options as a `[storage.options]` TOML table body.
    pub fn storage_options_toml(&self) -> String {
        self.storage_options()
            .iter()
            .map(|(k, v)| format!("{k} = \"{v}\"\n"))
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lands JSON events of one stream as one landing-zone file starting at `start`;
/// returns the next offset.
pub async fn land_json(
    zone: &LandingZone,
    stream: StreamKind,
    partition: i32,
    start: i64,
    events: &[serde_json::Value],
) -> i64 {
    let topic = stream.table_name().to_string();
    let key = feedloop_storage::PartitionKey {
        stream,
        topic: topic.clone(),
        partition,
    };
    let mut b = feedloop_events::BatchBuilder::new(stream, &topic, partition);
    for (i, e) in events.iter().enumerate() {
        let ev = feedloop_events::decode(
            stream,
            e.to_string().as_bytes(),
            &feedloop_events::Limits::default(),
        )
        .unwrap();
        b.append(
            &ev,
            feedloop_events::Lineage {
                offset: start + i as i64,
                kafka_ts: None,
            },
        )
        .unwrap();
    }
    let end = start + events.len() as i64 - 1;
    zone.land(&key, start, end, b.finish().unwrap())
        .await
        .unwrap();
    end + 1
}

/// A minimal HTTP/1.1 server on 127.0.0.1 that records POSTed bodies.
pub async fn webhook_server() -> (
    u16,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let g = std::sync::Arc::clone(&got);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let g = std::sync::Arc::clone(&g);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let n = match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(h) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..h]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() < h + 4 + len {
                        continue;
                    }
                    if let Ok(v) = serde_json::from_slice(&buf[h + 4..h + 4 + len]) {
                        g.lock().unwrap().push(v);
                    }
                    let _ = sock
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    buf.drain(..h + 4 + len);
                }
            });
        }
    });
    (port, got)
}

pub fn consume_all(brokers: &str, topic: &str) -> Vec<serde_json::Value> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "alert-reader")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut idle = 0;
    while idle < 10 {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                idle = 0;
                if let Some(v) = m.payload().and_then(|p| serde_json::from_slice(p).ok()) {
                    out.push(v);
                }
            }
            _ => idle += 1,
        }
    }
    out
}

/// librdkafka's in-process mock cluster (one broker) with the three feedloop
/// topics of `partitions` partitions and a one-partition dead-letter topic.
pub fn mock_cluster(
    partitions: i32,
) -> (
    rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    String,
) {
    let c = rdkafka::mocking::MockCluster::new(1).unwrap();
    for t in ["predictions", "corrections", "latency"] {
        c.create_topic(t, partitions, 1).unwrap();
    }
    c.create_topic("feedloop-dlq", 1, 1).unwrap();
    let b = c.bootstrap_servers();
    (c, b)
}

/// A consumer-group config with fast failure detection (6 s session).
pub fn kafka_config(brokers: &str, group: &str) -> feedloop_ingest::KafkaConfig {
    let mut k = feedloop_ingest::KafkaConfig {
        brokers: brokers.into(),
        group_id: group.into(),
        ..feedloop_ingest::KafkaConfig::default()
    };
    k.options.insert("session.timeout.ms".into(), "6000".into());
    k.options
        .insert("heartbeat.interval.ms".into(), "500".into());
    k
}

/// In-process ingest of consumer group `group` into `storage`.
pub fn ingest_into(
    brokers: &str,
    group: &str,
    storage: Storage,
    config: feedloop_ingest::IngestConfig,
) -> feedloop_ingest::Ingest {
    feedloop_ingest::Ingest::new(
        kafka_config(brokers, group),
        config,
        LandingZone::new(storage),
    )
}

/// In-process ingest that flushes every 200 ms or 500 events (the fault tests).
pub fn fast_ingest(brokers: &str, group: &str, storage: Storage) -> feedloop_ingest::Ingest {
    ingest_into(brokers, group, storage, fast_ingest_config())
}

/// Small, frequent flushes: 500 events or 200 ms.
pub fn fast_ingest_config() -> feedloop_ingest::IngestConfig {
    feedloop_ingest::IngestConfig {
        flush_interval: Duration::from_millis(200),
        flush_max_events: 500,
        ..feedloop_ingest::IngestConfig::default()
    }
}

/// Every one of `n` predictions landed exactly once (rows and source offsets),
/// and each partition's files chain without gaps or overlaps.
pub async fn assert_landed_once(storage: &Storage, n: i64) {
    assert_eq!(landed_in(storage).await, (n, n));
    assert_chains_in(storage, StreamKind::Predictions).await;
}

/// `n` valid spam-filter predictions `p-0` … keyed `k0` ….
pub fn predictions(n: usize) -> Vec<(Option<String>, Vec<u8>)> {
    (0..n)
        .map(|i| {
            (
                Some(format!("k{i}")),
                prediction(&format!("p-{i}"), "spam-filter", None),
            )
        })
        .collect()
}

/// (rows, distinct (partition, offset)) of the predictions table of `storage`.
pub async fn landed_in(storage: &Storage) -> (i64, i64) {
    let v = one_row_of_ints(
        storage,
        "SELECT count(*), count(DISTINCT (_partition, _offset)) FROM predictions",
    )
    .await;
    (v[0], v[1])
}

/// (RSS in MiB, open file descriptors, threads) of a process, from `/proc`.
pub fn proc_sample(pid: u32) -> Option<(f64, usize, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let rss = field("VmRSS:")? / 1024.0;
    let threads = field("Threads:")? as usize;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((rss, fds, threads))
}

/// In-process ingest running in a task until [`RunningIngest::stop`].
pub struct RunningIngest {
    pub task: tokio::task::JoinHandle<Result<(), feedloop_ingest::IngestError>>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl RunningIngest {
    pub fn start(ingest: feedloop_ingest::Ingest) -> RunningIngest {
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(ingest.run(async move {
            let _ = rx.await;
        }));
        RunningIngest { task, stop }
    }

    /// Requests a graceful shutdown and returns how ingest ended.
    pub async fn stop(self) -> Result<(), feedloop_ingest::IngestError> {
        let _ = self.stop.send(());
        self.task.await.expect("ingest task panicked")
    }
}

/// True once the predictions table of `storage` holds at least `n` rows,
/// false after `timeout`.
pub async fn wait_landed(storage: &Storage, n: i64, timeout: Duration) -> bool {
    wait_for(timeout, || async move { landed_in(storage).await.0 >= n }).await
}

/// The offsets `group` has committed on `topic`'s partitions `0..partitions`
/// (`None`: nothing committed), read from the broker without joining the group.
pub fn committed_offsets(
    brokers: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> Vec<(i32, Option<i64>)> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let committed = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    committed
        .elements()
        .iter()
        .map(|e| match e.offset() {
            rdkafka::Offset::Offset(o) => (e.partition(), Some(o)),
            _ => (e.partition(), None),
        })
        .collect()
}

/// Threads of a process by name (`/proc/<pid>/task/*/comm`): tokio's workers
/// and blocking threads are `tokio-rt-worker`, librdkafka's `rdk:…`.
pub fn thread_names(pid: u32) -> std::collections::BTreeMap<String, usize> {
    let mut names = std::collections::BTreeMap::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            *names.entry(comm.trim().to_string()).or_insert(0) += 1;
        }
    }
    names
}
