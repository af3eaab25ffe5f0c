//! `schemas/alert.v1.schema.json` describes what the engine emits: it is a
//! valid JSON Schema 2020-12, its examples are exact `Alert` JSON, and real
//! alerts validate against it (checked by the `jsonschema` crate, formats and
//! patterns included).

#[path = "../../../tests/support/json_schema.rs"]
mod json_schema;

use feedloop_alerts::*;
use json_schema::Schema;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn schema() -> Schema {
    Schema::load("alert.v1.schema.json")
}

#[test]
fn schema_is_draft_2020_12_and_lists_every_field() {
    // `Schema::load` checks `$schema`, `$id`, the 2020-12 meta-schema and compiles it.
    let s = schema().doc;
    let required: Vec<&str> = s["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let props: Vec<&String> = s["properties"].as_object().unwrap().keys().collect();
    let example =
        serde_json::to_value(serde_json::from_value::<Alert>(s["examples"][0].clone()).unwrap())
            .unwrap();
    let emitted: Vec<&String> = example.as_object().unwrap().keys().collect();
    let mut r = required.clone();
    r.sort();
    let mut p: Vec<&str> = props.iter().map(|s| s.as_str()).collect();
    p.sort();
    let mut e: Vec<&str> = emitted.iter().map(|s| s.as_str()).collect();
    e.sort();
    assert_eq!(r, p);
    assert_eq!(r, e, "every serialised field is in the schema and required");
}

#[test]
fn examples_are_exact_alert_json_and_valid() {
    let s = schema();
    s.assert_examples_valid();
    let examples = s.examples();
    assert!(examples.len() >= 3);
    for ex in examples {
        let a: Alert = serde_json::from_value(ex.clone()).unwrap();
        assert_eq!(
            &serde_json::to_value(&a).unwrap(),
            ex,
            "example round-trips exactly"
        );
    }
    assert_eq!(
        examples[0]["id"], examples[1]["id"],
        "resolved carries the firing id"
    );
}

#[test]
fn engine_alerts_validate_and_broken_ones_do_not() {
    let s = schema();
    let key = |metric: &str, feature: Option<&str>| SeriesKey {
        model: "spam-filter".into(),
        model_version: "2026-11-01".into(),
        segment: BTreeMap::from([("country".into(), "DE".into())]),
        metric: metric.into(),
        feature: feature.map(Into::into),
    };
    let t0 = 1_793_491_200_000i64;
    let w = 300_000i64;
    let mut engine = AlertEngine::new(AlertsConfig::default());
    let mut alerts = Vec::new();
    let (lat, drift) = (key("latency_p95", None), key("drift", Some("num_links")));
    for i in 0..80i64 {
        let v = 100.0
            + (i % 5) as f64
            + if (30..35).contains(&i) || i >= 50 {
                80.0
            } else {
                0.0
            };
        let o = Observation {
            key: lat.clone(),
            window_start_ms: t0 + i * w,
            window_end_ms: t0 + (i + 1) * w,
            value: v,
            drift: None,
        };
        alerts.extend(engine.observe(&o));
        let d = (40..45).contains(&i);
        let score = if i == 41 {
            f64::INFINITY
        } else if d {
            0.3
        } else {
            0.01
        };
        let o = Observation {
            key: drift.clone(),
            drift: Some(DriftVerdict {
                test: "chi2".into(),
                score,
                threshold: 0.05,
                drift: d,
            }),
            ..o
        };
        alerts.extend(engine.observe(&o));
    }
    // latency: fire, resolve, fire, adopted; drift: fire, resolve.
    assert_eq!(alerts.len(), 6, "{alerts:#?}");
    for a in &alerts {
        let v = serde_json::to_value(a).unwrap();
        s.assert_valid(&v, &format!("{:?} alert of {}", a.state, a.metric));
        assert_eq!(&serde_json::from_value::<Alert>(v).unwrap(), a);
    }
    // A real alert broken in one field is rejected at that field.
    let sigma = serde_json::to_value(&alerts[0]).unwrap();
    let drift_alert = alerts.iter().find(|a| a.test.is_some()).unwrap();
    let drift_alert = serde_json::to_value(drift_alert).unwrap();
    let broken = |a: &Value, field: &str, to: Value| {
        let mut b = a.clone();
        b[field] = to;
        b
    };
    let cases = [
        (&sigma, "k", Value::Null, "/k", "σ alert without k"),
        (&drift_alert, "k", json!(2.0), "/k", "drift alert with k"),
        (&sigma, "state", json!("open"), "/state", "bad state"),
        (
            &sigma,
            "id",
            json!("538DEFD60E7D12E2"),
            "/id",
            "id: pattern (upper case)",
        ),
        (
            &sigma,
            "id",
            json!("538defd60e7d12e"),
            "/id",
            "id: pattern (15 digits)",
        ),
        (
            &sigma,
            "window_start",
            json!("2026-11-01 10:05:00"),
            "/window_start",
            "format date-time",
        ),
        (
            &sigma,
            "window_end",
            json!("2026-11-01T24:10:00Z"),
            "/window_end",
            "format date-time",
        ),
        (
            &sigma,
            "model",
            json!("spam filter"),
            "/model",
            "model: pattern",
        ),
        (
            &sigma,
            "model_version",
            json!(".."),
            "/model_version",
            "model_version: not . or ..",
        ),
        (
            &sigma,
            "segment",
            json!({"country": 1}),
            "/segment/country",
            "segment value",
        ),
        (&sigma, "sigma", json!(-1.0), "/sigma", "negative sigma"),
        (
            &sigma,
            "value",
            json!("inf"),
            "/value",
            "σ value must be a number",
        ),
        (
            &drift_alert,
            "feature",
            json!(""),
            "/feature",
            "empty feature name",
        ),
        (
            &drift_alert,
            "value",
            json!("infinity"),
            "/value",
            "non-finite spelling",
        ),
    ];
    for (a, field, to, at, what) in cases {
        s.assert_rejects(&broken(a, field, to), at, what);
    }
    let mut extra = sigma.clone();
    extra["extra"] = json!(1);
    s.assert_rejects(&extra, "", "unknown field");
    let mut missing = sigma.clone();
    missing.as_object_mut().unwrap().remove("summary");
    s.assert_rejects(&missing, "", "missing summary");
}

#[test]
fn infinite_drift_scores_are_written_as_strings() {
    let s = schema();
    let mut a: Alert = serde_json::from_value(s.examples()[2].clone()).unwrap();
    a.value = f64::INFINITY;
    let v = serde_json::to_value(&a).unwrap();
    assert_eq!(v["value"], "inf");
    s.assert_valid(&v, "drift alert with an infinite score");
    assert_eq!(
        serde_json::from_value::<Alert>(v).unwrap().value,
        f64::INFINITY
    );
}
