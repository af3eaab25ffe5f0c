//! Glue between the window job ([`feedloop_windows`]) and the alert
//! engine and sinks ([`feedloop_alerts`]): metric rows become observations,
//! alert transitions become `alerts` table rows and deliveries.

use feedloop_alerts::{
    Alert, AlertDispatcher, AlertEngine, AlertsConfig, DriftVerdict, EngineState, Observation,
    SeriesKey,
};
use feedloop_storage::MetricBand;
use feedloop_windows::{AlertRow, MetricRow, WindowObserver};
use std::sync::{Arc, Mutex};

/// Metrics that are bookkeeping, not signals: never alerted on.
const NOT_WATCHED: [&str; 2] = ["late_events", "requests"];

pub struct AlertObserver {
    config: AlertsConfig,
    engine: AlertEngine,
    dispatcher: Option<Arc<AlertDispatcher>>,
    pending: Vec<Alert>,
    /// Every alert delivered by this process (for `feedloop demo`'s summary).
    pub delivered: Arc<Mutex<Vec<Alert>>>,
}

impl AlertObserver {
    pub fn new(config: AlertsConfig, dispatcher: Option<Arc<AlertDispatcher>>) -> Self {
        AlertObserver {
            engine: AlertEngine::new(config.clone()),
            config,
            dispatcher,
            pending: Vec::new(),
            delivered: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

fn enum_str<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn to_row(a: &Alert, window_start: i64, window_end: i64) -> AlertRow {
    AlertRow {
        id: a.id.clone(),
        state: enum_str(&a.state),
        model: a.model.clone(),
        model_version: a.model_version.clone(),
        segment: a.segment.clone(),
        metric: a.metric.clone(),
        feature: a.feature.clone(),
        window_start,
        window_end,
        value: a.value,
        mean: a.mean,
        sigma: a.sigma,
        k: a.k,
        direction: a.direction.as_ref().map(enum_str),
        severity: enum_str(&a.severity),
        test: a.test.clone(),
        threshold: a.threshold,
        summary: a.summary.clone(),
    }
}

fn series_key(r: &MetricRow) -> SeriesKey {
    SeriesKey {
        model: r.model.clone(),
        model_version: r.model_version.clone(),
        segment: r.segment.clone(),
        metric: r.metric.clone(),
        feature: r.feature.clone(),
    }
}

impl WindowObserver for AlertObserver {
    /// The engine's band for the row's series: watched σ series past their
    /// first `min_history` windows (drift-test rows follow their verdict).
    fn band(&self, r: &MetricRow) -> Option<MetricBand> {
        if NOT_WATCHED.contains(&r.metric.as_str()) || r.drift.is_some() {
            return None;
        }
        let (band, direction) = self.engine.band(&series_key(r))?;
        Some(MetricBand {
            mean: band.mean,
            sigma: band.sigma_eff,
            k: band.k,
            direction: enum_str(&direction),
        })
    }

    fn observe(&mut self, window_start: i64, window_end: i64, rows: &[MetricRow]) -> Vec<AlertRow> {
        let mut out = Vec::new();
        for r in rows {
            if NOT_WATCHED.contains(&r.metric.as_str()) || r.window_start != window_start {
                continue;
            }
            let obs = Observation {
                key: series_key(r),
                window_start_ms: window_start,
                window_end_ms: window_end,
                value: r.value,
                drift: r.drift.map(|drift| DriftVerdict {
                    test: r.test.clone().unwrap_or_default(),
                    score: r.value,
                    threshold: r.threshold.unwrap_or(f64::NAN),
                    drift,
                }),
            };
            for a in self.engine.observe(&obs) {
                out.push(to_row(&a, window_start, window_end));
                self.pending.push(a);
            }
        }
        out
    }

    fn deliver(&mut self, _alerts: &[AlertRow]) {
        if let Some(d) = &self.dispatcher {
            d.dispatch(&self.pending);
        }
        if let Ok(mut all) = self.delivered.lock() {
            all.append(&mut self.pending);
        }
        self.pending.clear();
    }

    fn skip_delivery(&mut self) {
        self.pending.clear();
    }

    fn save_state(&self) -> serde_json::Value {
        serde_json::to_value(self.engine.state()).unwrap_or_default()
    }

    fn restore_state(&mut self, state: serde_json::Value) -> Result<(), String> {
        let state: EngineState =
            serde_json::from_value(state).map_err(|e| format!("alert engine state: {e}"))?;
        self.engine =
            AlertEngine::with_state(self.config.clone(), state).map_err(|e| e.to_string())?;
        Ok(())
    }
}
