//! Decoding and validation: contract examples, hostile input, property tests.

use feedloop_events::arrow_schema::schema;
use feedloop_events::{
    BatchBuilder, DecodeError, Event, FeatureValue, LatencyStatus, Limits, Lineage, StreamKind,
    decode,
};
use proptest::prelude::*;

fn limits() -> Limits {
    Limits::default()
}

fn pred(json: &str) -> Result<Event, DecodeError> {
    decode(StreamKind::Predictions, json.as_bytes(), &limits())
}

#[test]
fn schema_examples_decode() {
    for stream in StreamKind::ALL {
        let schema: serde_json::Value =
            serde_json::from_str(feedloop_events::json_schemas::for_stream(stream)).unwrap();
        let examples = schema["examples"].as_array().unwrap();
        assert!(!examples.is_empty());
        for ex in examples {
            let bytes = serde_json::to_vec(ex).unwrap();
            decode(stream, &bytes, &limits()).unwrap_or_else(|e| panic!("{stream}: {e}: {ex}"));
        }
    }
}

#[test]
fn prediction_fields_and_timestamps() {
    let e = pred(r#"{"prediction_id":"p1","model":"m","model_version":"v1","ts":"2026-11-23T10:00:00.5+01:00",
        "features":{"b":true,"a":1,"c":"x","d":null,"e":2.5},"output":{"label":"spam","score":0.9},
        "tags":{"country":"DE"},"extra":{"nested":[1,2,3]}}"#)
    .unwrap();
    let Event::Prediction(p) = e else { panic!() };
    assert_eq!(p.ts, 1795424400500);
    let names: Vec<_> = p.features.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["a", "b", "c", "d", "e"],
        "features are sorted by name"
    );
    assert_eq!(p.features[0].1, FeatureValue::Number(1.0));
    assert_eq!(p.features[1].1, FeatureValue::Bool(true));
    assert_eq!(p.features[2].1, FeatureValue::String("x".into()));
    assert_eq!(p.features[3].1, FeatureValue::Null);
    assert_eq!(p.output.label.as_deref(), Some("spam"));
    assert_eq!(p.tags, vec![("country".to_string(), "DE".to_string())]);

    let Event::Prediction(p) =
        pred(r#"{"prediction_id":"p1","model":"m","model_version":"v1","ts":1795392000500,"output":{"value":3}}"#)
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(p.ts, 1795392000500);
    assert!(p.features.is_empty());
}

#[test]
fn errors_name_the_field() {
    let cases = [
        (
            r#"{"model":"m","model_version":"v","ts":0,"output":{"label":"x"}}"#,
            "prediction_id",
        ),
        (
            r#"{"prediction_id":"p","model":"a/b","model_version":"v","ts":0,"output":{"label":"x"}}"#,
            "model",
        ),
        (
            r#"{"prediction_id":"p","model":"m","model_version":"v","ts":"yesterday","output":{"label":"x"}}"#,
            "ts",
        ),
        (
            r#"{"prediction_id":"p","model":"m","model_version":"v","ts":0,"output":{}}"#,
            "output",
        ),
        (
            r#"{"prediction_id":"p","model":"m","model_version":"v","ts":0,"output":{"score":"high"}}"#,
            "output.score",
        ),
        (
            r#"{"prediction_id":"p","model":"m","model_version":"v","ts":0,"output":{"label":"x"},"features":{"a":[1]}}"#,
            "features.a",
        ),
        (
            r#"{"prediction_id":"p","model":"m","model_version":"v","ts":0,"output":{"label":"x"},"features":{"a":1,"a":2}}"#,
            "features",
        ),
        (
            r#"{"prediction_id":"","model":"m","model_version":"v","ts":0,"output":{"label":"x"}}"#,
            "prediction_id",
        ),
        (
            r#"{"prediction_id":"p","model":"m","model_version":"v","ts":0,"output":{"label":"x"},"tags":{"a":1}}"#,
            "tags.a",
        ),
    ];
    for (json, field) in cases {
        let err = pred(json).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&format!("`{field}`")), "{json} -> {msg}");
    }
}

#[test]
fn hostile_input_is_rejected_cleanly() {
    // invalid UTF-8
    let mut bytes = br#"{"prediction_id":"p"#.to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(br#"","model":"m","model_version":"v","ts":0,"output":{"label":"x"}}"#);
    assert!(matches!(
        decode(StreamKind::Predictions, &bytes, &limits()),
        Err(DecodeError::InvalidUtf8 { at: 19 })
    ));
    // deeply nested JSON in an unknown field
    let deep = format!(
        r#"{{"prediction_id":"p","model":"m","model_version":"v","ts":0,"output":{{"label":"x"}},"x":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let big = Limits {
        max_event_bytes: 10 << 20,
        ..limits()
    };
    // Unknown fields are skipped without recursion: accepted, no stack overflow.
    assert!(decode(StreamKind::Predictions, deep.as_bytes(), &big).is_ok());
    // The same nesting where a value is expected, or as the whole payload, is rejected.
    let deep_feature = format!(
        r#"{{"prediction_id":"p","model":"m","model_version":"v","ts":0,"output":{{"label":"x"}},"features":{{"f":{}{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let err = decode(StreamKind::Predictions, deep_feature.as_bytes(), &big).unwrap_err();
    assert!(err.to_string().contains("features.f"), "{err}");
    let deep_doc = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(decode(StreamKind::Predictions, deep_doc.as_bytes(), &big).is_err());
    // huge numbers, NaN, Infinity
    for n in ["1e400", "-1e999", "NaN", "Infinity", "-Infinity"] {
        let json = format!(
            r#"{{"prediction_id":"p","model":"m","model_version":"v","ts":0,"output":{{"score":{n}}}}}"#
        );
        assert!(pred(&json).is_err(), "{n}");
        let json = format!(
            r#"{{"prediction_id":"p","model":"m","model_version":"v","ts":0,"output":{{"label":"x"}},"features":{{"f":{n}}}}}"#
        );
        assert!(pred(&json).is_err(), "{n}");
    }
    // timestamps out of range
    for ts in ["1e300", "-99999999999999999", "18446744073709551615"] {
        let json = format!(
            r#"{{"prediction_id":"p","model":"m","model_version":"v","ts":{ts},"output":{{"label":"x"}}}}"#
        );
        let msg = pred(&json).unwrap_err().to_string();
        assert!(msg.contains("`ts`"), "{ts}: {msg}");
    }
    // 10 MB string: over the payload limit by default, over the string limit when the payload limit is raised
    let huge = "a".repeat(10 << 20);
    let json = format!(
        r#"{{"prediction_id":"p","model":"m","model_version":"v","ts":0,"output":{{"label":"{huge}"}}}}"#
    );
    assert!(matches!(pred(&json), Err(DecodeError::TooLarge { .. })));
    let big = Limits {
        max_event_bytes: 20 << 20,
        ..limits()
    };
    let err = decode(StreamKind::Predictions, json.as_bytes(), &big).unwrap_err();
    assert!(err.to_string().contains("output.label"), "{err}");
    // empty, not an object, trailing garbage, wrong types
    assert_eq!(pred("").unwrap_err(), DecodeError::Empty);
    for bad in ["null", "[]", "42", "\"x\"", "{", r#"{"a":1} x"#] {
        assert!(pred(bad).is_err(), "{bad}");
    }
    // serde would read a struct from an array of its fields: events must be objects.
    let err = pred(r#"["p","m","v",0,{},{"label":"x"},{}]"#).unwrap_err();
    assert!(err.to_string().contains("JSON object"), "{err}");
    // too many features
    let feats: Vec<String> = (0..2000).map(|i| format!(r#""f{i}":{i}"#)).collect();
    let json = format!(
        r#"{{"prediction_id":"p","model":"m","model_version":"v","ts":0,"output":{{"label":"x"}},"features":{{{}}}}}"#,
        feats.join(",")
    );
    assert!(
        pred(&json)
            .unwrap_err()
            .to_string()
            .contains("max_features")
    );
}

#[test]
fn corrections_and_latency() {
    let c = decode(
        StreamKind::Corrections,
        br#"{"prediction_id":"p","ts":5,"label":"spam","source":"user"}"#,
        &limits(),
    )
    .unwrap();
    assert!(matches!(c, Event::Correction(ref c) if c.label.as_deref() == Some("spam")));
    let err = decode(
        StreamKind::Corrections,
        br#"{"prediction_id":"p","ts":5}"#,
        &limits(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("`label`"), "{err}");

    let l = decode(
        StreamKind::Latency,
        br#"{"model":"m","model_version":"v","ts":5,"latency_ms":12.5,"status":"timeout"}"#,
        &limits(),
    )
    .unwrap();
    assert!(
        matches!(l, Event::Latency(ref l) if l.status == LatencyStatus::Timeout && l.prediction_id.is_none())
    );
    for bad in [
        r#"{"model":"m","model_version":"v","ts":5,"latency_ms":-1,"status":"ok"}"#,
        r#"{"model":"m","model_version":"v","ts":5,"latency_ms":1,"status":"slow"}"#,
        r#"{"model":"m","model_version":"v","ts":5,"status":"ok"}"#,
    ] {
        assert!(
            decode(StreamKind::Latency, bad.as_bytes(), &limits()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn batches_follow_the_schema() {
    for stream in StreamKind::ALL {
        let schema_json: serde_json::Value =
            serde_json::from_str(feedloop_events::json_schemas::for_stream(stream)).unwrap();
        let mut b = BatchBuilder::new(stream, "topic-a", 3);
        for (i, ex) in schema_json["examples"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let e = decode(stream, &serde_json::to_vec(ex).unwrap(), &limits()).unwrap();
            b.append(
                &e,
                Lineage {
                    offset: 10 + i as i64,
                    kafka_ts: Some(7),
                },
            )
            .unwrap();
        }
        let batch = b.finish().unwrap();
        assert_eq!(batch.schema(), schema(stream));
        assert_eq!(batch.num_rows(), 2);
        assert!(b.is_empty());
        let empty = b.finish().unwrap();
        assert_eq!(empty.num_rows(), 0);
    }
    let mut b = BatchBuilder::new(StreamKind::Latency, "t", 0);
    let e = pred(
        r#"{"prediction_id":"p","model":"m","model_version":"v","ts":0,"output":{"label":"x"}}"#,
    )
    .unwrap();
    assert!(
        b.append(
            &e,
            Lineage {
                offset: 0,
                kafka_ts: None
            }
        )
        .is_err()
    );
}

fn feature_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|v| serde_json::json!(v)),
        (-1e300f64..1e300).prop_map(|v| serde_json::json!(v)),
        ".{0,20}".prop_map(serde_json::Value::String),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes at all: decode never panics, and errors render.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), s in 0usize..3) {
        let stream = StreamKind::ALL[s];
        if let Err(e) = decode(stream, &bytes, &limits()) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    /// Valid predictions round-trip their values through decode and Arrow.
    #[test]
    fn valid_predictions_round_trip(
        id in "[a-z0-9-]{1,40}",
        model in "[A-Za-z0-9_-]{1,20}",
        ts in -62135596800000i64..253402300799999,
        features in proptest::collection::btree_map("[a-z_]{1,12}", feature_value(), 0..20),
        tags in proptest::collection::btree_map("[a-z]{1,8}", "[ -~]{0,12}", 0..5),
        score in proptest::option::of(-1e9f64..1e9),
        label in proptest::option::of("[a-z]{1,8}"),
    ) {
        prop_assume!(score.is_some() || label.is_some());
        let json = serde_json::json!({
            "prediction_id": id, "model": model, "model_version": "v1", "ts": ts,
            "features": features, "tags": tags, "output": {"score": score, "label": label},
        });
        let e = decode(StreamKind::Predictions, &serde_json::to_vec(&json).unwrap(), &limits()).unwrap();
        let Event::Prediction(p) = &e else { panic!() };
        prop_assert_eq!(p.ts, ts);
        prop_assert_eq!(p.features.len(), features.len());
        for ((name, v), (jn, jv)) in p.features.iter().zip(features.iter()) {
            prop_assert_eq!(name, jn);
            match (v, jv) {
                (FeatureValue::Null, serde_json::Value::Null) => {}
                (FeatureValue::Bool(a), serde_json::Value::Bool(b)) => prop_assert_eq!(a, b),
                (FeatureValue::Number(a), serde_json::Value::Number(b)) => prop_assert_eq!(*a, b.as_f64().unwrap()),
                (FeatureValue::String(a), serde_json::Value::String(b)) => prop_assert_eq!(a, b),
                other => prop_assert!(false, "mismatch {:?}", other),
            }
        }
        let mut b = BatchBuilder::new(StreamKind::Predictions, "t", 0);
        b.append(&e, Lineage { offset: 1, kafka_ts: None }).unwrap();
        let batch = b.finish().unwrap();
        prop_assert_eq!(batch.num_rows(), 1);
    }

    /// Dropping any required field of a valid event makes it invalid, naming that field.
    #[test]
    fn missing_required_fields_are_named(which in 0usize..5) {
        let mut json = serde_json::json!({
            "prediction_id": "p", "model": "m", "model_version": "v", "ts": 0, "output": {"label": "x"},
        });
        let field = ["prediction_id", "model", "model_version", "ts", "output"][which];
        json.as_object_mut().unwrap().remove(field);
        let err = decode(StreamKind::Predictions, &serde_json::to_vec(&json).unwrap(), &limits()).unwrap_err();
        prop_assert!(err.to_string().contains(field), "{}", err);
    }
}
