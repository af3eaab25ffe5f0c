//! `schemas/alert.v1.schema.json` describes what the engine emits: its examples
//! are exact `Alert` JSON, and real alerts validate against it.

use feedloop_alerts::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn schema() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/alert.v1.schema.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The subset of JSON Schema 2020-12 the alert schema uses.
fn valid(s: &Value, v: &Value) -> bool {
    let Some(s) = s.as_object() else { return true };
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "string" => v.is_string(),
            "number" => v.is_number(),
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            _ => false,
        });
        if !ok {
            return false;
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return false;
    }
    if let (Some(m), Some(x)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64())
        && x < m
    {
        return false;
    }
    if let (Some(m), Some(x)) = (
        s.get("exclusiveMinimum").and_then(Value::as_f64),
        v.as_f64(),
    ) && x <= m
    {
        return false;
    }
    if let (Some(m), Some(x)) = (s.get("minLength").and_then(Value::as_u64), v.as_str())
        && (x.chars().count() as u64) < m
    {
        return false;
    }
    if let Some(one) = s.get("oneOf").and_then(Value::as_array)
        && one.iter().filter(|sub| valid(sub, v)).count() != 1
    {
        return false;
    }
    if let Some(cond) = s.get("if") {
        let branch = if valid(cond, v) {
            s.get("then")
        } else {
            s.get("else")
        };
        if let Some(b) = branch
            && !valid(b, v)
        {
            return false;
        }
    }
    if let Some(o) = v.as_object() {
        if let Some(req) = s.get("required").and_then(Value::as_array)
            && !req
                .iter()
                .filter_map(Value::as_str)
                .all(|k| o.contains_key(k))
        {
            return false;
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, x) in o {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => {
                    if !valid(ps, x) {
                        return false;
                    }
                }
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => return false,
                    Some(ap @ Value::Object(_)) if !valid(ap, x) => return false,
                    _ => {}
                },
            }
        }
    }
    true
}

#[test]
fn schema_is_draft_2020_12_and_lists_every_field() {
    let s = schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
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
    let examples = s["examples"].as_array().unwrap();
    assert!(examples.len() >= 3);
    for ex in examples {
        let a: Alert = serde_json::from_value(ex.clone()).unwrap();
        assert_eq!(
            &serde_json::to_value(&a).unwrap(),
            ex,
            "example round-trips exactly"
        );
        assert!(valid(&s, ex), "{ex}");
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
        assert!(valid(&s, &v), "{v:#}");
        assert_eq!(&serde_json::from_value::<Alert>(v).unwrap(), a);
    }
    let mut broken = serde_json::to_value(&alerts[0]).unwrap();
    broken["k"] = Value::Null;
    assert!(!valid(&s, &broken), "σ alert without k");
    let drift_alert = alerts.iter().find(|a| a.test.is_some()).unwrap();
    let mut broken = serde_json::to_value(drift_alert).unwrap();
    broken["k"] = json!(2.0);
    assert!(!valid(&s, &broken), "drift alert with k");
    let mut broken = serde_json::to_value(&alerts[0]).unwrap();
    broken["extra"] = json!(1);
    assert!(!valid(&s, &broken), "unknown field");
    broken = serde_json::to_value(&alerts[0]).unwrap();
    broken["state"] = json!("open");
    assert!(!valid(&s, &broken), "bad state");
}

#[test]
fn infinite_drift_scores_are_written_as_strings() {
    let mut a: Alert = serde_json::from_value(schema()["examples"][2].clone()).unwrap();
    a.value = f64::INFINITY;
    let v = serde_json::to_value(&a).unwrap();
    assert_eq!(v["value"], "inf");
    assert!(valid(&schema(), &v));
    assert_eq!(
        serde_json::from_value::<Alert>(v).unwrap().value,
        f64::INFINITY
    );
}
