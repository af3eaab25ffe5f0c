//! Nothing an event carries (model name, model version, feature or tag name)
//! can steer a file outside the storage root, or outside its folder within it.
//!
//! Every test works in a sandbox `<tmp>/l1/l2/l3/root`: the storage root is
//! four levels down, so an escape by `..` (up to four levels) or by an absolute
//! path aimed at the sandbox lands somewhere the final walk sees. The walk
//! checks that the sandbox holds nothing but the root's ancestors and the root's
//! own tree, that a sibling folder of the root stays empty, and that every file
//! is where the layout says it goes. The sandbox is `tests/support/sandbox.rs`;
//! the window jobs' files are checked in `crates/feedloop-windows/tests/path_safety.rs`.

#[path = "../../../tests/support/sandbox.rs"]
mod sandbox;

use feedloop_analytics::export::{
    ExportConfig, ExportRequest, Policy, PrivacyRule, ScheduledDataset, export_dataset,
};
use feedloop_events::{Limits, StreamKind, decode};
use feedloop_storage::PutOutcome;
use feedloop_storage::datasets::DatasetStore;
use object_store::path::Path as ObjectPath;
use sandbox::{Lz, Sandbox, T0, hostile_feature_names, prediction};
use serde_json::{Value, json};

/// The ingest gate: a model or version outside `[A-Za-z0-9._-]{1,128}` (or `.`,
/// `..`) is dead-lettered, never landed, on both streams that carry one.
#[test]
fn hostile_model_names_and_versions_are_rejected_at_ingest() {
    let sb = Sandbox::new();
    for name in sb.hostile_names() {
        if name == "..." {
            continue; // a valid model name: three dots is an ordinary segment
        }
        for field in ["model", "model_version"] {
            let mut p = json!({"prediction_id": "p", "model": "m", "model_version": "v",
                "ts": T0, "output": {"score": 0.5}});
            p[field] = json!(name);
            let err = decode(
                StreamKind::Predictions,
                p.to_string().as_bytes(),
                &Limits::default(),
            )
            .expect_err(&format!("prediction with {field} {name:?} accepted"));
            assert!(err.to_string().contains(field), "{name:?}: {err}");
            let mut l = json!({"model": "m", "model_version": "v", "ts": T0,
                "latency_ms": 1.0, "status": "ok"});
            l[field] = json!(name);
            assert!(
                decode(
                    StreamKind::Latency,
                    l.to_string().as_bytes(),
                    &Limits::default()
                )
                .is_err(),
                "latency with {field} {name:?} accepted"
            );
        }
    }
    // Feature and tag names are data, not path material: anything printable
    // within the name limit is accepted (and the tests below land them).
    for name in [
        "../../etc/passwd",
        "/abs",
        "%2e%2e",
        "a\\b",
        "🙂",
        "..",
        ".",
    ] {
        let p = json!({"prediction_id": "p", "model": "m", "model_version": "v", "ts": T0,
            "output": {"score": 0.5}, "features": {name: 1.0}, "tags": {name: "x"}});
        decode(
            StreamKind::Predictions,
            p.to_string().as_bytes(),
            &Limits::default(),
        )
        .unwrap_or_else(|e| panic!("{name:?}: {e}"));
    }
}

/// The storage layer: any segment (however hostile) given to `Path::from_iter`
/// or inside a `/`-joined string stays a name below the root, for creating,
/// overwriting, reading and listing alike.
#[tokio::test]
async fn storage_writes_with_hostile_segments_stay_under_the_root() {
    let sb = Sandbox::new();
    let storage = sb.storage();
    let mut written = 0;
    for (i, name) in sb.hostile_names().iter().enumerate() {
        let paths = [
            ObjectPath::from_iter(["t".to_string(), name.clone(), format!("f{i}")]),
            ObjectPath::from(format!("s/{name}/f{i}")),
            ObjectPath::from_iter(["u".to_string(), format!("{name}.parquet")]),
        ];
        for path in paths {
            let created = storage
                .put_if_absent(&path, bytes::Bytes::from(format!("create {i}")))
                .await;
            let replaced = storage
                .put_overwrite(&path, bytes::Bytes::from(format!("overwrite {i}")))
                .await;
            match (created, replaced) {
                (Ok(PutOutcome::Created), Ok(())) => {
                    written += 1;
                    // The reader (object_store's LocalFileSystem) finds exactly
                    // what the writer wrote: both map the path the same way.
                    assert_eq!(
                        storage.get(&path).await.unwrap(),
                        bytes::Bytes::from(format!("overwrite {i}")),
                        "{path}"
                    );
                    let listed = storage
                        .list(&ObjectPath::from_iter(path.parts().take(1)), None)
                        .await
                        .unwrap();
                    assert!(listed.iter().any(|m| m.location == path), "{path}");
                }
                // Only a name the file system cannot hold may fail, and then
                // nothing is written anywhere (checked below).
                (c, r) => assert!(
                    name.len() > 255,
                    "{name:?} at {path}: create {c:?}, overwrite {r:?}"
                ),
            }
        }
    }
    assert!(written > 100, "only {written} writes succeeded");
    sb.assert_contained();
    for f in sb.root_files() {
        assert!(
            ["t/", "s/", "u/"].iter().any(|p| f.starts_with(p)),
            "{f} is outside the folder it was written to"
        );
    }
}

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
    lz.land(StreamKind::Predictions, 0, &preds, true).await;
    let corrections: Vec<Value> = (0..30)
        .step_by(2)
        .map(|i| json!({"prediction_id": format!("p{i}"), "ts": T0 + 100_000, "label": "spam"}))
        .collect();
    lz.land(StreamKind::Corrections, 0, &corrections, true)
        .await;

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
