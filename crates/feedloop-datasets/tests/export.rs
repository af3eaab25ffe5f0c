//! Every export policy over a seeded landing zone, checked id by id; typed
//! columns and privacy rules; crash safety, determinism and cleanup of
//! exports; scheduled exports. (The `feedback` views they select from:
//! `crates/feedloop-analytics/tests/feedback.rs`.)

#[path = "../../../tests/support/landing.rs"]
mod landing;

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use feedloop_datasets::{
    ExportConfig, ExportRequest, Policy, PolicyParams, PrivacyRule, count_policies, export_dataset,
    hmac_sha256, run_scheduled_exports,
};
use feedloop_events::StreamKind;
use feedloop_storage::Storage;
use feedloop_storage::datasets::{DatasetStore, FailPoint};
use landing::{Lz, corr, pred, strings};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const T0: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z
const DAY: i64 = 86_400_000;
/// The exports' "now": a day after the seeded stream, never the wall clock.
const NOW: i64 = T0 + DAY;

// ---------------------------------------------------------------------------
// The seeded stream and its known answers
// ---------------------------------------------------------------------------

const N: usize = 300;
const COUNTRIES: [&str; 3] = ["DE", "FR", "US"];

struct Row {
    id: String,
    ts: i64,
    label: &'static str,
    score: f64,
    country: &'static str,
    links: f64,
    /// Corrected label, if any.
    truth: Option<&'static str>,
}

fn seeded() -> Vec<Row> {
    (0..N)
        .map(|i| {
            let label = if i % 2 == 0 { "ham" } else { "spam" };
            let other = if label == "ham" { "spam" } else { "ham" };
            Row {
                id: format!("s-{i:04}"),
                ts: T0 + (i as i64) * 1000,
                label,
                score: (i % 100) as f64 / 100.0,
                country: COUNTRIES[i % 3],
                links: (i % 7) as f64,
                truth: (i % 5 == 0).then_some(if i % 10 == 0 { label } else { other }),
            }
        })
        .collect()
}

async fn land_seeded(storage: &Storage, rows: &[Row]) {
    let mut lz = Lz::new(storage.clone());
    let events: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mixed = if i % 2 == 0 { json!(i) } else { json!(format!("m{i}")) };
            json!({"prediction_id": r.id, "model": "spam", "model_version": if i < 150 { "v1" } else { "v2" },
                   "ts": r.ts, "output": {"label": r.label, "score": r.score},
                   "features": {"links": r.links, "lang": if i % 2 == 0 { "en" } else { "de" },
                                "has_attachment": i % 4 == 0, "mixed": mixed, "ts": 1.0, "email": format!("u{i}@x")},
                   "tags": {"country": r.country, "user": format!("user-{i}")}})
        })
        .collect();
    // Two partitions, several files each.
    for (k, chunk) in events.chunks(50).enumerate() {
        lz.land(StreamKind::Predictions, (k % 2) as i32, chunk)
            .await;
    }
    let corrections: Vec<Value> = rows
        .iter()
        .filter_map(|r| r.truth.map(|t| corr(&r.id, r.ts + 60_000, Some(t), None)))
        .collect();
    lz.land(StreamKind::Corrections, 0, &corrections).await;
    // Another model's predictions never leak into spam's datasets.
    lz.land(
        StreamKind::Predictions,
        2,
        &[pred("o-1", "other", T0, Some("ham"), Some(0.5), None, "DE")],
    )
    .await;
}

fn config() -> ExportConfig {
    let mut c = ExportConfig {
        rows_per_part: 40,
        ..ExportConfig::default()
    };
    c.privacy.features.insert("email".into(), PrivacyRule::Drop);
    c.privacy.tags.insert("user".into(), PrivacyRule::Hash);
    c.privacy.hash_key = Some("k3y".into());
    c
}

/// Reads every part a manifest names, checking sizes and SHA-256s.
async fn read_dataset(storage: &Storage, url: &str) -> (feedloop_storage::Manifest, RecordBatch) {
    let rel = url
        .strip_prefix(storage.url().as_str())
        .unwrap()
        .trim_matches('/');
    let manifest: feedloop_storage::Manifest = serde_json::from_slice(
        &storage
            .get(&format!("{rel}/_manifest.json").into())
            .await
            .unwrap(),
    )
    .unwrap();
    let mut batches = Vec::new();
    for f in &manifest.files {
        let bytes = storage
            .get(&format!("{rel}/{}", f.path).into())
            .await
            .unwrap();
        assert_eq!(bytes.len() as u64, f.bytes);
        assert_eq!(hex::encode(Sha256::digest(&bytes)), f.sha256);
        let reader =
            datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                bytes,
            )
            .unwrap()
            .build()
            .unwrap();
        let part: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        assert_eq!(
            part.iter().map(|b| b.num_rows() as u64).sum::<u64>(),
            f.rows
        );
        batches.extend(part);
    }
    let schema = batches.first().map(|b| b.schema()).unwrap();
    let all = datafusion::arrow::compute::concat_batches(&schema, &batches).unwrap();
    assert_eq!(all.num_rows() as u64, manifest.row_count);
    (manifest, all)
}

async fn export_ids(
    storage: &Storage,
    req: &ExportRequest,
) -> (Vec<String>, RecordBatch, feedloop_storage::Manifest) {
    let out = export_dataset(storage, &config(), req, &|_| {})
        .await
        .unwrap();
    let (manifest, batch) = read_dataset(storage, &out.url).await;
    let ids = strings(&batch, "prediction_id")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    (ids, batch, manifest)
}

fn unit(id: &str, seed: i64) -> f64 {
    let d = Sha256::digest(format!("{seed}:{id}").as_bytes());
    u64::from_be_bytes(d[..8].try_into().unwrap()) as f64 / 2f64.powi(64)
}

fn ids_where(rows: &[Row], f: impl Fn(&Row) -> bool) -> Vec<String> {
    rows.iter().filter(|r| f(r)).map(|r| r.id.clone()).collect()
}

#[tokio::test]
async fn every_policy_selects_the_known_rows() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
    let rows = seeded();
    land_seeded(&storage, &rows).await;
    let req = |p: Policy| ExportRequest::new("spam", p, NOW);

    // wrong: corrected and the correction disagrees.
    let (ids, batch, manifest) = export_ids(&storage, &req(Policy::Wrong)).await;
    assert_eq!(
        ids,
        ids_where(&rows, |r| r.truth.is_some_and(|t| t != r.label))
    );
    assert_eq!(ids.len(), 30);
    assert_eq!(manifest.files.len(), 1);
    assert_eq!(manifest.policy, "wrong");
    assert_eq!(manifest.name, "wrong");
    assert!(
        manifest.source_files.len() >= 8,
        "{:?}",
        manifest.source_files
    );
    // Columns: typed features, tag columns, privacy, lineage.
    let ty = |c: &str| {
        batch
            .schema()
            .field_with_name(c)
            .map(|f| f.data_type().clone())
            .ok()
    };
    assert_eq!(ty("links"), Some(DataType::Float64));
    assert_eq!(ty("lang"), Some(DataType::Utf8));
    assert_eq!(ty("has_attachment"), Some(DataType::Boolean));
    assert_eq!(
        ty("mixed"),
        Some(DataType::Utf8),
        "a feature seen as number and string is text"
    );
    assert_eq!(
        ty("feature_ts"),
        Some(DataType::Float64),
        "a feature named like a column is renamed"
    );
    assert_eq!(ty("email"), None, "dropped");
    assert_eq!(ty("tag_country"), Some(DataType::Utf8));
    assert_eq!(ty("tag_user"), Some(DataType::Utf8));
    for c in [
        "ts",
        "corrected_label",
        "is_wrong",
        "correction_ts",
        "_topic",
        "_partition",
        "_offset",
    ] {
        assert!(ty(c).is_some(), "{c}");
    }
    let first = &rows.iter().find(|r| r.id == ids[0]).unwrap();
    let i0: usize = first.id[2..].parse().unwrap();
    assert_eq!(
        strings(&batch, "tag_user")[0].as_deref(),
        Some(hex::encode(hmac_sha256(b"k3y", format!("user-{i0}").as_bytes())).as_str())
    );
    assert_eq!(
        strings(&batch, "mixed")[0].as_deref(),
        Some(if i0.is_multiple_of(2) {
            i0.to_string()
        } else {
            format!("m{i0}")
        })
        .as_deref()
    );
    assert_eq!(
        strings(&batch, "corrected_label")[0].as_deref(),
        first.truth
    );
    assert!(
        manifest
            .schema
            .iter()
            .any(|c| c.name == "tag_user" && c.privacy.as_deref() == Some("hash"))
    );

    let (ids, ..) = export_ids(&storage, &req(Policy::Corrected)).await;
    assert_eq!(ids, ids_where(&rows, |r| r.truth.is_some()));

    // sample: the same rows on every run, about the rate.
    let (ids, _, m) = export_ids(&storage, &req(Policy::Sample { rate: 0.3, seed: 7 })).await;
    assert_eq!(ids, ids_where(&rows, |r| unit(&r.id, 7) < 0.3));
    assert!((60..120).contains(&ids.len()), "{}", ids.len());
    assert_eq!(m.files.len(), ids.len().div_ceil(40));
    let (ids2, ..) = export_ids(&storage, &req(Policy::Sample { rate: 0.3, seed: 8 })).await;
    assert_ne!(ids, ids2);

    // stratified: at most 10 per class (the true label when corrected), smallest hash first.
    let (ids, ..) = export_ids(
        &storage,
        &req(Policy::Stratified {
            cap: 10,
            by: vec!["label".into()],
            seed: 1,
        }),
    )
    .await;
    let mut expected = Vec::new();
    for class in ["ham", "spam"] {
        let mut c: Vec<&Row> = rows
            .iter()
            .filter(|r| r.truth.unwrap_or(r.label) == class)
            .collect();
        c.sort_by(|a, b| unit(&a.id, 1).total_cmp(&unit(&b.id, 1)));
        expected.extend(c.iter().take(10).map(|r| (r.ts, r.id.clone())));
    }
    expected.sort();
    assert_eq!(ids, expected.into_iter().map(|x| x.1).collect::<Vec<_>>());
    let (ids, ..) = export_ids(
        &storage,
        &req(Policy::Stratified {
            cap: 5,
            by: vec!["label".into(), "tag:country".into()],
            seed: 1,
        }),
    )
    .await;
    assert_eq!(ids.len(), 30, "2 classes × 3 countries × 5");

    // uncertain: score within 0.5 ± 0.05.
    let (ids, ..) = export_ids(
        &storage,
        &req(Policy::Uncertain {
            boundary: 0.5,
            band: 0.05,
        }),
    )
    .await;
    assert_eq!(ids, ids_where(&rows, |r| (0.45..=0.55).contains(&r.score)));

    // sql over the feedback view.
    let w = "features['links']['number'] >= 5 AND tags['country'] = 'FR' AND is_corrected";
    let (ids, ..) = export_ids(
        &storage,
        &req(Policy::Sql {
            where_clause: w.into(),
        }),
    )
    .await;
    assert_eq!(
        ids,
        ids_where(&rows, |r| r.links >= 5.0
            && r.country == "FR"
            && r.truth.is_some())
    );

    // Filters: since/until and version on any policy.
    let mut r = req(Policy::Corrected);
    r.since_ms = Some(T0 + 100_000);
    r.until_ms = Some(T0 + 200_000);
    r.name = Some("corrected-window".into());
    let (ids, _, m) = export_ids(&storage, &r).await;
    assert_eq!(
        ids,
        ids_where(&rows, |r| r.truth.is_some()
            && r.ts >= T0 + 100_000
            && r.ts < T0 + 200_000)
    );
    assert_eq!(
        m.time_range.since.as_deref(),
        Some("2026-11-23T00:01:40.000Z")
    );
    let mut r = req(Policy::Corrected);
    r.model_version = Some("v2".into());
    let (ids, ..) = export_ids(&storage, &r).await;
    assert_eq!(
        ids,
        ids_where(&rows, |r| r.truth.is_some() && r.id.as_str() >= "s-0150")
    );

    // drifted, without an alerts table: nothing, and it says so.
    let out = export_dataset(
        &storage,
        &config(),
        &req(Policy::Drifted { states: vec![] }),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(out.manifest.row_count, 0);
    assert!(
        out.manifest
            .notes
            .iter()
            .any(|n| n.contains("no alerts table")),
        "{:?}",
        out.manifest.notes
    );

    // drifted, with alerts: a firing DE alert on v1 over [T0+20s, T0+80s), a resolved
    // one elsewhere, and a whole-model alert for v2 over [T0+200s, T0+210s).
    write_alerts(
        &storage,
        &[
            (
                "spam",
                "v1",
                r#"{"country":"DE"}"#,
                T0 + 20_000,
                T0 + 80_000,
                "firing",
            ),
            (
                "spam",
                "v1",
                r#"{"country":"FR"}"#,
                T0,
                T0 + 100_000,
                "resolved",
            ),
            ("spam", "v2", "{}", T0 + 200_000, T0 + 210_000, "firing"),
            ("other", "v1", "{}", T0, T0 + 300_000, "firing"),
        ],
    )
    .await;
    let (ids, _, m) = export_ids(&storage, &req(Policy::Drifted { states: vec![] })).await;
    assert_eq!(
        ids,
        ids_where(&rows, |r| (r.country == "DE"
            && r.ts >= T0 + 20_000
            && r.ts < T0 + 80_000)
            || (r.ts >= T0 + 200_000 && r.ts < T0 + 210_000))
    );
    assert!(m.source_files.iter().any(|f| f.path.starts_with("alerts/")));
    let (ids, ..) = export_ids(
        &storage,
        &req(Policy::Drifted {
            states: vec!["resolved".into()],
        }),
    )
    .await;
    assert_eq!(
        ids,
        ids_where(&rows, |r| r.country == "FR" && r.ts < T0 + 100_000)
    );

    // Dry run: counts per policy, nothing written.
    let before = storage.list(&"datasets".into(), None).await.unwrap().len();
    let params = PolicyParams {
        rate: Some(0.3),
        seed: Some(7),
        ..Default::default()
    };
    let counts: BTreeMap<String, u64> =
        count_policies(&storage, &config(), &req(Policy::Wrong), &params)
            .await
            .unwrap()
            .into_iter()
            .collect();
    assert_eq!(counts["predictions"], N as u64);
    assert_eq!(counts["wrong"], 30);
    assert_eq!(counts["corrected"], 60);
    assert_eq!(
        counts["sample"],
        ids_where(&rows, |r| unit(&r.id, 7) < 0.3).len() as u64
    );
    assert!(!counts.contains_key("stratified") && !counts.contains_key("sql"));
    assert_eq!(
        storage.list(&"datasets".into(), None).await.unwrap().len(),
        before
    );
}

async fn write_alerts(storage: &Storage, alerts: &[(&str, &str, &str, i64, i64, &str)]) {
    use datafusion::arrow::array::{StringArray, TimestampMillisecondArray};
    use std::sync::Arc;
    let s = |i: usize| {
        Arc::new(StringArray::from_iter_values(alerts.iter().map(
            |a| match i {
                0 => a.0,
                1 => a.1,
                2 => a.2,
                _ => a.5,
            },
        ))) as Arc<dyn Array>
    };
    let t = |end: bool| {
        Arc::new(
            TimestampMillisecondArray::from_iter_values(
                alerts.iter().map(|a| if end { a.4 } else { a.3 }),
            )
            .with_timezone("UTC"),
        ) as Arc<dyn Array>
    };
    let batch = RecordBatch::try_from_iter([
        ("model", s(0)),
        ("model_version", s(1)),
        ("segment", s(2)),
        (
            "metric",
            Arc::new(StringArray::from_iter_values(alerts.iter().map(|_| "psi"))) as _,
        ),
        (
            "feature",
            Arc::new(StringArray::from_iter_values(
                alerts.iter().map(|_| "links"),
            )) as _,
        ),
        ("window_start", t(false)),
        ("window_end", t(true)),
        ("state", s(5)),
    ])
    .unwrap();
    let part = feedloop_storage::datasets::encode_part(&batch, 1, 1000).unwrap();
    storage
        .put_if_absent(&"alerts/part-0.parquet".into(), part.bytes)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_crash_leaves_nothing_visible_and_reruns_are_identical() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
    let rows = seeded();
    land_seeded(&storage, &rows).await;
    let store = DatasetStore::new(storage.clone());
    let mut req = ExportRequest::new("spam", Policy::Sample { rate: 0.5, seed: 3 }, NOW);
    req.until_ms = Some(T0 + 1_000_000);

    req.fail_point = FailPoint::BeforeManifest;
    assert!(
        export_dataset(&storage, &config(), &req, &|_| {})
            .await
            .is_err()
    );
    assert!(
        store
            .list_versions("spam", "sample")
            .await
            .unwrap()
            .is_empty(),
        "no visible version after the crash"
    );
    let leftovers = storage
        .list(&"datasets/spam/sample".into(), None)
        .await
        .unwrap();
    assert!(leftovers.len() >= 2, "parts were written: {leftovers:?}");
    assert!(
        leftovers
            .iter()
            .all(|m| m.location.filename() != Some("_manifest.json"))
    );

    // The rerun completes the same version.
    req.fail_point = FailPoint::None;
    let a = export_dataset(&storage, &config(), &req, &|_| {})
        .await
        .unwrap();
    assert!(a.created);
    assert!(
        a.url
            .ends_with(&format!("datasets/spam/sample/{}/", a.id.version))
    );
    assert_eq!(
        store.list_versions("spam", "sample").await.unwrap().len(),
        1
    );
    // An identical run writes nothing and names the same version and parts.
    let b = export_dataset(&storage, &config(), &req, &|_| {})
        .await
        .unwrap();
    assert!(!b.created);
    assert_eq!(
        (b.id.clone(), b.manifest.files.clone()),
        (a.id.clone(), a.manifest.files.clone())
    );
    // New data outside the time range: same rows, same version.
    let mut lz = Lz::new(storage.clone());
    lz.next.insert((StreamKind::Predictions, 0), 10_000);
    lz.land(
        StreamKind::Predictions,
        0,
        &[pred(
            "late",
            "spam",
            T0 + 9 * DAY,
            Some("ham"),
            Some(0.5),
            None,
            "DE",
        )],
    )
    .await;
    let c = export_dataset(&storage, &config(), &req, &|_| {})
        .await
        .unwrap();
    assert_eq!(c.id, a.id);
    // The same data in another storage root gives byte-identical parts.
    let dir2 = tempfile::tempdir().unwrap();
    let storage2 = Storage::open(dir2.path().to_str().unwrap(), []).unwrap();
    land_seeded(&storage2, &rows).await;
    let d = export_dataset(&storage2, &config(), &req, &|_| {})
        .await
        .unwrap();
    assert_eq!(d.manifest.files, a.manifest.files);

    // A leftover of another export older than the grace period is removed by the next export.
    let mut crash = ExportRequest::new("spam", Policy::Wrong, NOW);
    crash.fail_point = FailPoint::BeforeManifest;
    assert!(
        export_dataset(&storage, &config(), &crash, &|_| {})
            .await
            .is_err()
    );
    let cfg = ExportConfig {
        cleanup_grace: std::time::Duration::ZERO,
        ..config()
    };
    let e = export_dataset(&storage, &cfg, &req, &|_| {}).await.unwrap();
    assert_eq!(e.cleaned.len(), 1, "{:?}", e.cleaned);
    assert!(e.cleaned[0].starts_with("datasets/spam/wrong/"));
    assert!(
        storage
            .list(&"datasets/spam/wrong".into(), None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.list_versions("spam", "sample").await.unwrap().len(),
        1,
        "committed versions stay"
    );
}

#[tokio::test]
async fn scheduled_exports_run_when_due() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
    land_seeded(&storage, &seeded()).await;
    let toml_like: ExportConfig = serde_json::from_value(json!({
        "privacy": {"features": {"email": "drop"}},
        "datasets": [
            {"name": "daily-wrong", "model": "spam", "policy": "wrong", "every": "1day"},
            {"name": "uncertain", "model": "spam", "policy": "uncertain", "band": 0.05, "every": "1h", "lookback": "4min"},
        ]
    }))
    .unwrap();
    let now = T0 + 400_000;
    let runs = run_scheduled_exports(&storage, &toml_like, now)
        .await
        .unwrap();
    assert_eq!(runs.len(), 2);
    let rows: Vec<u64> = runs
        .iter()
        .map(|r| r.result.as_ref().unwrap().manifest.row_count)
        .collect();
    let seeded = seeded();
    assert_eq!(rows[0], 30);
    assert_eq!(
        rows[1],
        ids_where(&seeded, |r| (0.45..=0.55).contains(&r.score)
            && r.ts >= now - 240_000)
        .len() as u64
    );
    // Not due again within the interval; due after it.
    assert!(
        run_scheduled_exports(&storage, &toml_like, now + 60_000)
            .await
            .unwrap()
            .is_empty()
    );
    let again = run_scheduled_exports(&storage, &toml_like, now + 3_600_000)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].name, "uncertain");
}
