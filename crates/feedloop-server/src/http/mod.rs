//! The HTTP server of `feedloop run`: Prometheus `/metrics`, `/healthz` and
//! `/readyz` probes, a JSON API over the `alerts` and `metrics` tables and the
//! retraining datasets, `POST /api/v1/corrections`, and a page at `/` with
//! server-rendered SVG charts.
//!
//! Authentication: when `http.token` is set, `/api/v1/*` and `/` need
//! `Authorization: Bearer <token>` (the page also takes HTTP Basic auth with the
//! token as password, so a browser can log in). `/metrics`, `/healthz` and
//! `/readyz` stay open for scrapers and probes. Without a token the server only
//! binds loopback addresses.

mod api;
pub mod page;
pub mod prom;
pub mod svg;

use crate::config::{Config, HttpConfig};
use crate::error::ServerError;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use feedloop_alerts::AlertDispatcher;
use feedloop_analytics::LandingSession;
use feedloop_events::Limits;
use feedloop_ingest::IngestMetrics;
use feedloop_storage::Storage;
use rdkafka::producer::FutureProducer;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};

/// What the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct HttpState {
    inner: Arc<Inner>,
}

struct Inner {
    config: HttpConfig,
    storage: Storage,
    session: LandingSession,
    ingest: Arc<IngestMetrics>,
    /// Weak: the server must not keep the dispatcher from shutting down.
    dispatcher: Weak<AlertDispatcher>,
    producer: FutureProducer,
    corrections_topic: String,
    limits: Limits,
    k: f64,
    corrections_accepted: AtomicU64,
    started_at: f64,
    /// The window jobs, exports and jobs lease of `feedloop run`.
    jobs: Arc<crate::jobs::JobMetrics>,
}

impl HttpState {
    /// Builds the state of `feedloop run`'s server from its config and parts.
    pub async fn new(
        config: &Config,
        storage: Storage,
        ingest: Arc<IngestMetrics>,
        dispatcher: Option<&Arc<AlertDispatcher>>,
    ) -> Result<HttpState, ServerError> {
        let session = LandingSession::new(&storage).await?;
        let producer =
            crate::kafka_producer::producer(&config.kafka.brokers, &config.kafka.options)?;
        Ok(HttpState {
            inner: Arc::new(Inner {
                config: config.http.clone(),
                storage,
                session,
                ingest,
                dispatcher: dispatcher.map(Arc::downgrade).unwrap_or_default(),
                producer,
                corrections_topic: config.kafka.topics.corrections.clone(),
                limits: config.ingest.limits.clone(),
                k: config.alerts.k,
                corrections_accepted: AtomicU64::new(0),
                started_at: chrono::Utc::now().timestamp_millis() as f64 / 1000.0,
                jobs: Arc::default(),
            }),
        })
    }

    /// Reports the given jobs' metrics (only before the state is shared).
    pub fn with_jobs(mut self, jobs: Arc<crate::jobs::JobMetrics>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.jobs = jobs;
        }
        self
    }
}

/// The routes.
pub fn router(state: HttpState) -> Router {
    let protected = Router::new()
        .route("/", get(page::page))
        .route("/api/v1/alerts", get(api::alerts))
        .route("/api/v1/metrics", get(api::metrics))
        .route("/api/v1/datasets", get(api::datasets))
        .route("/api/v1/corrections", post(api::corrections))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ));
    Router::new()
        .route("/metrics", get(prom::metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(protected)
        .layer(DefaultBodyLimit::max(state.inner.config.max_body_bytes))
        .with_state(state)
}

/// Serves on `listen` until `shutdown` completes (then finishes requests in flight).
pub async fn serve(
    state: HttpState,
    listen: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let listener = bind(listen).await?;
    serve_on(state, listener, shutdown).await
}

async fn bind(listen: SocketAddr) -> Result<tokio::net::TcpListener, ServerError> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| ServerError::Listen {
            addr: listen,
            error,
        })
}

async fn serve_on(
    state: HttpState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let addr = listener.local_addr()?;
    if state.inner.config.token.is_none() {
        tracing::info!(%addr, "HTTP API listening, open without a token: loopback only");
    } else {
        tracing::info!(%addr, "HTTP API listening (bearer token required for /api and /)");
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// For `feedloop run`: when `[http] enabled`, binds now (a busy port or a
/// refused address is a start-up error) and serves in a task until `stop` flips.
pub async fn start(
    config: &Config,
    storage: Storage,
    ingest: Arc<IngestMetrics>,
    dispatcher: Option<&Arc<AlertDispatcher>>,
    jobs: Arc<crate::jobs::JobMetrics>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Option<tokio::task::JoinHandle<()>>, ServerError> {
    if !config.http.enabled {
        return Ok(None);
    }
    let listen = config.http.listen_addr()?;
    let state = HttpState::new(config, storage, ingest, dispatcher)
        .await?
        .with_jobs(jobs);
    let listener = bind(listen).await?;
    Ok(Some(tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = serve_on(state, listener, shutdown).await {
            tracing::error!(error = %e, "HTTP server failed");
        }
    })))
}

async fn healthz() -> impl IntoResponse {
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({"status": "ok"})),
    )
}

async fn readyz(State(st): State<HttpState>) -> Response {
    let not_ready = |reason: String| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"ready": false, "reason": reason})),
        )
            .into_response()
    };
    let probe = object_store::path::Path::from_iter([
        feedloop_storage::layout::TMP_DIR.to_string(),
        format!("readyz-{}-{}", std::process::id(), rand::random::<u64>()),
    ]);
    if let Err(e) = st
        .inner
        .storage
        .put_overwrite(&probe, bytes::Bytes::from_static(b"ok"))
        .await
    {
        return not_ready(format!("storage is not writable: {e}"));
    }
    if let Err(e) = st.inner.storage.delete(&probe).await {
        return not_ready(format!("storage probe could not be deleted: {e}"));
    }
    if let Some(down) = st.inner.ingest.brokers_down_for() {
        return not_ready(format!(
            "no Kafka broker reachable for {}s: ingest is paused (nothing is lost; it resumes when a broker is back)",
            down.as_secs()
        ));
    }
    // Membership first: the pipeline publishes it after the partition list,
    // so a member seen as placed has its partitions listed already.
    let member = st
        .inner
        .ingest
        .group_member
        .load(std::sync::atomic::Ordering::Acquire);
    let assigned = st
        .inner
        .ingest
        .assigned
        .lock()
        .map(|a| a.len())
        .unwrap_or(0);
    if assigned == 0 && !member {
        return not_ready("no Kafka partitions assigned yet".into());
    }
    // A member left without partitions (more instances than partitions) is a
    // healthy standby: it serves the API and may hold the jobs lease.
    let mut body = serde_json::json!({"ready": true, "assigned_partitions": assigned});
    if assigned == 0 {
        body["standby"] = "group member without partitions (more instances than partitions)".into();
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// Constant-time equality (length leaks, content does not).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn token_ok(headers: &HeaderMap, token: &str) -> bool {
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    if let Some(t) = v.strip_prefix("Bearer ") {
        return ct_eq(t.trim().as_bytes(), token.as_bytes());
    }
    if let Some(b) = v.strip_prefix("Basic ") {
        use base64::Engine;
        if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b.trim()) {
            // user:password; the user is ignored, the password is the token.
            if let Some(pos) = raw.iter().position(|c| *c == b':') {
                return ct_eq(&raw[pos + 1..], token.as_bytes());
            }
        }
    }
    false
}

async fn require_token(State(st): State<HttpState>, req: Request, next: Next) -> Response {
    if let Some(token) = &st.inner.config.token
        && !token_ok(req.headers(), token)
    {
        let mut resp = api::error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token",
            None,
            None,
        );
        if req.uri().path() == "/" {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"feedloop\""),
            );
        } else {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        return resp;
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let mut h = HeaderMap::new();
        assert!(!token_ok(&h, "abc"));
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert!(token_ok(&h, "abc"));
        assert!(!token_ok(&h, "abd"));
        assert!(!token_ok(&h, "abcd"));
        // "user:abc"
        h.insert(header::AUTHORIZATION, "Basic dXNlcjphYmM=".parse().unwrap());
        assert!(token_ok(&h, "abc"));
        assert!(!token_ok(&h, "xyz"));
    }
}
