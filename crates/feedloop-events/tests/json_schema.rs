//! The event schemas of `schemas/` checked by a JSON Schema 2020-12 validator
//! (formats asserted): each is a valid 2020-12 schema, its examples validate
//! against it, and the schema and the decoder agree on valid and broken events.

#[path = "../../../tests/support/json_schema.rs"]
mod json_schema;

use feedloop_events::{Limits, StreamKind, decode, json_schemas};
use json_schema::Schema;
use serde_json::{Value, json};

/// `schemas/<stream>.v<N>.schema.json`.
fn load(stream: StreamKind) -> Schema {
    let name = match stream {
        StreamKind::Predictions => "prediction",
        StreamKind::Corrections => "correction",
        StreamKind::Latency => "latency",
    };
    Schema::load(&format!("{name}.v{}.schema.json", stream.schema_version()))
}

fn decodes(stream: StreamKind, v: &Value) -> Result<(), String> {
    decode(stream, v.to_string().as_bytes(), &Limits::default())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `example` with `path` (a JSON pointer) set to `to`, or removed when `to` is `None`.
fn with(example: &Value, path: &str, to: Option<Value>) -> Value {
    let mut v = example.clone();
    let (parent, key) = path.rsplit_once('/').unwrap();
    let obj = v.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    match to {
        Some(x) => obj.insert(key.to_string(), x),
        None => obj.remove(key),
    };
    v
}

/// Every `*.schema.json` of `schemas/` (events, alerts, drift reports,
/// manifests): draft 2020-12, `$id` naming its file, valid against the
/// meta-schema, compilable with formats asserted, and its examples valid.
#[test]
fn every_schema_is_valid_2020_12_and_its_examples_validate() {
    let dir = json_schema::path("");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".schema.json"))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "alert.v1.schema.json",
            "correction.v1.schema.json",
            "dataset-manifest.v1.schema.json",
            "drift-report.v1.schema.json",
            "latency.v1.schema.json",
            "prediction.v1.schema.json",
        ],
        "a new schema needs a test against real output, as these have"
    );
    for f in &files {
        Schema::load(f).assert_examples_valid();
    }
}

#[test]
fn event_schemas_are_valid_2020_12_schemas_and_the_embedded_ones() {
    for stream in StreamKind::ALL {
        let s = load(stream);
        let embedded: Value = serde_json::from_str(json_schemas::for_stream(stream)).unwrap();
        assert_eq!(embedded, s.doc, "{stream}: the binary embeds {}", s.file);
    }
}

#[test]
fn event_examples_validate_against_their_schema_and_decode() {
    for stream in StreamKind::ALL {
        let s = load(stream);
        s.assert_examples_valid();
        for ex in s.examples() {
            decodes(stream, ex).unwrap_or_else(|e| panic!("{stream}: {e}: {ex}"));
        }
    }
}

/// Variants of the examples that both the schema and the decoder accept.
#[test]
fn schema_valid_events_decode() {
    use StreamKind::*;
    let cases: Vec<(StreamKind, usize, &str, Option<Value>)> = vec![
        (
            Predictions,
            0,
            "/ts",
            Some(json!("2026-11-23T11:15:00.123+01:00")),
        ),
        (Predictions, 0, "/ts", Some(json!(0))),
        (Predictions, 0, "/features", Some(Value::Null)),
        (Predictions, 0, "/tags", None),
        (
            Predictions,
            0,
            "/trace_id",
            Some(json!("unknown fields are ignored")),
        ),
        (
            Predictions,
            1,
            "/output",
            Some(json!({"label": null, "score": 0.5})),
        ),
        (Predictions, 1, "/model", Some(json!("a.B_c-9"))),
        (Corrections, 0, "/source", Some(Value::Null)),
        (Corrections, 1, "/ts", Some(json!("2026-11-23T10:17:41.5Z"))),
        (Latency, 0, "/prediction_id", Some(Value::Null)),
        (Latency, 1, "/latency_ms", Some(json!(0))),
    ];
    for (stream, i, path, to) in cases {
        let s = load(stream);
        let v = with(&s.examples()[i], path, to);
        s.assert_valid(&v, &format!("{stream} {path}"));
        decodes(stream, &v).unwrap_or_else(|e| panic!("{stream} {path}: {e}: {v}"));
    }
}

/// Examples broken in one field: the schema rejects them at that field (so
/// `pattern`, `format`, `not`, `anyOf`, … are enforced), and so does ingest.
#[test]
fn broken_events_fail_the_schema_at_the_field_and_the_decoder() {
    use StreamKind::*;
    let long = "v".repeat(129);
    let cases: Vec<(StreamKind, usize, &str, Option<Value>, &str)> = vec![
        // format: date-time
        (
            Predictions,
            0,
            "/ts",
            Some(json!("2026-11-23T10:15:00.123")),
            "/ts",
        ),
        (
            Predictions,
            0,
            "/ts",
            Some(json!("2026-11-31T10:15:00Z")),
            "/ts",
        ),
        (
            Predictions,
            0,
            "/ts",
            Some(json!("23/11/2026 10:15")),
            "/ts",
        ),
        (
            Predictions,
            1,
            "/ts",
            Some(json!(253_402_300_800_000i64)),
            "/ts",
        ),
        // pattern, not, minLength
        (
            Predictions,
            0,
            "/model",
            Some(json!("spam filter")),
            "/model",
        ),
        (Predictions, 0, "/model", Some(json!("..")), "/model"),
        (
            Predictions,
            0,
            "/model_version",
            Some(json!(long)),
            "/model_version",
        ),
        (
            Predictions,
            0,
            "/prediction_id",
            Some(json!("")),
            "/prediction_id",
        ),
        // required, anyOf, additionalProperties schemas
        (Predictions, 0, "/prediction_id", None, ""),
        (Predictions, 0, "/output", Some(json!({})), "/output"),
        (
            Predictions,
            0,
            "/output",
            Some(json!({"label": null})),
            "/output",
        ),
        (
            Predictions,
            0,
            "/features",
            Some(json!({"a": [1]})),
            "/features/a",
        ),
        (
            Predictions,
            0,
            "/tags",
            Some(json!({"country": 1})),
            "/tags/country",
        ),
        (
            Corrections,
            0,
            "/ts",
            Some(json!("2026-11-23T10:17:41")),
            "/ts",
        ),
        (Corrections, 0, "/label", None, ""),
        (Corrections, 0, "/label", Some(Value::Null), ""),
        (
            Corrections,
            0,
            "/prediction_id",
            Some(json!("")),
            "/prediction_id",
        ),
        (
            Latency,
            0,
            "/ts",
            Some(json!("2026-11-23T25:00:00Z")),
            "/ts",
        ),
        (Latency, 0, "/model", Some(json!("a/b")), "/model"),
        (Latency, 0, "/status", Some(json!("slow")), "/status"),
        (Latency, 0, "/latency_ms", Some(json!(-1)), "/latency_ms"),
        (Latency, 0, "/latency_ms", None, ""),
        (
            Latency,
            0,
            "/prediction_id",
            Some(json!("")),
            "/prediction_id",
        ),
    ];
    for (stream, i, path, to, at) in cases {
        let s = load(stream);
        let v = with(&s.examples()[i], path, to);
        let what = format!(
            "{stream} {path} = {}",
            v.pointer(path).unwrap_or(&Value::Null)
        );
        s.assert_rejects(&v, at, &what);
        assert!(decodes(stream, &v).is_err(), "{what}: ingest accepts it");
    }
}

/// The checker itself fails on broken schemas: a schema that breaks the
/// meta-schema, an unknown format (a typo would otherwise assert nothing) and
/// a pattern that is not a regular expression.
#[test]
fn the_checker_rejects_broken_schemas() {
    let s = load(StreamKind::Predictions).doc;
    let broken = |path: &str, to: Value| with(&s, path, Some(to));
    let b = broken("/properties/model/type", json!("strin"));
    assert!(!json_schema::meta_errors(&b).is_empty());
    assert!(json_schema::compile(&b).is_err());
    let b = broken("/properties/prediction_id/minLength", json!(-1));
    assert!(!json_schema::meta_errors(&b).is_empty());
    let b = broken("/$defs/timestamp/oneOf/0/format", json!("datetime"));
    let e = json_schema::compile(&b).expect_err("unknown format accepted");
    assert!(e.contains("datetime"), "{e}");
    let b = broken("/properties/model/pattern", json!("^[A-Z"));
    assert!(json_schema::compile(&b).is_err());
    assert!(json_schema::compile(&s).is_ok());
    assert!(json_schema::meta_errors(&s).is_empty());
}
