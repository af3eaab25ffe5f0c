//! # feedloop-traffic: synthetic feedback traffic with known answers
//!
//! Synthetic, realistic traffic for two models, deterministic from a seed.
//!
//! * `spam-filter` (classification): link counts, sender reputation, subject
//!   length, attachment flag, language; tags country and device; output label +
//!   score. Users correct some predictions ("moved to spam" / "not spam").
//! * `house-price` (regression): square feet, bedrooms, region, age, garage; output
//!   value. Annotators correct some predictions with the sale price.
//!
//! Every prediction has a latency event. A small share of each stream is
//! deliberately malformed, to exercise the dead-letter path. Used by
//! `feedloop demo`, the integration tests and the benchmarks.
//!
//! # Design
//!
//! The generator knows its own answers, so its users can assert exact numbers:
//! [`generate`] returns the messages of each stream *and* how many of them are
//! malformed (so a test can check the landed and dead-lettered counts exactly),
//! the same [`TrafficSpec`] always gives the same bytes, and an optional
//! incident window ([`TrafficSpec::incident`]) injects drift, wrong answers,
//! failures and slow requests at a known event time, which the demo's alerts
//! look for. No I/O: producing the messages to Kafka is the caller's business.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

/// What to generate.
#[derive(Debug, Clone)]
pub struct TrafficSpec {
    pub predictions_per_model: usize,
    pub seed: u64,
    /// Event time of the first prediction, epoch ms.
    pub start_ms: i64,
    /// Event-time span of the traffic.
    pub span_ms: i64,
    /// Share of predictions that get a correction.
    pub correction_rate: f64,
    /// Share of each stream's messages that are malformed.
    pub bad_rate: f64,
    /// An incident in event time `[start, end)` (epoch ms): spam-filter's
    /// `sender_reputation` drifts low (and its scores with it), users correct 85%
    /// of its corrected predictions as wrong (30% otherwise), 25% of its requests
    /// fail, and house-price latency quadruples.
    pub incident: Option<(i64, i64)>,
}

impl Default for TrafficSpec {
    fn default() -> Self {
        TrafficSpec {
            predictions_per_model: 10_000,
            seed: 42,
            start_ms: 1_795_392_000_000,
            span_ms: 3_600_000,
            correction_rate: 0.08,
            bad_rate: 0.003,
            incident: None,
        }
    }
}

/// One message: optional key and payload bytes.
pub type Msg = (Option<String>, Vec<u8>);

/// Generated messages per stream, and how many of them are malformed.
#[derive(Debug, Default)]
pub struct Traffic {
    pub predictions: Vec<Msg>,
    pub corrections: Vec<Msg>,
    pub latency: Vec<Msg>,
    pub bad_predictions: usize,
    pub bad_corrections: usize,
    pub bad_latency: usize,
}

fn normal(rng: &mut StdRng, mean: f64, sd: f64) -> f64 {
    // Box–Muller; good enough for synthetic data.
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn pick<'a>(rng: &mut StdRng, items: &[(&'a str, f64)]) -> &'a str {
    let total: f64 = items.iter().map(|i| i.1).sum();
    let mut x = rng.random::<f64>() * total;
    for (v, w) in items {
        if x < *w {
            return v;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

const BAD_SHAPES: [&[u8]; 7] = [
    br#"{"prediction_id": "broken", "model": "#,
    br#"{"prediction_id":"x","model":"bad model!","model_version":"v1","ts":0,"output":{"label":"a"}}"#,
    br#"{"prediction_id":"x","model":"m","model_version":"v1","ts":"yesterday","output":{"label":"a"}}"#,
    b"\xff\xfe not utf-8",
    br#"[1, 2, 3]"#,
    br#"{"prediction_id":"x","model":"m","model_version":"v1","ts":1,"latency_ms":-5,"status":"ok"}"#,
    b"",
];

fn bad(rng: &mut StdRng) -> Msg {
    (
        None,
        BAD_SHAPES[rng.random_range(0..BAD_SHAPES.len())].to_vec(),
    )
}

/// Generates the traffic described by `spec`.
pub fn generate(spec: &TrafficSpec) -> Traffic {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut t = Traffic::default();
    let n = spec.predictions_per_model;
    let step = (spec.span_ms / (n.max(1) as i64)).max(1);
    for i in 0..n {
        let ts = spec.start_ms + i as i64 * step + rng.random_range(0..step);
        let incident = spec.incident.is_some_and(|(a, b)| ts >= a && ts < b);
        // spam-filter
        let id = format!("sf-{i:08}");
        let links = (normal(&mut rng, 2.0, 2.0).abs().round()) as i64;
        let reputation = rng.random::<f64>().powf(if incident { 2.0 } else { 0.5 });
        let spamminess = 0.35 * (links as f64 / 6.0).min(1.0) + 0.65 * (1.0 - reputation);
        let score = (spamminess + normal(&mut rng, 0.0, 0.1)).clamp(0.0, 1.0);
        let label = if score > 0.5 { "spam" } else { "ham" };
        let pred = json!({
            "prediction_id": id, "model": "spam-filter", "model_version": "2026-11-01",
            "ts": ts,
            "features": {
                "num_links": links, "sender_reputation": (reputation * 1000.0).round() / 1000.0,
                "subject_length": (normal(&mut rng, 42.0, 15.0).max(1.0)).round() as i64,
                "has_attachment": rng.random_bool(0.2),
                "language": pick(&mut rng, &[("en", 0.6), ("de", 0.15), ("fr", 0.1), ("es", 0.1), ("pt", 0.05)]),
            },
            "output": {"label": label, "score": (score * 1e4).round() / 1e4},
            "tags": {"country": pick(&mut rng, &[("US", 0.4), ("DE", 0.2), ("FR", 0.15), ("BR", 0.15), ("IN", 0.1)]),
                     "device": pick(&mut rng, &[("mobile", 0.6), ("desktop", 0.4)])},
        });
        t.predictions
            .push((Some(id.clone()), pred.to_string().into_bytes()));
        let latency_ms = (normal(&mut rng, 3.0, 0.4)).exp();
        let status = if incident {
            pick(
                &mut rng,
                &[("ok", 0.74), ("error", 0.25), ("timeout", 0.01)],
            )
        } else {
            pick(
                &mut rng,
                &[("ok", 0.98), ("error", 0.015), ("timeout", 0.005)],
            )
        };
        t.latency.push((Some(id.clone()), json!({
            "prediction_id": id, "model": "spam-filter", "model_version": "2026-11-01",
            "ts": ts + latency_ms as i64, "latency_ms": (latency_ms * 100.0).round() / 100.0, "status": status,
        }).to_string().into_bytes()));
        if rng.random_bool(spec.correction_rate) {
            // Users mostly correct mistakes near the decision boundary.
            // Users mostly confirm; during the incident the model is mostly wrong.
            let wrong = rng.random_bool(if incident { 0.85 } else { 0.3 });
            let truth = if wrong {
                if label == "spam" { "ham" } else { "spam" }
            } else {
                label
            };
            t.corrections.push((Some(id.clone()), json!({
                "prediction_id": id, "ts": ts + rng.random_range(60_000..86_400_000),
                "label": truth, "source": if rng.random_bool(0.9) { "user" } else { "annotator" },
            }).to_string().into_bytes()));
        }
        // house-price
        let id = format!("hp-{i:08}");
        let sqft = normal(&mut rng, 1500.0, 400.0).max(300.0).round();
        let bedrooms = ((sqft / 500.0).round() as i64).clamp(1, 6);
        let region = pick(
            &mut rng,
            &[("north", 0.3), ("south", 0.3), ("east", 0.2), ("west", 0.2)],
        );
        let age = rng.random_range(0.0..80.0f64).round();
        let value = (sqft * 260.0 - age * 900.0 + normal(&mut rng, 0.0, 20_000.0))
            .max(30_000.0)
            .round();
        t.predictions.push((
            Some(id.clone()),
            json!({
                "prediction_id": id, "model": "house-price", "model_version": "v3",
                "ts": chrono_rfc3339(ts),
                "features": {"sqft": sqft, "bedrooms": bedrooms, "region": region, "age_years": age,
                             "has_garage": rng.random_bool(0.55)},
                "output": {"value": value},
                "tags": {"channel": pick(&mut rng, &[("web", 0.7), ("app", 0.3)])},
            })
            .to_string()
            .into_bytes(),
        ));
        let latency_ms = (normal(&mut rng, 4.0, 0.3)).exp() * if incident { 4.0 } else { 1.0 };
        t.latency.push((
            Some(id.clone()),
            json!({
                "prediction_id": id, "model": "house-price", "model_version": "v3",
                "ts": ts + latency_ms as i64, "latency_ms": (latency_ms * 100.0).round() / 100.0,
                "status": pick(&mut rng, &[("ok", 0.99), ("error", 0.01)]),
            })
            .to_string()
            .into_bytes(),
        ));
        if rng.random_bool(spec.correction_rate / 2.0) {
            t.corrections.push((
                Some(id.clone()),
                json!({
                    "prediction_id": id, "ts": ts + rng.random_range(3_600_000..604_800_000),
                    "value": (value * normal(&mut rng, 1.0, 0.08)).round(), "source": "annotator",
                })
                .to_string()
                .into_bytes(),
            ));
        }
    }
    for (msgs, bad_count) in [
        (&mut t.predictions, &mut t.bad_predictions),
        (&mut t.corrections, &mut t.bad_corrections),
        (&mut t.latency, &mut t.bad_latency),
    ] {
        let k = ((msgs.len() as f64) * spec.bad_rate).ceil() as usize;
        for _ in 0..k {
            let at = rng.random_range(0..=msgs.len());
            msgs.insert(at, bad(&mut rng));
        }
        *bad_count = k;
    }
    t
}

fn chrono_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use feedloop_events::{Limits, StreamKind, decode};

    #[test]
    fn deterministic_and_valid_except_the_bad_ones() {
        let spec = TrafficSpec {
            predictions_per_model: 500,
            ..TrafficSpec::default()
        };
        let a = generate(&spec);
        let b = generate(&spec);
        assert_eq!(a.predictions, b.predictions);
        for (msgs, stream, bad) in [
            (&a.predictions, StreamKind::Predictions, a.bad_predictions),
            (&a.corrections, StreamKind::Corrections, a.bad_corrections),
            (&a.latency, StreamKind::Latency, a.bad_latency),
        ] {
            let invalid = msgs
                .iter()
                .filter(|(_, p)| decode(stream, p, &Limits::default()).is_err())
                .count();
            assert_eq!(invalid, bad, "{stream}");
            assert!(bad > 0);
        }
        assert_eq!(a.predictions.len() - a.bad_predictions, 1000);
        assert!(a.corrections.len() > 20);
    }
}
