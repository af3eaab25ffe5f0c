//! Delivery. Owns the [`AlertSink`] trait, the log/Kafka/webhook sinks, and the
//! [`AlertDispatcher`] that fans alerts out to them without ever blocking the
//! window job.
//!
//! # Dispatcher
//!
//! Every sink gets its own bounded queue and background task, so a slow or dead
//! webhook delays neither the caller nor the other sinks. [`AlertDispatcher::dispatch`]
//! only appends to the queues (a short mutex, no `.await`) and returns. When a
//! sink's queue is full, its **oldest** waiting alert is dropped: the newest state
//! of a series is the one worth delivering, and a resolved alert arriving after a
//! dropped firing one is still meaningful on its own. Per sink, `sent`, `failed`
//! (the sink returned an error, after its own retries) and `dropped` are counted
//! ([`AlertDispatcher::stats`]).
//!
//! Delivery is at most once per sink and process: a crash loses queued alerts.
//! The Kafka topic (acks = all) is the durable record; the log sink never fails.

use crate::alert::{Alert, AlertState};
use crate::rules::AlertsConfig;
use feedloop_kit::Backoff;
use feedloop_kit::kafka::{apply_producer_options, redact_config_error};
use futures::future::BoxFuture;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Why an alert was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("could not encode the alert as JSON: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The URL is not kept: webhook URLs often carry their secret in the path.
    #[error("invalid webhook URL (`alerts.webhook`): expected http:// or https://{0}")]
    Url(String),
    #[error("webhook request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("webhook answered HTTP {status}")]
    Status { status: u16 },
    #[error("webhook gave up after {attempts} attempts; last error: {last}")]
    GaveUp { attempts: u32, last: Box<SinkError> },
}

impl SinkError {
    /// Whether trying again may help: connection errors, timeouts and 5xx
    /// answers, not 4xx answers or configuration errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            SinkError::Http(e) => !e.is_builder() && !e.is_redirect(),
            SinkError::Status { status } => *status >= 500,
            SinkError::Kafka(_) => true,
            SinkError::Encode(_) | SinkError::Url(_) | SinkError::GaveUp { .. } => false,
        }
    }
}

/// Somewhere alerts go.
pub trait AlertSink: Send + Sync + 'static {
    /// Short name for logs and [`SinkStats`] (`log`, `kafka`, `webhook`).
    fn name(&self) -> &str;
    /// Delivers one alert; resolves once delivered or given up on.
    fn send<'a>(&'a self, alert: &'a Alert) -> BoxFuture<'a, Result<(), SinkError>>;
}

/// Writes alerts to the log (`tracing`, target `feedloop::alerts`): firing at
/// WARN, resolved at INFO, every field structured.
#[derive(Debug, Default, Clone)]
pub struct LogSink;

impl AlertSink for LogSink {
    fn name(&self) -> &str {
        "log"
    }

    fn send<'a>(&'a self, a: &'a Alert) -> BoxFuture<'a, Result<(), SinkError>> {
        let segment = a
            .segment
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        macro_rules! emit {
            ($lvl:ident, $msg:literal) => {
                tracing::$lvl!(
                    target: "feedloop::alerts",
                    id = %a.id, model = %a.model, model_version = %a.model_version,
                    segment = %segment, metric = %a.metric, feature = a.feature.as_deref(),
                    window_start = %a.window_start, window_end = %a.window_end,
                    value = a.value, mean = a.mean, sigma = a.sigma, k = a.k,
                    direction = a.direction.map(|d| format!("{d:?}").to_lowercase()),
                    severity = ?a.severity, test = a.test.as_deref(), threshold = a.threshold,
                    summary = %a.summary,
                    $msg
                )
            };
        }
        match a.state {
            AlertState::Firing => emit!(warn, "alert firing"),
            AlertState::Resolved => emit!(info, "alert resolved"),
        }
        Box::pin(async { Ok(()) })
    }
}

/// Publishes alerts as JSON to a Kafka topic, keyed by alert id (so a firing
/// alert and its resolution share a partition, in order), with `acks=all`.
#[derive(Clone)]
pub struct KafkaSink {
    producer: FutureProducer,
    topic: String,
    timeout: Duration,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("topic", &self.topic)
            .finish()
    }
}

impl KafkaSink {
    /// A producer to `topic` on `brokers`; `options` are `[kafka.options]`
    /// (consumer-only keys skipped; `acks` is always `all`).
    ///
    /// A config error names the offending key but never carries its value: a
    /// misspelt secret option would otherwise be printed.
    pub fn new(
        brokers: &str,
        topic: &str,
        options: &BTreeMap<String, String>,
    ) -> Result<Self, SinkError> {
        Ok(KafkaSink {
            producer: Self::client_config(brokers, options)
                .create()
                .map_err(redact_config_error)?,
            topic: topic.to_string(),
            timeout: Duration::from_secs(30),
        })
    }

    /// The librdkafka config of the alert producer: `[kafka.options]` (TLS and
    /// SASL settings included) without the consumer-only keys, and `acks=all`.
    pub fn client_config(
        brokers: &str,
        options: &BTreeMap<String, String>,
    ) -> rdkafka::ClientConfig {
        let mut cfg = rdkafka::ClientConfig::new();
        cfg.set("message.timeout.ms", "30000")
            .set("client.id", "feedloop-alerts");
        apply_producer_options(&mut cfg, brokers, options);
        cfg.set("acks", "all");
        cfg
    }
}

impl AlertSink for KafkaSink {
    fn name(&self) -> &str {
        "kafka"
    }

    fn send<'a>(&'a self, alert: &'a Alert) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let payload = serde_json::to_vec(alert)?;
            let rec: FutureRecord<'_, str, [u8]> = FutureRecord::to(&self.topic)
                .key(alert.id.as_str())
                .payload(payload.as_slice());
            self.producer
                .send(rec, Timeout::After(self.timeout))
                .await
                .map(|_| ())
                .map_err(|(e, _)| SinkError::Kafka(e))
        })
    }
}

/// POSTs each alert as JSON (`Content-Type: application/json`).
///
/// Each attempt is bounded by `timeout` (connection included). Connection
/// errors, timeouts and 5xx answers are retried up to `retries` times, waiting
/// `backoff_base·2^attempt` (capped at `backoff_max`, 200 ms and 10 s by
/// default) times a random factor in [0.5, 1] so many instances do not retry in
/// step. A 4xx answer is final: the request itself is wrong.
///
/// TLS: rustls with the ring provider and the platform's root certificates
/// (the same reqwest build object_store uses); no provider needs installing.
#[derive(Debug, Clone)]
pub struct WebhookSink {
    client: reqwest::Client,
    url: reqwest::Url,
    retries: u32,
    backoff: Backoff,
}

impl WebhookSink {
    pub fn new(url: &str, timeout: Duration, retries: u32) -> Result<Self, SinkError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| SinkError::Url(format!(" ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(SinkError::Url(String::new()));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("feedloop-alerts/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(WebhookSink {
            client,
            url: parsed,
            retries,
            backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(10)),
        })
    }

    /// The webhook of `[alerts]`, if one is configured.
    pub fn from_config(config: &AlertsConfig) -> Result<Option<Self>, SinkError> {
        config
            .webhook
            .as_deref()
            .map(|u| WebhookSink::new(u, config.webhook_timeout, config.webhook_retries))
            .transpose()
    }

    /// Changes the retry backoff (first wait `base`, doubling up to `max`).
    pub fn with_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff = Backoff::new(base, max);
        self
    }

    async fn attempt(&self, body: &[u8]) -> Result<(), SinkError> {
        let resp = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await
            // The error text would otherwise include the URL and its secret path.
            .map_err(|e| SinkError::Http(e.without_url()))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SinkError::Status {
                status: status.as_u16(),
            })
        }
    }
}

impl AlertSink for WebhookSink {
    fn name(&self) -> &str {
        "webhook"
    }

    fn send<'a>(&'a self, alert: &'a Alert) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let body = serde_json::to_vec(alert)?;
            let mut attempt = 0u32;
            loop {
                let err = match self.attempt(&body).await {
                    Ok(()) => return Ok(()),
                    Err(e) => e,
                };
                if !err.is_retryable() {
                    return Err(err);
                }
                if attempt >= self.retries {
                    return Err(SinkError::GaveUp {
                        attempts: attempt + 1,
                        last: Box::new(err),
                    });
                }
                tracing::debug!(host = self.url.host_str().unwrap_or(""), attempt, error = %err, "webhook attempt failed; retrying");
                tokio::time::sleep(self.backoff.delay(attempt)).await;
                attempt += 1;
            }
        })
    }
}

/// Counters of one sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkStats {
    pub sink: String,
    /// Delivered.
    pub sent: u64,
    /// The sink gave up on them (after its own retries), or they were in flight
    /// when [`AlertDispatcher::shutdown`] timed out.
    pub failed: u64,
    /// Pushed out of a full queue, or still queued when shutdown timed out.
    pub dropped: u64,
    /// Waiting in the queue now.
    pub queued: usize,
}

struct Lane {
    queue: Mutex<VecDeque<Alert>>,
    notify: Notify,
    closed: AtomicBool,
    in_flight: AtomicBool,
    capacity: usize,
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

impl Lane {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Alert>> {
        // A panic while holding the lock cannot leave the queue inconsistent.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Fans alerts out to sinks through bounded per-sink queues (see the module docs).
pub struct AlertDispatcher {
    lanes: Vec<(String, Arc<Lane>, JoinHandle<()>)>,
}

impl std::fmt::Debug for AlertDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertDispatcher")
            .field("stats", &self.stats())
            .finish()
    }
}

impl AlertDispatcher {
    /// Starts one background task per sink (call inside a tokio runtime). Each
    /// sink queues at most `queue_capacity` alerts (at least 1).
    pub fn new(sinks: Vec<Arc<dyn AlertSink>>, queue_capacity: usize) -> Self {
        let lanes = sinks
            .into_iter()
            .map(|sink| {
                let lane = Arc::new(Lane {
                    queue: Mutex::new(VecDeque::new()),
                    notify: Notify::new(),
                    closed: AtomicBool::new(false),
                    in_flight: AtomicBool::new(false),
                    capacity: queue_capacity.max(1),
                    sent: AtomicU64::new(0),
                    failed: AtomicU64::new(0),
                    dropped: AtomicU64::new(0),
                });
                let name = sink.name().to_string();
                let task = tokio::spawn(drain(sink, lane.clone()));
                (name, lane, task)
            })
            .collect();
        AlertDispatcher { lanes }
    }

    /// Queues `alerts` for every sink and returns at once; never waits for a sink.
    pub fn dispatch(&self, alerts: &[Alert]) {
        if alerts.is_empty() {
            return;
        }
        for (name, lane, _) in &self.lanes {
            let mut dropped = 0u64;
            {
                let mut q = lane.lock();
                for a in alerts {
                    if q.len() >= lane.capacity {
                        q.pop_front();
                        dropped += 1;
                    }
                    q.push_back(a.clone());
                }
            }
            if dropped > 0 {
                lane.dropped.fetch_add(dropped, Ordering::Relaxed);
                tracing::warn!(sink = %name, dropped, capacity = lane.capacity, "alert queue full; dropped the oldest alerts");
            }
            lane.notify.notify_one();
        }
    }

    /// Counters per sink, in the order the sinks were given.
    pub fn stats(&self) -> Vec<SinkStats> {
        self.lanes
            .iter()
            .map(|(name, lane, _)| SinkStats {
                sink: name.clone(),
                sent: lane.sent.load(Ordering::Relaxed),
                failed: lane.failed.load(Ordering::Relaxed),
                dropped: lane.dropped.load(Ordering::Relaxed),
                queued: lane.lock().len(),
            })
            .collect()
    }

    /// Stops accepting alerts and waits up to `timeout` for the queues to drain.
    /// Sinks still busy then are cancelled: their queued alerts count as
    /// dropped and the one in flight as failed. Returns the final counters.
    pub async fn shutdown(mut self, timeout: Duration) -> Vec<SinkStats> {
        for (_, lane, _) in &self.lanes {
            lane.closed.store(true, Ordering::SeqCst);
            lane.notify.notify_one();
        }
        let all = futures::future::join_all(self.lanes.iter_mut().map(|(_, _, t)| t));
        if tokio::time::timeout(timeout, all).await.is_err() {
            for (name, lane, task) in &mut self.lanes {
                // A handle join_all already saw complete must not be polled again.
                if !task.is_finished() {
                    task.abort();
                    let _ = task.await;
                }
                let left = std::mem::take(&mut *lane.lock()).len() as u64;
                lane.dropped.fetch_add(left, Ordering::Relaxed);
                if lane.in_flight.swap(false, Ordering::SeqCst) {
                    lane.failed.fetch_add(1, Ordering::Relaxed);
                }
                if left > 0 {
                    tracing::warn!(sink = %name, undelivered = left, "alert sink did not drain before shutdown timeout");
                }
            }
        }
        self.stats()
    }
}

async fn drain(sink: Arc<dyn AlertSink>, lane: Arc<Lane>) {
    loop {
        let next = lane.lock().pop_front();
        match next {
            Some(alert) => {
                lane.in_flight.store(true, Ordering::SeqCst);
                let result = sink.send(&alert).await;
                lane.in_flight.store(false, Ordering::SeqCst);
                match result {
                    Ok(()) => {
                        lane.sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        lane.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(sink = sink.name(), alert = %alert.id, error = %e, "alert not delivered");
                    }
                }
            }
            None if lane.closed.load(Ordering::SeqCst) => return,
            None => lane.notify.notified().await,
        }
    }
}
