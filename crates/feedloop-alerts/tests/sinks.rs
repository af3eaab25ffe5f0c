//! Delivery: the webhook against a local HTTP server, the dispatcher's queues,
//! and the Kafka sink on librdkafka's mock cluster.

use feedloop_alerts::*;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn alert(n: u32) -> Alert {
    Alert {
        id: format!("{n:016x}"),
        state: AlertState::Firing,
        model: "spam-filter".into(),
        model_version: "2026-11-01".into(),
        segment: BTreeMap::from([("country".into(), "DE".into())]),
        metric: "latency_p95".into(),
        feature: None,
        window_start: "2026-11-01T10:05:00Z".into(),
        window_end: "2026-11-01T10:10:00Z".into(),
        value: 212.0,
        mean: Some(98.1),
        sigma: Some(6.3),
        k: Some(2.0),
        direction: Some(Side::Up),
        severity: Severity::Critical,
        test: None,
        threshold: None,
        summary: format!("alert {n}"),
    }
}

#[derive(Clone, Copy, Debug)]
enum Reply {
    Status(u16),
    /// Read the request, never answer, keep the connection open.
    Hang,
}

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// A minimal HTTP/1.1 server: the n-th request gets `script[n]` (the last entry
/// once the script runs out). Returns the URL and the requests received.
async fn server(script: Vec<Reply>) -> (String, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (seen, count, script) = (seen2.clone(), count.clone(), script.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p;
                    }
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap_or_default().split(' ');
                let (method, path) = (
                    first.next().unwrap_or_default().to_string(),
                    first.next().unwrap_or_default().to_string(),
                );
                let headers: BTreeMap<String, String> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                let len: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = buf[head_end + 4..].to_vec();
                while body.len() < len {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => body.extend_from_slice(&chunk[..n]),
                    }
                }
                seen.lock().unwrap().push(Request {
                    method,
                    path,
                    headers,
                    body,
                });
                let n = count.fetch_add(1, Ordering::SeqCst);
                match script[n.min(script.len() - 1)] {
                    Reply::Status(code) => {
                        let resp = format!(
                            "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                        let _ = sock.write_all(resp.as_bytes()).await;
                        let _ = sock.shutdown().await;
                    }
                    Reply::Hang => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        drop(sock);
                    }
                }
            });
        }
    });
    (url, seen)
}

fn webhook(url: &str, timeout: Duration, retries: u32) -> WebhookSink {
    WebhookSink::new(url, timeout, retries)
        .unwrap()
        .with_backoff(Duration::from_millis(5), Duration::from_millis(20))
}

/// Guard against a hung test (a failure, not a speed assertion).
async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test hung")
}

#[tokio::test]
async fn webhook_posts_the_alert_as_json() {
    let (url, seen) = server(vec![Reply::Status(200)]).await;
    let a = alert(1);
    bounded(webhook(&url, Duration::from_secs(5), 3).send(&a))
        .await
        .unwrap();
    let reqs = seen.lock().unwrap().clone();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", "/hook")
    );
    assert_eq!(
        reqs[0].headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    let got: Alert = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(got, a);
}

#[tokio::test]
async fn webhook_retries_after_5xx() {
    let (url, seen) = server(vec![
        Reply::Status(500),
        Reply::Status(503),
        Reply::Status(204),
    ])
    .await;
    bounded(webhook(&url, Duration::from_secs(5), 3).send(&alert(2)))
        .await
        .unwrap();
    let reqs = seen.lock().unwrap().clone();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter().all(|r| r.body == reqs[0].body),
        "every attempt sends the same alert"
    );
}

#[tokio::test]
async fn webhook_gives_up_after_its_retries() {
    let (url, seen) = server(vec![Reply::Status(500)]).await;
    let err = bounded(webhook(&url, Duration::from_secs(5), 2).send(&alert(3)))
        .await
        .unwrap_err();
    match err {
        SinkError::GaveUp { attempts: 3, last } => {
            assert!(matches!(*last, SinkError::Status { status: 500 }))
        }
        other => panic!("{other}"),
    }
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn webhook_does_not_retry_4xx() {
    let (url, seen) = server(vec![Reply::Status(400), Reply::Status(200)]).await;
    let err = bounded(webhook(&url, Duration::from_secs(5), 3).send(&alert(4)))
        .await
        .unwrap_err();
    assert!(matches!(err, SinkError::Status { status: 400 }), "{err}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn hanging_webhook_hits_the_timeout_and_is_retried() {
    let (url, seen) = server(vec![Reply::Hang]).await;
    // 1 s, not less: the timeout covers the connect, on a possibly starved
    // current-thread runtime; the server never answers either way.
    let err = bounded(webhook(&url, Duration::from_secs(1), 1).send(&alert(5)))
        .await
        .unwrap_err();
    match err {
        SinkError::GaveUp { attempts: 2, last } => match *last {
            SinkError::Http(e) => assert!(e.is_timeout(), "{e}"),
            other => panic!("{other}"),
        },
        other => panic!("{other}"),
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "the server saw both attempts"
    );
}

#[tokio::test]
async fn refused_connection_is_retried() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = bounded(
        webhook(
            &format!("http://127.0.0.1:{port}/"),
            Duration::from_secs(2),
            2,
        )
        .send(&alert(6)),
    )
    .await
    .unwrap_err();
    match err {
        SinkError::GaveUp { attempts: 3, last } => assert!(
            matches!(*last, SinkError::Http(ref e) if e.is_connect()),
            "{last}"
        ),
        other => panic!("{other}"),
    }
}

#[test]
fn webhook_from_config() {
    let mut c = AlertsConfig::default();
    assert!(WebhookSink::from_config(&c).unwrap().is_none());
    c.webhook = Some("http://127.0.0.1:1/x".into());
    assert!(WebhookSink::from_config(&c).unwrap().is_some());
    assert!(matches!(
        WebhookSink::new("ftp://x/", Duration::from_secs(1), 0),
        Err(SinkError::Url(_))
    ));
}

/// Records what it is sent.
#[derive(Default)]
struct Recording(Mutex<Vec<Alert>>);
impl AlertSink for Recording {
    fn name(&self) -> &str {
        "recording"
    }
    fn send<'a>(&'a self, a: &'a Alert) -> BoxFuture<'a, Result<(), SinkError>> {
        self.0.lock().unwrap().push(a.clone());
        Box::pin(async { Ok(()) })
    }
}

/// Never finishes a send.
struct Stuck(AtomicUsize);
impl AlertSink for Stuck {
    fn name(&self) -> &str {
        "stuck"
    }
    fn send<'a>(&'a self, _: &'a Alert) -> BoxFuture<'a, Result<(), SinkError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(futures::future::pending())
    }
}

#[tokio::test]
async fn dispatcher_delivers_to_every_sink_in_order_and_drains_on_shutdown() {
    let (a, b) = (
        Arc::new(Recording::default()),
        Arc::new(Recording::default()),
    );
    let d = AlertDispatcher::new(vec![a.clone(), b.clone(), Arc::new(LogSink)], 64);
    let alerts: Vec<Alert> = (0..10).map(alert).collect();
    d.dispatch(&alerts[..4]);
    d.dispatch(&alerts[4..]);
    let stats = bounded(d.shutdown(Duration::from_secs(10))).await;
    assert_eq!(*a.0.lock().unwrap(), alerts);
    assert_eq!(*b.0.lock().unwrap(), alerts);
    for s in stats {
        assert_eq!(
            (s.sent, s.failed, s.dropped, s.queued),
            (10, 0, 0, 0),
            "{s:?}"
        );
    }
}

// current_thread runtime: the sinks' tasks cannot run while the test does not
// yield, so if `dispatch` waited for a sink it would never return. It returns,
// and the counters say exactly what happened to all 100 alerts.
#[tokio::test(flavor = "current_thread")]
async fn dispatch_never_blocks_on_a_stuck_sink_and_drops_the_oldest() {
    let stuck = Arc::new(Stuck(AtomicUsize::new(0)));
    let good = Arc::new(Recording::default());
    let d = AlertDispatcher::new(vec![stuck.clone(), good.clone()], 4);
    for n in 0..100 {
        d.dispatch(&[alert(n)]);
    }
    let s = d.stats();
    assert_eq!((s[0].dropped, s[0].queued, s[0].sent), (96, 4, 0));
    assert_eq!(
        stuck.0.load(Ordering::SeqCst),
        0,
        "no sink ran during dispatch"
    );

    // Let the background tasks run: the stuck sink takes one alert and hangs,
    // the good one receives the 4 newest.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(stuck.0.load(Ordering::SeqCst), 1);
    let got: Vec<String> = good
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.summary.clone())
        .collect();
    assert_eq!(got, ["alert 96", "alert 97", "alert 98", "alert 99"]);
    // Still non-blocking with the stuck sink mid-send and its queue refilled.
    for n in 100..110 {
        d.dispatch(&[alert(n)]);
    }
    let stats = bounded(d.shutdown(Duration::from_millis(100))).await;
    // stuck: alert 96 in flight (failed at shutdown); 97–99 queued, so of the 10
    // new ones the first fits and 9 push out the oldest; 4 are left at shutdown.
    assert_eq!(
        (
            stats[0].sent,
            stats[0].failed,
            stats[0].dropped,
            stats[0].queued
        ),
        (0, 1, 96 + 9 + 4, 0)
    );
    assert_eq!(stats[0].sent + stats[0].failed + stats[0].dropped, 110);
    // good: 96–99, then of 100–109 (dispatched without yielding) the newest 4.
    assert_eq!((stats[1].sent, stats[1].dropped), (4 + 4, 96 + 6));
}

#[tokio::test]
async fn hanging_webhook_does_not_hold_up_other_sinks() {
    let (url, seen) = server(vec![Reply::Hang]).await;
    let good = Arc::new(Recording::default());
    let hook = Arc::new(webhook(&url, Duration::from_secs(30), 0));
    let d = AlertDispatcher::new(vec![hook, good.clone()], 2);
    for n in 0..50 {
        d.dispatch(&[alert(n)]);
    }
    bounded(async {
        while good.0.lock().unwrap().len() < 2 || seen.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let stats = bounded(d.shutdown(Duration::from_millis(200))).await;
    assert_eq!(stats[0].sink, "webhook");
    assert_eq!((stats[0].sent, stats[0].failed), (0, 1), "{stats:?}");
    assert_eq!(stats[0].sent + stats[0].failed + stats[0].dropped, 50);
    assert_eq!(stats[1].sent + stats[1].dropped, 50);
}

#[tokio::test]
async fn kafka_sink_publishes_keyed_by_alert_id() {
    use rdkafka::Message;
    use rdkafka::consumer::{Consumer, StreamConsumer};
    let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
    cluster.create_topic("feedloop-alerts", 1, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let sink = KafkaSink::new(
        &brokers,
        "feedloop-alerts",
        &BTreeMap::from([("group.id".into(), "ignored".into())]),
    )
    .unwrap();
    let a = alert(7);
    let mut r = a.clone();
    r.state = AlertState::Resolved;
    bounded(sink.send(&a)).await.unwrap();
    bounded(sink.send(&r)).await.unwrap();

    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "alerts-test")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&["feedloop-alerts"]).unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        let m = bounded(consumer.recv()).await.unwrap();
        assert_eq!(m.key(), Some(a.id.as_bytes()));
        got.push(serde_json::from_slice::<Alert>(m.payload().unwrap()).unwrap());
    }
    assert_eq!(got, [a, r]);
}
