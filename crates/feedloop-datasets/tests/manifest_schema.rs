//! `schemas/dataset-manifest.v1.schema.json` describes the `_manifest.json`
//! that exports write: it is a valid JSON Schema 2020-12, its examples are
//! exact `Manifest` JSON, and the manifests of real exports (every policy)
//! validate against it, formats and patterns included.

#[path = "../../../tests/support/json_schema.rs"]
mod json_schema;

use feedloop_datasets::{
    ExportConfig, ExportOutcome, ExportRequest, Policy, PrivacyRule, export_dataset,
};
use feedloop_events::{BatchBuilder, Limits, Lineage, StreamKind, decode};
use feedloop_storage::{LandingZone, Manifest, PartitionKey, Storage};
use json_schema::Schema;
use serde_json::{Value, json};

const T0: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z
const MIN: i64 = 60_000;

fn schema() -> Schema {
    Schema::load("dataset-manifest.v1.schema.json")
}

/// Lands `events` of `stream` as one landing file of partition 0 starting at `offset`.
async fn land(zone: &LandingZone, stream: StreamKind, offset: i64, events: &[Value]) {
    let topic = stream.table_name();
    let mut b = BatchBuilder::new(stream, topic, 0);
    for (i, e) in events.iter().enumerate() {
        let ev = decode(stream, e.to_string().as_bytes(), &Limits::default()).unwrap();
        let lineage = Lineage {
            offset: offset + i as i64,
            kafka_ts: None,
        };
        b.append(&ev, lineage).unwrap();
    }
    let key = PartitionKey {
        stream,
        topic: topic.into(),
        partition: 0,
    };
    let end = offset + events.len() as i64 - 1;
    zone.land(&key, offset, end, b.finish().unwrap())
        .await
        .unwrap();
}

/// Six spam-filter predictions (features of every type, two tags), four of
/// them corrected (two wrongly predicted), in two landing files.
async fn landing_zone(storage: &Storage) {
    let zone = LandingZone::new(storage.clone());
    let pred = |i: i64, label: &str, score: f64, country: &str| {
        json!({"prediction_id": format!("p-{i}"), "model": "spam-filter", "model_version": "v1",
               "ts": T0 + i * MIN, "output": {"label": label, "score": score},
               "features": {"num_links": i, "language": "en", "has_attachment": i % 2 == 0,
                            "email": format!("u{i}@example.com")},
               "tags": {"country": country, "user": format!("user-{i}")}})
    };
    let preds: Vec<Value> = (0..6)
        .map(|i| {
            let spam = i % 3 == 0;
            let label = if spam { "spam" } else { "ham" };
            pred(
                i,
                label,
                if spam { 0.9 } else { 0.45 },
                ["DE", "FR"][i as usize % 2],
            )
        })
        .collect();
    land(&zone, StreamKind::Predictions, 0, &preds[..3]).await;
    land(&zone, StreamKind::Predictions, 3, &preds[3..]).await;
    let corr = |i: i64, label: &str| json!({"prediction_id": format!("p-{i}"), "ts": T0 + (i + 10) * MIN, "label": label, "source": "user"});
    let corrections = [
        corr(0, "ham"),
        corr(1, "ham"),
        corr(2, "spam"),
        corr(4, "ham"),
    ];
    land(&zone, StreamKind::Corrections, 0, &corrections).await;
}

fn config() -> ExportConfig {
    let mut c = ExportConfig {
        rows_per_part: 1,
        ..ExportConfig::default()
    };
    c.privacy.features.insert("email".into(), PrivacyRule::Drop);
    c.privacy.tags.insert("user".into(), PrivacyRule::Hash);
    c.privacy.hash_key = Some("k3y".into());
    c
}

/// One export of every policy (a time range, a version filter, an empty
/// selection among them), each with the `_manifest.json` it wrote as JSON.
async fn exports(storage: &Storage) -> Vec<(ExportOutcome, Value)> {
    let now = T0 + 30 * MIN;
    let policies = [
        Policy::Wrong,
        Policy::Corrected,
        Policy::Sample { rate: 0.5, seed: 7 },
        Policy::Stratified {
            cap: 1,
            by: vec!["label".into(), "tag:country".into()],
            seed: 0,
        },
        Policy::Uncertain {
            boundary: 0.5,
            band: 0.1,
        },
        Policy::Drifted { states: vec![] },
        Policy::Sql {
            where_clause: "is_corrected AND output_score > 0.5".into(),
        },
    ];
    let mut out = Vec::new();
    for (i, policy) in policies.into_iter().enumerate() {
        let mut req = ExportRequest::new("spam-filter", policy, now);
        match i {
            0 => {
                req.since_ms = Some(T0);
                req.until_ms = Some(T0 + 5 * MIN);
            }
            2 => req.model_version = Some("v1".into()),
            _ => {}
        }
        let o = export_dataset(storage, &config(), &req, &|_| {})
            .await
            .unwrap();
        let path = o.id.manifest_path();
        let bytes = storage.get(&path).await.unwrap();
        let written: Value = serde_json::from_slice(&bytes).unwrap();
        out.push((o, written));
    }
    out
}

/// The schema nodes that apply to one instance: `s` behind its `$ref`, and
/// its `allOf` branches with their `then`/`else` (where the policy-specific
/// parameters are described).
fn applicable<'a>(root: &'a Value, s: &'a Value, out: &mut Vec<&'a Value>) {
    let s = match s.get("$ref").and_then(Value::as_str) {
        Some(r) => root.pointer(r.strip_prefix('#').unwrap()).expect(r),
        None => s,
    };
    out.push(s);
    for branch in s
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        applicable(root, branch, out);
    }
    for k in ["then", "else"] {
        if let Some(b) = s.get(k) {
            applicable(root, b, out);
        }
    }
}

/// Keys of `v` (recursively) that no applicable schema node names under
/// `properties` (or covers with a map-like `additionalProperties`): fields
/// the writer emits but the schema does not describe.
fn undocumented(root: &Value, nodes: &[&Value], v: &Value, at: &str, out: &mut Vec<String>) {
    let mut all = Vec::new();
    for n in nodes {
        applicable(root, n, &mut all);
    }
    // The nodes for the member `key` of an object, or for the items of an array (None).
    let children = |key: Option<&str>| -> Vec<&Value> {
        all.iter()
            .filter_map(|n| match key {
                None => n.get("items"),
                Some(k) => n
                    .get("properties")
                    .and_then(|p| p.get(k))
                    .or_else(|| n.get("additionalProperties").filter(|a| a.is_object())),
            })
            .collect()
    };
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let c = children(Some(k));
                if c.is_empty() {
                    out.push(format!("{at}/{k}"));
                } else {
                    undocumented(root, &c, x, &format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(a) => {
            let c = children(None);
            for (i, x) in a.iter().enumerate() {
                undocumented(root, &c, x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn manifest_schema_is_2020_12_and_its_examples_are_exact_manifests() {
    let s = schema();
    s.assert_examples_valid();
    assert!(s.examples().len() >= 2);
    for ex in s.examples() {
        let m: Manifest = serde_json::from_value(ex.clone()).unwrap();
        assert_eq!(
            &serde_json::to_value(&m).unwrap(),
            ex,
            "example round-trips exactly"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_manifests_validate_and_broken_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
    landing_zone(&storage).await;
    let s = schema();
    let exports = exports(&storage).await;
    for (o, written) in &exports {
        let what = format!("manifest of {}", o.url);
        s.assert_valid(written, &what);
        assert_eq!(
            written,
            &serde_json::to_value(&o.manifest).unwrap(),
            "{what}"
        );
        let mut missing = Vec::new();
        undocumented(&s.doc, &[&s.doc], written, "", &mut missing);
        assert!(
            missing.is_empty(),
            "{what}: fields not in the schema: {missing:?}"
        );
    }
    // What the exports cover, so that every branch of the schema meets a real manifest.
    let m = |i: usize| &exports[i].1;
    assert!(m(0)["files"].as_array().unwrap().len() > 1, "several parts");
    assert!(m(0)["time_range"]["since"].is_string());
    assert!(
        m(0)["schema"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["privacy"] == "hash")
    );
    assert_eq!(
        m(5)["row_count"],
        0,
        "drifted without alerts selects nothing"
    );
    assert!(m(5)["time_range"]["min_ts"].is_null());
    assert!(!m(5)["notes"].as_array().unwrap().is_empty());
    assert!(m(3)["parameters"]["by"].is_array());

    // A real manifest broken in one field is rejected at that field.
    let wrong = m(0);
    let broken = |pointer: &str, to: Option<Value>| json_schema::with_field(wrong, pointer, to);
    let version = wrong["version"].as_str().unwrap();
    let cases: Vec<(&str, Option<Value>, &str)> = vec![
        ("/format_version", Some(json!(2)), "/format_version"),
        ("/model", Some(json!("spam/filter")), "/model"),
        ("/name", Some(json!("..")), "/name"),
        ("/version", Some(json!(version.to_uppercase())), "/version"),
        ("/version", Some(json!(&version[1..])), "/version"),
        ("/row_count", Some(json!(-1)), "/row_count"),
        ("/policy", Some(json!("best")), "/policy"),
        ("/parameters", Some(json!({"rate": 0.5})), "/parameters"),
        (
            "/created_at",
            Some(json!("2026-11-23 10:00:00.000Z")),
            "/created_at",
        ),
        (
            "/created_at",
            Some(json!("2026-11-23T10:00:00.000+01:00")),
            "/created_at",
        ),
        (
            "/created_at",
            Some(json!("2026-02-30T10:00:00.000Z")),
            "/created_at",
        ),
        (
            "/time_range/since",
            Some(json!("yesterday")),
            "/time_range/since",
        ),
        ("/time_range/max_ts", None, "/time_range"),
        // 16 hex digits where 64 are due.
        ("/files/0/sha256", Some(json!(version)), "/files/0/sha256"),
        (
            "/files/0/path",
            Some(json!("../part-00000.parquet")),
            "/files/0/path",
        ),
        ("/files/0/rows", Some(json!(1.5)), "/files/0/rows"),
        ("/files", Some(json!([])), "/files"),
        (
            "/source_files/0/path",
            Some(json!("/predictions/x.parquet")),
            "/source_files/0/path",
        ),
        (
            "/schema/0/source",
            Some(json!("colour")),
            "/schema/0/source",
        ),
        ("/schema/0/privacy", Some(json!("keep")), "/schema/0"),
        ("/privacy/hash_key", Some(json!("k3y")), "/privacy"),
        (
            "/privacy/tags/user",
            Some(json!("encrypt")),
            "/privacy/tags/user",
        ),
        ("/notes", Some(json!([""])), "/notes/0"),
        (
            "/feedloop_version",
            Some(json!("latest")),
            "/feedloop_version",
        ),
    ];
    for (pointer, to, at) in cases {
        s.assert_rejects(
            &broken(pointer, to.clone()),
            at,
            &format!("{pointer} = {to:?}"),
        );
    }
    // A feature or tag column without its privacy rule.
    let tag = wrong["schema"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["source"] == "tag:user")
        .unwrap();
    let pointer = format!("/schema/{tag}/privacy");
    s.assert_rejects(
        &broken(&pointer, None),
        &format!("/schema/{tag}"),
        "tag column without privacy",
    );
}
