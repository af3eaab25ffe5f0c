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
//! * **Per closed window**, in order: compute the rows ([`super::compute`] and the
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

use super::compute::{self, ModelKey};
use super::config::{ReferenceSource, WindowsConfig};
use super::history::{self, AlertRow, MetricRow};
use super::index::LandingIndex;
use super::profiles::{self, OUTPUT_LABEL, OUTPUT_SCORE, OUTPUT_VALUE, Samples};
use crate::AnalyticsError;
use datafusion::execution::context::SessionContext;
use feedloop_drift::profile::{
    ProfileConfig, ProfileDriftOptions, ReferenceProfile, Value, WindowCounts, profile_drift,
};
use feedloop_events::StreamKind;
use feedloop_storage::{LandingZone, PutOutcome, Storage};
use futures::future::BoxFuture;
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Turns a closed window's metric rows into alert transitions; its state is
/// persisted with the job's.
pub trait WindowObserver: Send + Sync {
    fn observe(&mut self, window_start: i64, window_end: i64, rows: &[MetricRow]) -> Vec<AlertRow>;
    /// Delivers alerts once they are recorded in the `alerts` table.
    fn deliver(&mut self, alerts: &[AlertRow]);
    /// The alerts of the last `observe` were delivered before (by an earlier
    /// run of this window): drop them without delivering.
    fn skip_delivery(&mut self) {}
    fn save_state(&self) -> serde_json::Value;
    fn restore_state(&mut self, state: serde_json::Value) -> Result<(), String>;
}

/// More metrics for a closed window (e.g. correction coverage and error rate).
pub trait MetricSource: Send + Sync {
    fn compute<'a>(
        &'a self,
        ctx: &'a SessionContext,
        storage: &'a Storage,
        window_start: i64,
        window_end: i64,
        segments: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<MetricRow>, AnalyticsError>>;
}

/// What the job persists between runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JobState {
    pub format_version: u32,
    /// Start of the next window to close (epoch ms).
    pub cursor: Option<i64>,
    pub index: LandingIndex,
    /// Start of the first window each model version (`model/version`) was seen in.
    pub first_seen: BTreeMap<String, i64>,
    /// Late-event rows waiting for the next window's metrics file.
    #[serde(default)]
    pub pending_late: Vec<(String, String, i64, f64)>,
    /// The observer's state.
    #[serde(default)]
    pub observer: serde_json::Value,
}

/// What closing one window produced.
#[derive(Debug, Clone)]
pub struct WindowReport {
    pub window_start: i64,
    pub window_end: i64,
    pub rows: Vec<MetricRow>,
    pub alerts: Vec<AlertRow>,
}

pub const STATE_PATH: &str = "state/windows.json";
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
    profiles: BTreeMap<ModelKey, ReferenceProfile>,
    observer: Option<Box<dyn WindowObserver>>,
    sources: Vec<Box<dyn MetricSource>>,
    profile_config: ProfileConfig,
    fence: Option<Fence>,
}

/// Asked before each window is closed: `false` stops the tick (this instance
/// no longer holds the jobs lease; the next holder closes the rest).
pub type Fence = Box<dyn Fn() -> bool + Send + Sync>;

/// Where a window's alert delivery is recorded (`<storage>/state/alerts-delivered/<start>`),
/// so a window recomputed after a crash or a failover is not delivered twice.
fn delivered_marker(window_start: i64) -> Path {
    Path::from(format!(
        "state/alerts-delivered/{:020}",
        window_start.max(0)
    ))
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
        let state = match storage.get(&Path::from(STATE_PATH)).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                AnalyticsError::Input(format!("{STATE_PATH} is not a window-job state: {e}"))
            })?,
            Err(feedloop_storage::StorageError::ObjectStore {
                source: object_store::Error::NotFound { .. },
                ..
            }) => JobState::default(),
            Err(e) => return Err(e.into()),
        };
        Ok(WindowJob {
            zone: LandingZone::new(storage.clone()),
            config,
            storage,
            ctx,
            state,
            profiles: BTreeMap::new(),
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
        let new_files = self.state.index.refresh(&self.zone).await?;
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
            // Load a batch of closable windows into memory once (bounded by an
            // estimate of its rows), then close them one by one.
            let mut n = closable.min(MAX_BATCH_WINDOWS);
            while n > 1 && self.estimated_rows(start, start + n * size) > MAX_BATCH_ROWS {
                n /= 2;
            }
            let end = start + n * size;
            for (stream, table) in [
                (StreamKind::Predictions, "tick_predictions"),
                (StreamKind::Latency, "tick_latency"),
            ] {
                let files = self.state.index.overlapping(stream, start, end);
                compute::load_range_table(
                    &self.ctx,
                    &self.storage,
                    table,
                    stream,
                    &files,
                    start,
                    end,
                )
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
        let mut rows = self.compute_rows(start, end).await?;
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
        let now = chrono::Utc::now().timestamp_millis();
        history::write_window(
            &self.storage,
            history::METRICS_DIR,
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
                history::ALERTS_DIR,
                start,
                &history::alerts_batch(&alerts)?,
            )
            .await?;
            // A recomputed window (after a crash or a failover) is delivered
            // again only if its delivery was not recorded.
            let marker = delivered_marker(start);
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
        self.state.cursor = Some(end);
        self.state.index.evict_before(end);
        if let Some(o) = &self.observer {
            self.state.observer = o.save_state();
        }
        self.save_state().await?;
        tracing::debug!(rows = rows.len(), alerts = alerts.len(), "window closed");
        Ok(WindowReport {
            window_start: start,
            window_end: end,
            rows,
            alerts,
        })
    }

    async fn save_state(&self) -> Result<(), AnalyticsError> {
        let json = serde_json::to_vec(&self.state)
            .map_err(|e| AnalyticsError::Execution(e.to_string()))?;
        self.storage
            .put_overwrite(&Path::from(STATE_PATH), json.into())
            .await?;
        Ok(())
    }

    async fn compute_rows(
        &mut self,
        start: i64,
        end: i64,
    ) -> Result<Vec<MetricRow>, AnalyticsError> {
        let ctx = self.ctx.clone();
        compute::register_filtered_view(&ctx, "w_predictions", "tick_predictions", start, end)
            .await?;
        compute::register_filtered_view(&ctx, "w_latency", "tick_latency", start, end).await?;

        let mut rows = Vec::new();
        let samples = compute::collect_samples(&ctx, "w_predictions").await?;
        for key in samples.keys() {
            self.state.first_seen.entry(model_id(key)).or_insert(start);
        }
        // Volume, with an explicit 0 for every known model version that sent nothing.
        let volume = compute::volume(&ctx, "w_predictions", &self.config.segments).await?;
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
        for (key, vals) in compute::latency(&ctx, "w_latency").await? {
            for (metric, v) in vals {
                rows.push(compute::row(start, end, &key, metric, None, v));
            }
        }
        for (key, s) in &samples {
            if let Some(profile) = self.profile_for(key, start).await? {
                rows.extend(drift_rows(start, end, key, &profile, s));
            }
        }
        for source in &self.sources {
            rows.extend(
                source
                    .compute(&ctx, &self.storage, start, end, &self.config.segments)
                    .await?,
            );
        }
        Ok(rows)
    }

    /// The reference profile of a model version, building and storing it once its
    /// reference data is complete; `None` until then.
    pub async fn profile_for(
        &mut self,
        key: &ModelKey,
        window_start: i64,
    ) -> Result<Option<ReferenceProfile>, AnalyticsError> {
        if let Some(p) = self.profiles.get(key) {
            return Ok(Some(p.clone()));
        }
        if let Some(p) = profiles::load(&self.storage, &key.0, &key.1).await? {
            self.profiles.insert(key.clone(), p.clone());
            return Ok(Some(p));
        }
        let size = self.config.size_ms();
        let source = self
            .config
            .models
            .get(&key.0)
            .and_then(|m| m.reference.clone())
            .unwrap_or(ReferenceSource::FirstWindows {
                first_windows: self.config.reference_windows,
            });
        let samples = match &source {
            ReferenceSource::FirstWindows { first_windows } => {
                let Some(first) = self.state.first_seen.get(&model_id(key)).copied() else {
                    return Ok(None);
                };
                let until = first + *first_windows as i64 * size;
                if window_start < until {
                    return Ok(None);
                }
                self.landing_samples(key, first, until).await?
            }
            ReferenceSource::Range { since, until } => {
                let parse = |s: &str| {
                    chrono::DateTime::parse_from_rfc3339(s)
                        .map(|t| t.timestamp_millis())
                        .map_err(|e| AnalyticsError::Input(e.to_string()))
                };
                let (a, b) = (parse(since)?, parse(until)?);
                if window_start < b {
                    return Ok(None);
                }
                self.landing_samples(key, a, b).await?
            }
            ReferenceSource::File { file } => file_samples(&self.ctx, file).await?,
        };
        if samples.features.is_empty() {
            tracing::warn!(model = %key.0, version = %key.1, "reference has no data; drift is not computed for this version");
            return Ok(None);
        }
        let profile = samples.build_profile(&self.profile_config)?;
        let profile = profiles::save(&self.storage, &key.0, &key.1, profile).await?;
        tracing::info!(model = %key.0, version = %key.1, rows = samples.rows, features = profile.features.len(), "reference profile built and stored");
        self.profiles.insert(key.clone(), profile.clone());
        Ok(Some(profile))
    }

    async fn landing_samples(
        &self,
        key: &ModelKey,
        from: i64,
        until: i64,
    ) -> Result<Samples, AnalyticsError> {
        let files: Vec<super::index::IndexedFile> = {
            // The index only keeps recent files: list the model's whole table range.
            let mut idx = LandingIndex::default();
            idx.refresh(&self.zone).await?;
            idx.files
        };
        let overlapping: Vec<_> = files
            .iter()
            .filter(|f| f.stream == StreamKind::Predictions && f.ts_min < until && f.ts_max >= from)
            .collect();
        compute::register_window_table(
            &self.ctx,
            &self.storage,
            "ref_all",
            StreamKind::Predictions,
            &overlapping,
            from,
            until,
        )
        .await?;
        let q = format!(
            "SELECT * FROM ref_all WHERE model = {} AND model_version = {}",
            compute::sql_string(&key.0),
            compute::sql_string(&key.1)
        );
        let df = self.ctx.sql(&q).await?;
        let _ = self.ctx.deregister_table("ref_model");
        self.ctx.register_table("ref_model", df.into_view())?;
        let mut all = compute::collect_samples(&self.ctx, "ref_model").await?;
        Ok(all.remove(key).unwrap_or_default())
    }
}

/// Samples from a flat Parquet reference file: one column per feature.
async fn file_samples(ctx: &SessionContext, file: &str) -> Result<Samples, AnalyticsError> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::DataType;
    let batches = ctx
        .read_parquet(file, datafusion::prelude::ParquetReadOptions::default())
        .await?
        .collect()
        .await?;
    let mut s = Samples::default();
    for b in &batches {
        s.rows += b.num_rows() as u64;
        for (field, a) in b.schema().fields().iter().zip(b.columns()) {
            let name = match field.name().as_str() {
                "output_score" => OUTPUT_SCORE,
                "output_label" => OUTPUT_LABEL,
                "output_value" => OUTPUT_VALUE,
                n => n,
            };
            let f = s.feature(name);
            match a.data_type() {
                DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Dictionary(..) => {
                    let a = arrow::compute::cast(a, &DataType::Utf8)?;
                    for v in a.as_string::<i32>().iter() {
                        match v {
                            Some(v) => f.strings.push(v.to_string()),
                            None => f.nulls += 1,
                        }
                    }
                }
                DataType::Boolean => {
                    for v in a.as_boolean().iter() {
                        match v {
                            Some(v) => f.bools.push(v),
                            None => f.nulls += 1,
                        }
                    }
                }
                t if t.is_numeric() => {
                    let a = arrow::compute::cast(a, &DataType::Float64)?;
                    for v in a.as_primitive::<arrow::datatypes::Float64Type>().iter() {
                        match v {
                            Some(v) => f.numbers.push(v),
                            None => f.nulls += 1,
                        }
                    }
                }
                _ => {}
            }
        }
    }
    s.features
        .retain(|_, f| !(f.numbers.is_empty() && f.strings.is_empty() && f.bools.is_empty()));
    Ok(s)
}

/// Drift rows of one model version's window against its profile: one `drift`
/// row per input feature, one `prediction_drift` row per output, and the share
/// of drifted input features as `drift_share`.
fn drift_rows(
    start: i64,
    end: i64,
    key: &ModelKey,
    profile: &ReferenceProfile,
    s: &Samples,
) -> Vec<MetricRow> {
    use feedloop_drift::profile::{FeatureProfile, ValueType};
    let mut counts = WindowCounts::new(profile);
    let mut raw: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (name, sample) in &s.features {
        let Some(fp) = profile.features.get(name) else {
            continue;
        };
        let (numeric, int_categorical) = match fp {
            FeatureProfile::Numeric(_) => (true, false),
            FeatureProfile::Categorical(c) => (
                false,
                c.value_type == ValueType::Int || c.value_type == ValueType::Float,
            ),
        };
        for x in &sample.numbers {
            let v = if int_categorical && x.fract() == 0.0 {
                Value::Int(*x as i64)
            } else {
                Value::Float(*x)
            };
            let _ = counts.observe(name, v);
        }
        for x in &sample.strings {
            let _ = counts.observe(name, Value::Str(x));
        }
        for x in &sample.bools {
            let _ = counts.observe(name, Value::Bool(*x));
        }
        for _ in 0..sample.nulls {
            let _ = counts.observe(name, Value::Null);
        }
        if numeric && !sample.numbers.is_empty() {
            raw.insert(name.clone(), sample.numbers.clone());
        }
    }
    let opts = ProfileDriftOptions {
        raw_values: raw.iter().map(|(k, v)| (k.clone(), v.as_slice())).collect(),
        ..Default::default()
    };
    let Ok(drift) = profile_drift(profile, &counts, &opts) else {
        return vec![];
    };
    let mut rows = Vec::new();
    let (mut inputs, mut drifted) = (0usize, 0usize);
    for (name, fd) in &drift.features {
        let (metric, feature) = match name.strip_prefix('@') {
            Some(output) => ("prediction_drift", output.to_string()),
            None => {
                inputs += 1;
                drifted += usize::from(fd.result.drift);
                ("drift", name.clone())
            }
        };
        let mut r = compute::row(start, end, key, metric, Some(&feature), fd.result.score);
        r.test = Some(fd.result.test.name().to_string());
        r.threshold = Some(fd.result.threshold);
        r.drift = Some(fd.result.drift);
        rows.push(r);
    }
    if inputs > 0 {
        rows.push(compute::row(
            start,
            end,
            key,
            "drift_share",
            None,
            drifted as f64 / inputs as f64,
        ));
    }
    rows
}
