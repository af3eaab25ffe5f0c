//! The alert state machine. Owns per-series state (history, breach streak, open
//! alert), the firing/resolved transitions, and the serialisable engine state.
//! Pure: no clock, no I/O; the caller feeds closed windows and delivers the
//! alerts it gets back.
//!
//! # Lifecycle of a σ series
//!
//! * The first `min_history` windows only fill the history.
//! * A window outside the band on the configured side is a **breach**. After
//!   `consecutive` breaches in a row, exactly one `firing` alert is emitted (its
//!   id hashes the series and the start of that window). Further breaches emit
//!   nothing.
//! * The first window that is not a breach emits one `resolved` alert with the
//!   same id.
//!
//! # What enters the history
//!
//! Only **in-band** windows. A value outside the band (on either side, alerting
//! or not) is held back, so a sustained shift keeps firing instead of quietly
//! widening the band until it looks normal, and one spike does not inflate σ
//! for the next `history` windows. Because the history is therefore cut off at
//! the band, σ is corrected for the truncation (see [`crate::rules`]); without
//! that, the band would shrink window after window.
//!
//! The cost is a permanent level change: it would stay outside forever. So when
//! `history` windows in a row are outside the band, the engine **adopts the new
//! level**: the history becomes those windows, and an open alert is resolved with
//! a summary saying the level was taken as the new normal. A shorter excursion
//! is discarded when the series comes back.
//!
//! # Drift-test series
//!
//! An observation carrying a [`DriftVerdict`] follows the
//! verdict: `consecutive` drifted windows in a row fire, the first non-drifted
//! window resolves. No history is kept.
//!
//! # Restarts
//!
//! [`AlertEngine::state`] is plain serde data (JSON via
//! [`AlertEngine::state_json`]); store it after each window and restore it with
//! [`AlertEngine::from_state_json`]. Open alerts survive the restart (they are
//! neither re-fired nor forgotten), and a window at or before the last observed
//! `window_end` of its series is ignored, so replaying windows is idempotent.

use crate::alert::{
    Alert, AlertState, DriftVerdict, Observation, SeriesKey, alert_id, band_label, rfc3339,
    subject, value_label, window_label,
};
use crate::rules::{AlertsConfig, Band, Direction, Rule, Severity, Side};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Version of the serialised [`EngineState`].
pub const STATE_VERSION: u32 = 1;

/// Everything the engine remembers; serialise it to survive restarts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineState {
    pub version: u32,
    /// Per series, by [`SeriesKey::canonical`].
    pub series: BTreeMap<String, SeriesState>,
}

/// The state of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesState {
    pub key: SeriesKey,
    /// In-band values, oldest first (at most `history`).
    pub history: VecDeque<f64>,
    /// End of the last observed window; earlier or equal windows are ignored.
    pub last_window_end_ms: i64,
    /// Breaching windows (or drifted verdicts) in a row, ending at the last window.
    pub streak: u32,
    /// Out-of-band values in a row, held out of the history (adopted after `history`).
    pub outside: Vec<f64>,
    /// Start of the first window of the current out-of-band run.
    pub outside_since_ms: Option<i64>,
    /// The firing alert, if one is open.
    pub open: Option<Alert>,
}

/// Could not restore an engine state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("alert engine state is not valid JSON for this version: {0}")]
    Json(#[from] serde_json::Error),
    #[error("alert engine state has version {found}; this build reads version {STATE_VERSION}")]
    Version { found: u32 },
}

/// Turns closed windows into firing/resolved alerts.
#[derive(Debug, Clone)]
pub struct AlertEngine {
    config: AlertsConfig,
    state: EngineState,
}

impl AlertEngine {
    /// A fresh engine (no history). `config` should have passed
    /// [`AlertsConfig::validate`].
    pub fn new(config: AlertsConfig) -> Self {
        AlertEngine {
            config,
            state: EngineState {
                version: STATE_VERSION,
                series: BTreeMap::new(),
            },
        }
    }

    /// An engine continuing from a saved state, under a possibly changed config.
    pub fn with_state(config: AlertsConfig, state: EngineState) -> Result<Self, StateError> {
        if state.version != STATE_VERSION {
            return Err(StateError::Version {
                found: state.version,
            });
        }
        Ok(AlertEngine { config, state })
    }

    /// [`AlertEngine::with_state`] from JSON written by [`AlertEngine::state_json`].
    pub fn from_state_json(config: AlertsConfig, json: &str) -> Result<Self, StateError> {
        Self::with_state(config, serde_json::from_str(json)?)
    }

    pub fn state(&self) -> &EngineState {
        &self.state
    }

    /// The state as JSON (floats round-trip exactly).
    pub fn state_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&self.state)
    }

    pub fn config(&self) -> &AlertsConfig {
        &self.config
    }

    /// Alerts currently firing.
    pub fn open_alerts(&self) -> impl Iterator<Item = &Alert> {
        self.state.series.values().filter_map(|s| s.open.as_ref())
    }

    /// The band the next value of `key` is judged against — the one
    /// [`AlertEngine::observe`] would use for it now (σ floor, truncation
    /// correction, `min_history` and the metric's overrides included), and the
    /// sides on which leaving it breaches. `None` for a series not seen yet,
    /// one still filling its first `min_history` windows, and drift-test series
    /// (they follow their verdict, not a band). Pure: read it before `observe`.
    pub fn band(&self, key: &SeriesKey) -> Option<(Band, Direction)> {
        let s = self.state.series.get(&key.canonical())?;
        let rule = self.config.rule(&key.metric);
        // As in `observe_sigma`: only the newest `rule.history` values count.
        let skip = s.history.len().saturating_sub(rule.history);
        Band::of(s.history.iter().skip(skip), &rule).map(|b| (b, rule.direction))
    }

    /// Feeds one closed window; returns the alerts it causes (none, one firing,
    /// or one resolved). Windows at or before the series' last observed window
    /// end, windows with `end <= start` or outside the representable time range,
    /// and non-finite values are ignored (the last three with a warning).
    pub fn observe(&mut self, obs: &Observation) -> Vec<Alert> {
        let (Some(start), Some(end)) = (rfc3339(obs.window_start_ms), rfc3339(obs.window_end_ms))
        else {
            tracing::warn!(series = %subject(&obs.key), "alert engine: window time out of range; ignored");
            return Vec::new();
        };
        if obs.window_end_ms <= obs.window_start_ms {
            tracing::warn!(series = %subject(&obs.key), "alert engine: window ends before it starts; ignored");
            return Vec::new();
        }
        let rule = self.config.rule(&obs.key.metric);
        let s = self
            .state
            .series
            .entry(obs.key.canonical())
            .or_insert_with(|| SeriesState {
                key: obs.key.clone(),
                history: VecDeque::new(),
                last_window_end_ms: i64::MIN,
                streak: 0,
                outside: Vec::new(),
                outside_since_ms: None,
                open: None,
            });
        if obs.window_end_ms <= s.last_window_end_ms {
            return Vec::new();
        }
        let w = Win {
            start_ms: obs.window_start_ms,
            end_ms: obs.window_end_ms,
            start,
            end,
        };
        match &obs.drift {
            Some(v) => {
                s.last_window_end_ms = obs.window_end_ms;
                observe_drift(s, &rule, v, &w)
            }
            None if !obs.value.is_finite() => {
                tracing::warn!(series = %subject(&obs.key), value = obs.value, "alert engine: non-finite value; ignored");
                Vec::new()
            }
            None => {
                s.last_window_end_ms = obs.window_end_ms;
                observe_sigma(s, &rule, obs.value, &w)
            }
        }
    }
}

struct Win {
    start_ms: i64,
    end_ms: i64,
    start: String,
    end: String,
}

fn base_alert(
    key: &SeriesKey,
    id: String,
    state: AlertState,
    w: &Win,
    value: f64,
    severity: Severity,
) -> Alert {
    Alert {
        id,
        state,
        model: key.model.clone(),
        model_version: key.model_version.clone(),
        segment: key.segment.clone(),
        metric: key.metric.clone(),
        feature: key.feature.clone(),
        window_start: w.start.clone(),
        window_end: w.end.clone(),
        value,
        mean: None,
        sigma: None,
        k: None,
        direction: None,
        severity,
        test: None,
        threshold: None,
        summary: String::new(),
    }
}

fn since(open: &Alert) -> String {
    open.window_start.clone()
}

fn observe_drift(s: &mut SeriesState, rule: &Rule, v: &DriftVerdict, w: &Win) -> Vec<Alert> {
    let subj = subject(&s.key);
    let wl = window_label(w.start_ms, w.end_ms);
    if v.drift {
        s.streak = s.streak.saturating_add(1);
        if s.open.is_some() || s.streak < rule.consecutive {
            return Vec::new();
        }
        let mut a = base_alert(
            &s.key,
            alert_id(&s.key, w.start_ms),
            AlertState::Firing,
            w,
            v.score,
            Severity::of_drift(v.score, v.threshold),
        );
        a.test = Some(v.test.clone());
        a.threshold = Some(v.threshold);
        a.summary = format!(
            "{subj} drifted: {} score {} past threshold {} (window {wl})",
            v.test,
            crate::alert::num(v.score),
            crate::alert::num(v.threshold)
        );
        s.open = Some(a.clone());
        vec![a]
    } else {
        s.streak = 0;
        let Some(open) = s.open.take() else {
            return Vec::new();
        };
        let mut a = base_alert(
            &s.key,
            open.id.clone(),
            AlertState::Resolved,
            w,
            v.score,
            open.severity,
        );
        a.test = Some(v.test.clone());
        a.threshold = Some(v.threshold);
        a.summary = format!(
            "{subj} no longer drifts: {} score {} within threshold {} (window {wl}); firing since {}",
            v.test,
            crate::alert::num(v.score),
            crate::alert::num(v.threshold),
            since(&open)
        );
        vec![a]
    }
}

/// The `resolved` alert closing `open` at window `w` (value `x`, under `band`);
/// the caller writes its summary.
fn resolution(key: &SeriesKey, open: &Alert, w: &Win, x: f64, band: &Band) -> Alert {
    let base = base_alert(
        key,
        open.id.clone(),
        AlertState::Resolved,
        w,
        x,
        open.severity,
    );
    with_band(base, band, open.direction.unwrap_or(Side::Up))
}

fn with_band(mut a: Alert, b: &Band, side: Side) -> Alert {
    a.mean = Some(b.mean);
    a.sigma = Some(b.sigma_eff);
    a.k = Some(b.k);
    a.direction = Some(side);
    a
}

fn observe_sigma(s: &mut SeriesState, rule: &Rule, x: f64, w: &Win) -> Vec<Alert> {
    // The config may have shrunk `history` since the state was saved.
    while s.history.len() > rule.history {
        s.history.pop_front();
    }
    let Some(band) = Band::of(s.history.iter(), rule) else {
        s.history.push_back(x);
        return Vec::new();
    };
    let subj = subject(&s.key);
    let wl = window_label(w.start_ms, w.end_ms);
    let metric = s.key.metric.clone();
    let out = band.outside(x);
    let breach = out.filter(|side| rule.direction.matches(*side));
    let mut alerts = Vec::new();

    if breach.is_some() {
        s.streak = s.streak.saturating_add(1);
    } else {
        s.streak = 0;
    }
    match out {
        Some(_) => {
            if s.outside.is_empty() {
                s.outside_since_ms = Some(w.start_ms);
            }
            s.outside.push(x);
        }
        None => {
            s.outside.clear();
            s.outside_since_ms = None;
            s.history.push_back(x);
            if s.history.len() > rule.history {
                s.history.pop_front();
            }
        }
    }

    match (breach, &s.open) {
        (Some(side), None) if s.streak >= rule.consecutive => {
            let sev = Severity::of_sigma(band.z(x), band.k);
            let base = base_alert(
                &s.key,
                alert_id(&s.key, w.start_ms),
                AlertState::Firing,
                w,
                x,
                sev,
            );
            let mut a = with_band(base, &band, side);
            let verb = match side {
                Side::Up => "rose to",
                Side::Down => "fell to",
            };
            let where_ = match side {
                Side::Up => "above",
                Side::Down => "below",
            };
            let run = if rule.consecutive > 1 {
                format!(", {} windows in a row", s.streak)
            } else {
                String::new()
            };
            a.summary = format!(
                "{subj} {verb} {}, {where_} the band {} (window {wl}{run})",
                value_label(x, &metric),
                band_label(&band, &metric)
            );
            s.open = Some(a.clone());
            alerts.push(a);
        }
        (None, Some(_)) => {
            if let Some(open) = s.open.take() {
                let mut a = resolution(&s.key, &open, w, x, &band);
                let how = if out.is_none() {
                    "back inside"
                } else {
                    "out of the alerting side of"
                };
                a.summary = format!(
                    "{subj} {how} the band {}: {} (window {wl}); firing since {}",
                    band_label(&band, &metric),
                    value_label(x, &metric),
                    since(&open)
                );
                alerts.push(a);
            }
        }
        _ => {}
    }

    // A level change that lasted a whole history becomes the new normal.
    if s.outside.len() >= rule.history {
        let from = s.outside_since_ms.take().unwrap_or(w.start_ms);
        let n = s.outside.len();
        s.history = s.outside.drain(..).skip(n - rule.history).collect();
        s.streak = 0;
        let new_band = Band::of(s.history.iter(), rule);
        tracing::info!(series = %subj, windows = n, "alert engine: sustained level change adopted as the new normal");
        if let (Some(open), Some(nb)) = (s.open.take(), new_band) {
            let side = open.direction.unwrap_or(Side::Up);
            let mut a = resolution(&s.key, &open, w, x, &nb);
            a.summary = format!(
                "{subj} stayed {} the band for {n} windows since {}; now {} (window {wl}). Taken as the new normal: band reset to {}; firing since {}",
                if side == Side::Up { "above" } else { "below" },
                rfc3339(from).unwrap_or_default(),
                value_label(x, &metric),
                band_label(&nb, &metric),
                since(&open)
            );
            alerts.push(a);
        }
    }
    alerts
}
