//! [`WindowJob`]: closes event-time windows as the watermark passes them and
//! turns each into metric rows, alerts and durable history.
//!
//! * **Watermark** = the latest event time in the landing zone − `allowed_lateness`,
//!   where "latest" is taken over the partitions still receiving data: the
//!   smallest of their latest event times, so a lagging partition holds windows
//!   open; a partition with no new file for `partition_idle_timeout` stops
//!   holding them (and when all are idle, the latest event time overall counts).
//!   A window `[start, start + size)` closes when the watermark reaches its end.
//! * **Late events** (landed after their window closed) are counted as
//!   `late_events` rows of the window they belong to; they do not change the
//!   window's other metrics.
//! * **Per closed window**, in order: compute the rows ([`crate::compute`] and the
//!   extra [`MetricSource`]s), write the `metrics` file (create-if-absent), let
//!   the [`WindowObserver`] (the alert engine) turn rows into alerts, write the
//!   `alerts` file, hand the alerts over for delivery, then persist the job
//!   state (`<storage>/state/windows.json`). A crash anywhere recomputes the
//!   window from the same landing data, so the history files are never
//!   duplicated and the observer (whose state is saved with the cursor) sees
//!   each window once. A window's delivery is recorded once its alerts are
//!   handed to the sinks, and a recomputed window is not delivered again; a
//!   crash between the hand-over and the record re-delivers the same alert ids.
//! * **Fence**: with [`WindowJob::with_fence`], each window is closed only while
//!   this instance holds the jobs lease (scale-out, see `feedloop_storage::lease`).
//!
//! The reference profiles the drift rows need are found or built by the child
//! module `reference`; the state is [`JobState`].

mod reference;

use crate::compute::{self, ModelKey};
use crate::config::WindowsConfig;
use crate::drift::drift_rows;
use crate::hooks::{Fence, MetricSource, WindowObserver};
use crate::pool::{on_pool, window_pool};
use crate::profiles::Samples;
use crate::state::JobState;
use crate::walk::{LatencyAcc, Windows};
use crate::{read, walk};
use datafusion::execution::context::SessionContext;
use feedloop_analytics::AnalyticsError;
use feedloop_drift::profile::{ProfileConfig, ReferenceProfile};
use feedloop_events::StreamKind;
use feedloop_storage::history::{self, AlertRow, MetricRow};
use feedloop_storage::{LandingZone, PutOutcome, Storage, layout};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What closing one window produced.
#[derive(Debug, Clone)]
pub struct WindowReport {
    pub window_start: i64,
    pub window_end: i64,
    pub rows: Vec<MetricRow>,
    pub alerts: Vec<AlertRow>,
}

/// Most windows closed from one in-memory load.
const MAX_BATCH_WINDOWS: i64 = 48;
/// Rows above which a batch of windows is split.
const MAX_BATCH_ROWS: f64 = 4_000_000.0;

pub struct WindowJob {
    config: WindowsConfig,
    storage: Storage,
    zone: LandingZone,
    ctx: SessionContext,
    state: JobState,
    profiles: BTreeMap<ModelKey, Arc<ReferenceProfile>>,
    /// The rows of the windows being closed, read and folded once per batch of windows.
    loaded: Loaded,
    /// The job's own CPU threads: walking rows and drift statistics run here,
    /// never on the async runtime that ingest shares.
    pool: Arc<rayon::ThreadPool>,
    observer: Option<Box<dyn WindowObserver>>,
    sources: Vec<Box<dyn MetricSource>>,
    profile_config: ProfileConfig,
    fence: Option<Fence>,
}

/// The predictions and latency events of the windows being closed, folded
/// per window (index within `windows`) and model version as they were read:
/// closing a window takes its part, so it costs about its own rows.
#[derive(Default)]
struct Loaded {
    windows: Option<Windows>,
    predictions: Vec<BTreeMap<ModelKey, Samples>>,
    latency: Vec<BTreeMap<ModelKey, LatencyAcc>>,
}

fn model_id(k: &ModelKey) -> String {
    format!("{}/{}", k.0, k.1)
}

fn split_model_id(s: &str) -> Option<ModelKey> {
    s.split_once('/')
        .map(|(a, b)| (a.to_string(), b.to_string()))
}

impl WindowJob {
    /// Opens the job on `storage`, restoring its state if there is one.
    pub async fn open(
        config: WindowsConfig,
        storage: Storage,
        ctx: SessionContext,
    ) -> Result<WindowJob, AnalyticsError> {
        let state = JobState::load(&storage).await?;
        Ok(WindowJob {
            zone: LandingZone::new(storage.clone()),
            config,
            storage,
            ctx,
            state,
            profiles: BTreeMap::new(),
            loaded: Loaded::default(),
            pool: Arc::new(window_pool()?),
            observer: None,
            sources: Vec::new(),
            profile_config: ProfileConfig::default(),
            fence: None,
        })
    }

    /// Attaches the alert engine (or another observer), restoring its saved state.
    pub fn with_observer(
        mut self,
        mut observer: Box<dyn WindowObserver>,
    ) -> Result<Self, AnalyticsError> {
        if !self.state.observer.is_null() {
            observer
                .restore_state(self.state.observer.clone())
                .map_err(AnalyticsError::Input)?;
        }
        self.observer = Some(observer);
        Ok(self)
    }

    /// Checks `fence` before closing each window (see [`Fence`]).
    pub fn with_fence(mut self, fence: Fence) -> Self {
        self.fence = Some(fence);
        self
    }

    pub fn with_source(mut self, source: Box<dyn MetricSource>) -> Self {
        self.sources.push(source);
        self
    }

    pub fn state(&self) -> &JobState {
        &self.state
    }

    /// The current watermark (epoch ms), once any event has landed.
    pub fn watermark(&self) -> Option<i64> {
        self.state
            .index
            .progress(self.config.partition_idle_timeout)
            .map(|t| t - self.config.lateness_ms())
    }

    /// Discovers new landing files and closes every window the watermark passed.
    pub async fn tick(&mut self) -> Result<Vec<WindowReport>, AnalyticsError> {
        let size = self.config.size_ms();
        let refreshing = std::time::Instant::now();
        let new_files = self.state.index.refresh(&self.zone).await?;
        tracing::debug!(
            new_files = new_files.len(),
            refresh_ms = refreshing.elapsed().as_millis() as u64,
            "landing index refreshed"
        );
        let Some(min_ts) = self.state.index.min_ts else {
            return Ok(vec![]);
        };
        let cursor = *self
            .state
            .cursor
            .get_or_insert(min_ts.div_euclid(size) * size);
        // Late events: rows of new files that belong to windows already closed.
        let late_files: Vec<_> = new_files
            .iter()
            .filter(|f| f.stream == StreamKind::Predictions && f.ts_min < cursor)
            .collect();
        if !late_files.is_empty() {
            compute::register_window_table(
                &self.ctx,
                &self.storage,
                "late_predictions",
                StreamKind::Predictions,
                &late_files,
                i64::MIN / 2,
                cursor,
            )
            .await?;
            for ((m, v), w, n) in
                compute::late_events(&self.ctx, "late_predictions", cursor, size).await?
            {
                self.state.pending_late.push((m, v, w, n));
            }
        }
        let mut reports = Vec::new();
        while let Some(wm) = self.watermark() {
            let start = self.state.cursor.unwrap_or(cursor);
            let closable = (wm - start).div_euclid(size);
            if closable <= 0 {
                break;
            }
            // Read a batch of closable windows once (bounded by an estimate of
            // its rows), folded per window as it is decoded, then close them
            // one by one.
            let mut n = closable.min(MAX_BATCH_WINDOWS);
            while n > 1 && self.estimated_rows(start, start + n * size) > MAX_BATCH_ROWS {
                n /= 2;
            }
            let windows = Windows {
                start,
                size,
                count: usize::try_from(n).unwrap_or(1),
            };
            self.loaded = self.load(windows).await?;
            for source in &self.sources {
                source
                    .prepare(start, size, windows.count, &self.config.segments)
                    .await?;
            }
            for i in 0..n {
                if self.fence.as_ref().is_some_and(|may_go_on| !may_go_on()) {
                    tracing::info!("window job fenced off (jobs lease no longer held)");
                    return Ok(reports);
                }
                let ws = start + i * size;
                reports.push(self.close_window(ws, ws + size).await?);
            }
        }
        Ok(reports)
    }

    /// Reads the landing files overlapping `windows` and folds their rows per
    /// window as each batch is decoded (on the job's pool).
    async fn load(&self, windows: Windows) -> Result<Loaded, AnalyticsError> {
        let (start, end) = (windows.start, windows.end());
        let loading = std::time::Instant::now();
        let files = self
            .state
            .index
            .overlapping(StreamKind::Predictions, start, end);
        let segments = Arc::new(self.config.segments.clone());
        let parts = read::fold_range(
            &self.storage,
            &self.pool,
            read::window_columns(StreamKind::Predictions, !segments.is_empty()),
            &files,
            start,
            end,
            move |b| walk::fold_predictions(b, &windows, &segments),
        )
        .await?;
        let read_ms = loading.elapsed().as_millis() as u64;
        let predictions = on_pool(&self.pool, move || walk::merge_samples(parts, &windows)).await?;
        let merged_ms = loading.elapsed().as_millis() as u64;
        let prediction_files = files.len();
        let files = self
            .state
            .index
            .overlapping(StreamKind::Latency, start, end);
        let parts = read::fold_range(
            &self.storage,
            &self.pool,
            read::window_columns(StreamKind::Latency, false),
            &files,
            start,
            end,
            move |b| walk::fold_latency(b, &windows),
        )
        .await?;
        let latency = on_pool(&self.pool, move || walk::merge_latency(parts, &windows)).await?;
        tracing::debug!(
            windows = windows.count,
            prediction_files,
            latency_files = files.len(),
            read_ms,
            merged_ms,
            load_ms = loading.elapsed().as_millis() as u64,
            "windows read and folded"
        );
        Ok(Loaded {
            windows: Some(windows),
            predictions,
            latency,
        })
    }

    /// Rows of the indexed files expected in `[start, end)`, assuming each file's
    /// rows spread evenly over its event-time range.
    fn estimated_rows(&self, start: i64, end: i64) -> f64 {
        self.state
            .index
            .files
            .iter()
            .filter(|f| f.ts_min < end && f.ts_max >= start)
            .map(|f| {
                let span = (f.ts_max - f.ts_min).max(1) as f64;
                let overlap = (f.ts_max.min(end) - f.ts_min.max(start)).max(1) as f64;
                f.rows as f64 * (overlap / span).min(1.0)
            })
            .sum()
    }

    async fn close_window(&mut self, start: i64, end: i64) -> Result<WindowReport, AnalyticsError> {
        let span = tracing::info_span!("window", start, end);
        let _e = span.enter();
        let computing = std::time::Instant::now();
        let mut rows = self.compute_rows(start, end).await?;
        let compute_ms = computing.elapsed().as_millis() as u64;
        for (m, v, w, n) in std::mem::take(&mut self.state.pending_late) {
            rows.push(compute::row(
                w,
                w + self.config.size_ms(),
                &(m, v),
                "late_events",
                None,
                n,
            ));
        }
        // Each row carries the band the observer is about to judge it against,
        // so what is drawn from `metrics` is what fires alerts.
        if let Some(o) = &self.observer {
            for r in rows.iter_mut().filter(|r| r.window_start == start) {
                r.band = o.band(r);
            }
        }
        let writing = std::time::Instant::now();
        let now = chrono::Utc::now().timestamp_millis();
        history::write_window(
            &self.storage,
            layout::METRICS_DIR,
            start,
            &history::metrics_batch(&rows, now)?,
        )
        .await?;
        let alerts = match &mut self.observer {
            Some(o) => o.observe(start, end, &rows),
            None => Vec::new(),
        };
        if !alerts.is_empty() {
            let written = history::write_window(
                &self.storage,
                layout::ALERTS_DIR,
                start,
                &history::alerts_batch(&alerts)?,
            )
            .await?;
            // A recomputed window (after a crash or a failover) is delivered
            // again only if its delivery was not recorded.
            let marker = layout::alerts_delivered(start);
            let deliver = written == PutOutcome::Created
                || self.storage.get_if_exists(&marker).await?.is_none();
            if let Some(o) = &mut self.observer {
                if deliver {
                    o.deliver(&alerts);
                } else {
                    tracing::info!(
                        alerts = alerts.len(),
                        "alerts of this window were delivered before; not again"
                    );
                    o.skip_delivery();
                }
            }
            if deliver {
                self.storage
                    .put_if_absent(&marker, bytes::Bytes::new())
                    .await?;
            }
        }
        let write_ms = writing.elapsed().as_millis() as u64;
        let saving = std::time::Instant::now();
        self.state.cursor = Some(end);
        self.state.index.evict_before(end);
        if let Some(o) = &self.observer {
            self.state.observer = o.save_state();
        }
        self.state.save(&self.storage).await?;
        tracing::debug!(
            rows = rows.len(),
            alerts = alerts.len(),
            compute_ms,
            write_ms,
            save_ms = saving.elapsed().as_millis() as u64,
            "window closed"
        );
        Ok(WindowReport {
            window_start: start,
            window_end: end,
            rows,
            alerts,
        })
    }

    async fn compute_rows(
        &mut self,
        start: i64,
        end: i64,
    ) -> Result<Vec<MetricRow>, AnalyticsError> {
        let ctx = self.ctx.clone();
        let began = std::time::Instant::now();

        let mut rows = Vec::new();
        let at = self
            .loaded
            .windows
            .and_then(|w| w.position(start))
            .ok_or_else(|| {
                AnalyticsError::Execution(format!("window {start} was not read before closing"))
            })?;
        let samples = self
            .loaded
            .predictions
            .get_mut(at)
            .map(std::mem::take)
            .unwrap_or_default();
        let latency = self
            .loaded
            .latency
            .get_mut(at)
            .map(std::mem::take)
            .unwrap_or_default();
        let latency = on_pool(&self.pool, move || walk::latency_metrics(latency)).await?;
        let volume = walk::volume(&samples);
        let walked = began.elapsed();
        for key in samples.keys() {
            self.state.first_seen.entry(model_id(key)).or_insert(start);
        }
        // Volume, with an explicit 0 for every known model version that sent nothing.
        let known: Vec<ModelKey> = self
            .state
            .first_seen
            .keys()
            .filter_map(|k| split_model_id(k))
            .collect();
        for key in &known {
            if !volume.iter().any(|(k, seg, _)| k == key && seg.is_empty()) {
                rows.push(compute::row(start, end, key, "volume", None, 0.0));
            }
        }
        for (key, segment, n) in volume {
            let mut r = compute::row(start, end, &key, "volume", None, n);
            r.segment = segment;
            rows.push(r);
        }
        for (key, vals) in latency {
            for (metric, v) in vals {
                rows.push(compute::row(start, end, &key, metric, None, v));
            }
        }
        let mut drift_inputs = Vec::new();
        for (key, s) in samples {
            if let Some(profile) = self.profile_for(&key, start).await? {
                drift_inputs.push((key, profile, s));
            }
        }
        let drift = on_pool(&self.pool, move || {
            drift_inputs
                .into_iter()
                .flat_map(|(key, profile, s)| drift_rows(start, end, &key, &profile, s))
                .collect::<Vec<_>>()
        })
        .await?;
        rows.extend(drift);
        tracing::debug!(
            walk_ms = walked.as_millis() as u64,
            drift_ms = (began.elapsed() - walked).as_millis() as u64,
            "window read and drift computed"
        );
        for source in &self.sources {
            rows.extend(
                source
                    .compute(&ctx, &self.storage, start, end, &self.config.segments)
                    .await?,
            );
        }
        Ok(rows)
    }
}
