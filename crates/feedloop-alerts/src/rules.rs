//! The `[alerts]` config section and the ±kσ rule. Owns *what counts as a
//! breach*: the per-metric rule resolution, the band (μ, σ, σ floor) and the
//! drift-verdict severity. Pure: no state, no I/O. Doc comments on the config
//! structs are the user docs.
//!
//! # The band
//!
//! For a series whose window closes with value `x`, μ and σ are the mean and the
//! **population** standard deviation (ddof 0) of the series' history (the last
//! `history` in-band values, see [`crate::lifecycle`]). ddof 0 because the band
//! describes the spread of the windows we actually saw, as NannyML's thresholds
//! do, and it is defined for any non-empty history; its bias (σ too small by
//! √((N−1)/N): 2 % at N = 24, 6.5 % at N = 8) is small next to the floor below
//! and is what the false-alarm test accounts for.
//!
//! **Truncation correction.** The history holds only in-band values (see
//! [`crate::lifecycle`]), so it is a sample cut off at ±kσ, whose spread is
//! smaller than the series' by the factor c(k)² = 1 − 2kφ(k)/(2Φ(k) − 1) of a
//! normal distribution truncated at ±k (c(2) = 0.880, c(3) = 0.986, c(4) =
//! 0.9987). Left uncorrected this is a feedback loop: the band shrinks, more
//! values fall outside it and are held back, the band shrinks again. On a
//! stationary normal series at k = 2 that more than doubled the false alarms
//! (61 firings in 400 windows where ≤ 27 are expected). So σ is divided by
//! c(k). Values taken in before the band existed (the first `min_history`)
//! were not truncated; for them the correction errs on the wide side until they
//! roll out of the history.
//!
//! σ is then floored so a flat or nearly flat series does not alert on
//! noise-free rounding or a one-unit wiggle:
//!
//! ```text
//! σ_eff = max(σ / c(k), sigma_floor_rel·|μ|, sigma_floor_abs, 1e-9·max(1, |μ|))
//! ```
//!
//! * `sigma_floor_rel` (default 0.01): a series must move by more than
//!   k·1 % of its level to alert, however steady it was (e.g. a constant
//!   volume of 1000/window needs > 1020 or < 980 at k = 2).
//! * `sigma_floor_abs` (default 0, settable per metric): an absolute floor in the
//!   metric's unit, for metrics whose normal level is 0 (e.g. `error_rate`
//!   0.005 means "ignore moves below 1 percentage point at k = 2").
//! * `1e-9·max(1, |μ|)`: numerical only, so an exactly flat series (σ = 0)
//!   never alerts on floating-point noise in μ.
//!
//! A window **breaches** when `|x − μ| > k·σ_eff` on the configured side
//! (`up`: x > μ, `down`: x < μ, `both`: either). Strictly greater, so a
//! perfectly flat series never breaches. No σ rule applies before the history
//! holds `min_history` values.

use feedloop_kit::InvalidSetting;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Which side of the band alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Above or below the band.
    Both,
    /// Only above (x > μ + kσ).
    Up,
    /// Only below (x < μ − kσ).
    Down,
}

/// The side a value left the band on (an alert's `direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Up,
    Down,
}

impl Direction {
    /// Whether a value outside the band on `side` breaches.
    pub fn matches(self, side: Side) -> bool {
        matches!(
            (self, side),
            (Direction::Both, _) | (Direction::Up, Side::Up) | (Direction::Down, Side::Down)
        )
    }
}

/// `[alerts]`: when window metrics alert, and where alerts go.
///
/// ```toml
/// [alerts]
/// k = 2.0                 # band half-width in σ
/// history = 24            # windows the band is computed from
/// min_history = 8         # no σ alert before this many windows
/// consecutive = 1         # breaching windows in a row before firing
/// webhook = "https://hooks.example.com/feedloop"
///
/// [alerts.metrics.latency_p95]
/// k = 3.0
/// consecutive = 2
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Band half-width in standard deviations: a window breaches when its value
    /// is more than `k`·σ from the mean of the history.
    pub k: f64,
    /// Number of past in-band windows the mean and σ are computed from.
    pub history: usize,
    /// No σ alert until the history holds this many windows.
    pub min_history: usize,
    /// Which side alerts (`"both"`, `"up"`, `"down"`) for metrics without a
    /// built-in or configured direction. Built in: `volume` both, `error_rate`,
    /// `latency_p95`, `latency_p99` up.
    pub direction: Direction,
    /// Breaching windows in a row needed to fire (1 = fire on the first; below
    /// `history`). At k = 2 a stationary normal series breaches in about 7–9 %
    /// of windows, so `consecutive = 2` or `k = 3` suits alerts that page.
    pub consecutive: u32,
    /// Relative σ floor: σ is at least this fraction of |mean|, so steady
    /// series need a move of more than k·this·|mean| to alert.
    pub sigma_floor_rel: f64,
    /// Absolute σ floor in the metric's unit (0 = none).
    pub sigma_floor_abs: f64,
    /// URL alerts are POSTed to as JSON (`http://` or `https://`); none by default.
    pub webhook: Option<String>,
    /// Timeout of one webhook request, connection included (humantime, e.g. `"5s"`).
    #[serde(with = "humantime_serde")]
    pub webhook_timeout: Duration,
    /// Retries after a failed webhook request (connection error, timeout or 5xx;
    /// a 4xx is not retried), with exponential backoff and jitter.
    pub webhook_retries: u32,
    /// Alerts waiting per sink; when a sink falls this far behind, its oldest
    /// waiting alert is dropped (and counted).
    pub queue_capacity: usize,
    /// Per-metric overrides, `[alerts.metrics.<metric>]`; unset keys fall back
    /// to the metric's built-in default, then to the values above.
    pub metrics: BTreeMap<String, MetricRule>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            k: 2.0,
            history: 24,
            min_history: 8,
            direction: Direction::Both,
            consecutive: 1,
            sigma_floor_rel: 0.01,
            sigma_floor_abs: 0.0,
            webhook: None,
            webhook_timeout: Duration::from_secs(5),
            webhook_retries: 3,
            queue_capacity: 1024,
            metrics: BTreeMap::new(),
        }
    }
}

/// `[alerts.metrics.<metric>]`: overrides for one metric (e.g. `volume`,
/// `error_rate`, `latency_p95`, `drift`). Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricRule {
    pub k: Option<f64>,
    pub direction: Option<Direction>,
    pub history: Option<usize>,
    pub min_history: Option<usize>,
    pub consecutive: Option<u32>,
    pub sigma_floor_rel: Option<f64>,
    pub sigma_floor_abs: Option<f64>,
}

/// The rule in force for one metric, after overrides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub k: f64,
    pub direction: Direction,
    pub history: usize,
    pub min_history: usize,
    pub consecutive: u32,
    pub sigma_floor_rel: f64,
    pub sigma_floor_abs: f64,
}

/// Built-in direction of well-known metrics: more errors or slower responses
/// are bad, fewer are not worth a page.
pub fn builtin_direction(metric: &str) -> Option<Direction> {
    match metric {
        "volume" => Some(Direction::Both),
        "error_rate" | "latency_p95" | "latency_p99" => Some(Direction::Up),
        _ => None,
    }
}

impl AlertsConfig {
    /// The rule for `metric`: `[alerts.metrics.<metric>]`, then the built-in
    /// default of the metric (direction only), then `[alerts]`.
    pub fn rule(&self, metric: &str) -> Rule {
        let o = self.metrics.get(metric);
        let pick = |f: fn(&MetricRule) -> Option<f64>, d: f64| o.and_then(f).unwrap_or(d);
        Rule {
            k: pick(|m| m.k, self.k),
            direction: o
                .and_then(|m| m.direction)
                .or_else(|| builtin_direction(metric))
                .unwrap_or(self.direction),
            history: o.and_then(|m| m.history).unwrap_or(self.history),
            min_history: o.and_then(|m| m.min_history).unwrap_or(self.min_history),
            consecutive: o.and_then(|m| m.consecutive).unwrap_or(self.consecutive),
            sigma_floor_rel: pick(|m| m.sigma_floor_rel, self.sigma_floor_rel),
            sigma_floor_abs: pick(|m| m.sigma_floor_abs, self.sigma_floor_abs),
        }
    }

    /// Checks values serde cannot; names the first offending key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        check_rule("alerts", &self.rule_of_globals())?;
        if let Some(url) = &self.webhook {
            match reqwest::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => {
                    return Err(InvalidSetting::new(
                        "alerts.webhook",
                        "expected an http:// or https:// URL",
                    ));
                }
            }
        }
        if self.webhook_timeout < Duration::from_millis(1)
            || self.webhook_timeout > Duration::from_secs(600)
        {
            return Err(InvalidSetting::new(
                "alerts.webhook_timeout",
                "expected a duration between 1ms and 10m, e.g. \"5s\"",
            ));
        }
        if self.webhook_retries > 20 {
            return Err(InvalidSetting::new(
                "alerts.webhook_retries",
                "expected at most 20 retries",
            ));
        }
        if self.queue_capacity == 0 {
            return Err(InvalidSetting::new(
                "alerts.queue_capacity",
                "expected a positive number of alerts",
            ));
        }
        for (metric, m) in &self.metrics {
            if metric.is_empty() {
                return Err(InvalidSetting::new(
                    "alerts.metrics",
                    "expected non-empty metric names",
                ));
            }
            // Check only the keys the user set, so the error names the right one.
            let prefix = format!("alerts.metrics.{metric}");
            let mut r = self.rule_of_globals();
            r.k = m.k.unwrap_or(r.k);
            r.history = m.history.unwrap_or(r.history);
            r.min_history = m.min_history.unwrap_or(r.min_history);
            r.consecutive = m.consecutive.unwrap_or(r.consecutive);
            r.sigma_floor_rel = m.sigma_floor_rel.unwrap_or(r.sigma_floor_rel);
            r.sigma_floor_abs = m.sigma_floor_abs.unwrap_or(r.sigma_floor_abs);
            check_rule(&prefix, &r).map_err(|e| {
                // A per-metric value clashing with a global one is reported on the
                // per-metric key if set there, else on the global key.
                let leaf = e.key.rsplit('.').next().unwrap_or_default().to_string();
                let set_here = match leaf.as_str() {
                    "k" => m.k.is_some(),
                    "history" => m.history.is_some(),
                    "min_history" => m.min_history.is_some(),
                    "consecutive" => m.consecutive.is_some(),
                    "sigma_floor_rel" => m.sigma_floor_rel.is_some(),
                    "sigma_floor_abs" => m.sigma_floor_abs.is_some(),
                    _ => true,
                };
                if set_here {
                    e
                } else if matches!(leaf.as_str(), "min_history" | "consecutive")
                    && m.history.is_some()
                {
                    // The per-metric history made the global value out of range.
                    InvalidSetting::new(format!("{prefix}.history"), e.expected)
                } else {
                    InvalidSetting::new(format!("alerts.{leaf}"), e.expected)
                }
            })?;
        }
        Ok(())
    }

    fn rule_of_globals(&self) -> Rule {
        Rule {
            k: self.k,
            direction: self.direction,
            history: self.history,
            min_history: self.min_history,
            consecutive: self.consecutive,
            sigma_floor_rel: self.sigma_floor_rel,
            sigma_floor_abs: self.sigma_floor_abs,
        }
    }
}

fn check_rule(prefix: &str, r: &Rule) -> Result<(), InvalidSetting> {
    if !(r.k.is_finite() && r.k > 0.0 && r.k <= 100.0) {
        return Err(InvalidSetting::new(
            format!("{prefix}.k"),
            "expected a number of σ above 0 and at most 100, e.g. 2.0",
        ));
    }
    if !(2..=10_000).contains(&r.history) {
        return Err(InvalidSetting::new(
            format!("{prefix}.history"),
            "expected 2 to 10000 windows",
        ));
    }
    if r.min_history < 2 || r.min_history > r.history {
        return Err(InvalidSetting::new(
            format!("{prefix}.min_history"),
            format!("expected at least 2 and at most history ({})", r.history),
        ));
    }
    if r.consecutive == 0 || r.consecutive as usize >= r.history {
        return Err(InvalidSetting::new(
            format!("{prefix}.consecutive"),
            format!("expected at least 1 and below history ({})", r.history),
        ));
    }
    if !(r.sigma_floor_rel.is_finite() && (0.0..=10.0).contains(&r.sigma_floor_rel)) {
        return Err(InvalidSetting::new(
            format!("{prefix}.sigma_floor_rel"),
            "expected a fraction from 0 to 10, e.g. 0.01",
        ));
    }
    if !(r.sigma_floor_abs.is_finite() && r.sigma_floor_abs >= 0.0) {
        return Err(InvalidSetting::new(
            format!("{prefix}.sigma_floor_abs"),
            "expected a non-negative number",
        ));
    }
    Ok(())
}

/// The band of a series at one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// Mean of the history.
    pub mean: f64,
    /// Population standard deviation (ddof 0) of the history, uncorrected.
    pub sigma: f64,
    /// σ / c(k) after the floor: the σ the band uses and alerts report.
    pub sigma_eff: f64,
    pub k: f64,
}

impl Band {
    /// The band of `history` under `rule`; `None` before `min_history` values.
    pub fn of<'a>(
        history: impl ExactSizeIterator<Item = &'a f64> + Clone,
        rule: &Rule,
    ) -> Option<Band> {
        let n = history.len();
        if n < rule.min_history || n == 0 {
            return None;
        }
        let mean = history.clone().sum::<f64>() / n as f64;
        let var = history.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
        let sigma = var.sqrt();
        let sigma_eff = (sigma / truncation_factor(rule.k))
            .max(rule.sigma_floor_rel * mean.abs())
            .max(rule.sigma_floor_abs)
            .max(1e-9 * mean.abs().max(1.0));
        Some(Band {
            mean,
            sigma,
            sigma_eff,
            k: rule.k,
        })
    }

    /// The side `x` lies outside the band on, if it does.
    pub fn outside(&self, x: f64) -> Option<Side> {
        let d = x - self.mean;
        if d.abs() > self.k * self.sigma_eff {
            Some(if d > 0.0 { Side::Up } else { Side::Down })
        } else {
            None
        }
    }

    /// Standardised distance (x − μ)/σ_eff.
    pub fn z(&self, x: f64) -> f64 {
        (x - self.mean) / self.sigma_eff
    }
}

/// c(k): standard deviation of a standard normal truncated to [−k, k].
pub fn truncation_factor(k: f64) -> f64 {
    let inside = erf(k / std::f64::consts::SQRT_2); // 2Φ(k) − 1
    let pdf = (-k * k / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    if inside <= 0.0 {
        return 1.0;
    }
    let c2 = 1.0 - 2.0 * k * pdf / inside;
    // Tiny k would give c → 0 (σ → ∞); validated k is > 0, keep it finite anyway.
    c2.max(1e-6).sqrt()
}

/// erf, Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let y = 1.0 - poly * (-x * x).exp();
    if x >= 0.0 { y } else { -y }
}

/// How bad a firing alert is.
///
/// * σ alerts: `critical` when |z| > k + 1 (at k = 2: beyond 3σ), else `warning`.
/// * Drift-test alerts: `critical` when the score is far past the threshold:
///   for "higher is drift" scores (distances, PSI: score ≥ threshold) at
///   score ≥ 2·threshold; for "lower is drift" scores (p-values: score <
///   threshold) at score ≤ threshold/10. Else `warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    /// Severity of a σ breach at standardised distance `z` with band width `k`.
    pub fn of_sigma(z: f64, k: f64) -> Severity {
        if z.abs() > k + 1.0 {
            Severity::Critical
        } else {
            Severity::Warning
        }
    }

    /// Severity of a drift verdict (see the type docs for the orientation rule).
    pub fn of_drift(score: f64, threshold: f64) -> Severity {
        let critical = if score >= threshold {
            score >= 2.0 * threshold
        } else {
            score <= threshold / 10.0
        };
        if critical {
            Severity::Critical
        } else {
            Severity::Warning
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_builtins_apply() {
        let c = AlertsConfig::default();
        c.validate().unwrap();
        assert_eq!(c.rule("error_rate").direction, Direction::Up);
        assert_eq!(c.rule("latency_p99").direction, Direction::Up);
        assert_eq!(c.rule("volume").direction, Direction::Both);
        assert_eq!(c.rule("prediction_drift").direction, Direction::Both);
        assert_eq!(c.rule("volume").k, 2.0);
    }

    #[test]
    fn overrides_win_over_builtins_and_globals() {
        let mut c = AlertsConfig::default();
        c.metrics.insert(
            "error_rate".into(),
            MetricRule {
                direction: Some(Direction::Both),
                k: Some(3.0),
                ..Default::default()
            },
        );
        let r = c.rule("error_rate");
        assert_eq!((r.direction, r.k, r.history), (Direction::Both, 3.0, 24));
    }

    #[test]
    fn validate_names_the_key() {
        let mut c = AlertsConfig {
            k: -1.0,
            ..Default::default()
        };
        assert_eq!(c.validate().unwrap_err().key, "alerts.k");
        c.k = 2.0;
        c.min_history = 30;
        assert_eq!(c.validate().unwrap_err().key, "alerts.min_history");
        c.min_history = 8;
        c.webhook = Some("ftp://x".into());
        assert_eq!(c.validate().unwrap_err().key, "alerts.webhook");
        c.webhook = Some("http://127.0.0.1:9/hook".into());
        c.validate().unwrap();
        c.metrics.insert(
            "volume".into(),
            MetricRule {
                history: Some(4),
                ..Default::default()
            },
        );
        // history 4 < global min_history 8: reported on the per-metric history.
        assert_eq!(
            c.validate().unwrap_err().key,
            "alerts.metrics.volume.history"
        );
        c.metrics.insert(
            "volume".into(),
            MetricRule {
                consecutive: Some(0),
                ..Default::default()
            },
        );
        assert_eq!(
            c.validate().unwrap_err().key,
            "alerts.metrics.volume.consecutive"
        );
    }

    #[test]
    fn band_floor_and_sides() {
        let r = AlertsConfig::default().rule("x");
        let flat = [5.0; 10];
        let b = Band::of(flat.iter(), &r).unwrap();
        assert_eq!(b.sigma, 0.0);
        assert!((truncation_factor(2.0) - 0.8796).abs() < 1e-4);
        assert!((truncation_factor(3.0) - 0.9866).abs() < 1e-4);
        assert!((b.sigma_eff - 0.05).abs() < 1e-12);
        assert_eq!(b.outside(5.0), None);
        assert_eq!(b.outside(5.09), None);
        assert_eq!(b.outside(5.11), Some(Side::Up));
        assert_eq!(b.outside(4.89), Some(Side::Down));
        let zeros = [0.0; 10];
        let b = Band::of(zeros.iter(), &r).unwrap();
        assert_eq!(b.outside(0.0), None);
        assert!(Band::of(flat[..7].iter(), &r).is_none());
        // ddof 0: [1,3] has σ = 1.
        let mut r2 = r;
        r2.min_history = 2;
        let b = Band::of([1.0, 3.0].iter(), &r2).unwrap();
        assert_eq!((b.mean, b.sigma), (2.0, 1.0));
        assert!((b.sigma_eff - 1.0 / truncation_factor(2.0)).abs() < 1e-12);
    }

    #[test]
    fn severity_rules() {
        assert_eq!(Severity::of_sigma(2.5, 2.0), Severity::Warning);
        assert_eq!(Severity::of_sigma(-3.5, 2.0), Severity::Critical);
        assert_eq!(Severity::of_drift(0.15, 0.1), Severity::Warning);
        assert_eq!(Severity::of_drift(0.25, 0.1), Severity::Critical);
        assert_eq!(Severity::of_drift(0.01, 0.05), Severity::Warning);
        assert_eq!(Severity::of_drift(0.001, 0.05), Severity::Critical);
    }

    #[test]
    fn toml_like_config_parses_with_deny_unknown_fields() {
        let c: AlertsConfig = serde_json::from_str(
            r#"{"k": 3, "webhook_timeout": "250ms", "metrics": {"latency_p95": {"consecutive": 2}}}"#,
        )
        .unwrap();
        assert_eq!(c.webhook_timeout, Duration::from_millis(250));
        assert_eq!(c.rule("latency_p95").consecutive, 2);
        assert!(serde_json::from_str::<AlertsConfig>(r#"{"kk": 3}"#).is_err());
        assert!(
            serde_json::from_str::<AlertsConfig>(r#"{"metrics": {"x": {"bogus": 1}}}"#).is_err()
        );
    }
}
