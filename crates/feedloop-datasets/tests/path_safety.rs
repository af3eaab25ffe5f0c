//! Exports: nothing an event carries (feature or tag name, model version) nor
//! a hostile model or dataset name steers a file outside the storage root or
//! outside the dataset's version folder. (Ingest, storage, profiles and the
//! window job: `crates/feedloop-analytics/tests/path_safety.rs`.)

#[path = "../../../tests/support/landing.rs"]
mod landing;
#[path = "../../../tests/support/sandbox.rs"]
mod sandbox;

use feedloop_datasets::{
    ExportConfig, ExportRequest, Policy, PrivacyRule, ScheduledDataset, export_dataset,
};
use feedloop_events::StreamKind;
use feedloop_storage::datasets::DatasetStore;
use landing::Lz;
use sandbox::{Sandbox, hostile_feature_names, prediction};
use serde_json::{Value, json};

const T0: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z

/// Exports: feature and tag names become column names, never paths; a dataset
/// lands only in `datasets/<model>/<name>/<version>/`; hostile model or dataset
/// names are refused before anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_stay_in_their_dataset_folder() {
    let sb = Sandbox::new();
    let storage = sb.storage();
    let features = hostile_feature_names(&sb);
    let mut lz = Lz::new(storage.clone());
    let preds: Vec<Value> = (0..30)
        .map(|i| {
            prediction(
                &format!("p{i}"),
                "m",
                "v1",
                T0 + i * 1000,
                &features,
                i as f64,
            )
        })
        .collect();
    lz.land(StreamKind::Predictions, 0, &preds).await;
    let corrections: Vec<Value> = (0..30)
        .step_by(2)
        .map(|i| json!({"prediction_id": format!("p{i}"), "ts": T0 + 100_000, "label": "spam"}))
        .collect();
    lz.land(StreamKind::Corrections, 0, &corrections).await;

    let mut config = ExportConfig {
        rows_per_part: 4,
        ..ExportConfig::default()
    };
    config.privacy.hash_key = Some("k".into());
    for (i, n) in features.iter().enumerate() {
        let rule = [PrivacyRule::Hash, PrivacyRule::Drop, PrivacyRule::Keep][i % 3];
        config.privacy.features.insert(n.clone(), rule);
        config.privacy.tags.insert(n.clone(), rule);
    }
    let before = sb.root_files();
    for name in sb.hostile_names() {
        if name == "..." {
            continue; // a valid name
        }
        let mut req = ExportRequest::new(name.clone(), Policy::Corrected, T0);
        assert!(
            export_dataset(&storage, &config, &req, &|_| {})
                .await
                .is_err(),
            "model {name:?} accepted"
        );
        req.model = "m".into();
        req.name = Some(name.clone());
        assert!(
            export_dataset(&storage, &config, &req, &|_| {})
                .await
                .is_err(),
            "dataset name {name:?} accepted"
        );
        let scheduled = ExportConfig {
            datasets: vec![ScheduledDataset {
                model: name.clone(),
                ..scheduled_dataset()
            }],
            ..ExportConfig::default()
        };
        assert!(scheduled.validate().is_err(), "scheduled model {name:?}");
        let scheduled = ExportConfig {
            datasets: vec![ScheduledDataset {
                name: name.clone(),
                ..scheduled_dataset()
            }],
            ..ExportConfig::default()
        };
        assert!(scheduled.validate().is_err(), "scheduled dataset {name:?}");
        // Reading a dataset by a hostile name finds nothing (and reads nothing
        // outside the root).
        let store = DatasetStore::new(storage.clone());
        assert!(
            store
                .list_versions(&name, "x")
                .await
                .unwrap_or_default()
                .is_empty()
        );
        assert!(
            store
                .list_versions("m", &name)
                .await
                .unwrap_or_default()
                .is_empty()
        );
    }
    assert_eq!(sb.root_files(), before, "a refused export wrote something");

    let mut req = ExportRequest::new("m", Policy::Corrected, T0);
    let out = export_dataset(&storage, &config, &req, &|_| {})
        .await
        .unwrap();
    assert_eq!(out.manifest.row_count, 15);
    // A version filter is a value in SQL, not a path: a hostile one selects nothing.
    req.model_version = Some("../../etc/passwd".into());
    req.name = Some("by-version".into());
    let empty = export_dataset(&storage, &config, &req, &|_| {})
        .await
        .unwrap();
    assert_eq!(empty.manifest.row_count, 0);

    sb.assert_contained();
    let dataset_files: Vec<_> = sb
        .root_files()
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    assert!(!dataset_files.is_empty());
    let versions = [
        format!("datasets/m/corrected/{}/", out.id.version),
        format!("datasets/m/by-version/{}/", empty.id.version),
    ];
    for f in &dataset_files {
        let dir = versions
            .iter()
            .find(|v| f.starts_with(v.as_str()))
            .unwrap_or_else(|| panic!("{f} is outside its dataset version folder"));
        let name = &f[dir.len()..];
        assert!(
            name == "_manifest.json"
                || (name.starts_with("part-") && name.ends_with(".parquet") && !name.contains('/')),
            "{f}"
        );
    }
    assert!(
        out.manifest
            .schema
            .iter()
            .any(|c| c.source == "feature:../../etc/passwd"),
        "hostile feature names are columns: {:?}",
        out.manifest.schema
    );
}

fn scheduled_dataset() -> ScheduledDataset {
    serde_json::from_value(json!({"model": "m", "name": "d", "policy": "corrected", "every": "1h"}))
        .unwrap()
}
