//! Nothing an event carries (model name, model version, feature or tag name)
//! can steer a file outside the storage root, or outside its folder within it:
//! the ingest gate, the storage layer, reference profiles and the window job.
//! (Exports: `crates/feedloop-datasets/tests/path_safety.rs`.)
//!
//! Every test works in a sandbox `<tmp>/l1/l2/l3/root`
//! (`tests/support/sandbox.rs`): the final walk checks that the sandbox holds
//! nothing but the root's ancestors and the root's own tree, that a sibling
//! folder of the root stays empty, and that every file is where the layout
//! says it goes.

#[path = "../../../tests/support/landing.rs"]
mod landing;
#[path = "../../../tests/support/sandbox.rs"]
mod sandbox;

use feedloop_analytics::LandingSession;
use feedloop_analytics::windows::{WindowJob, WindowsConfig, profiles};
use feedloop_drift::profile::ProfileConfig;
use feedloop_events::{Limits, StreamKind, decode};
use feedloop_storage::PutOutcome;
use landing::Lz;
use object_store::path::Path as ObjectPath;
use sandbox::{Sandbox, hostile_feature_names, prediction};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

const T0: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z
const MIN: i64 = 60_000;

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

/// Reference profiles are stored at `profiles/<model>/<version>/reference.json`:
/// exactly that depth for every name, one distinct file per (model, version),
/// each read back as written.
#[tokio::test]
async fn reference_profiles_of_hostile_names_stay_in_their_folder() {
    let sb = Sandbox::new();
    let storage = sb.storage();
    let mut names = sb.hostile_names();
    names.extend(["m".to_string(), "v1".to_string(), "...".to_string()]);
    let mut paths = BTreeSet::new();
    let mut pairs = 0;
    for model in &names {
        for version in [model.as_str(), "v1", "", "..", "/abs", "reference.json"] {
            let path = profiles::profile_path(model, version);
            let parts: Vec<_> = path.parts().map(|p| p.as_ref().to_string()).collect();
            assert_eq!(parts.len(), 4, "{model:?}/{version:?} → {path}");
            assert_eq!(parts[0], profiles::PROFILES_DIR);
            assert_eq!(parts[3], "reference.json");
            for p in &parts {
                assert!(!p.is_empty() && p != "." && p != "..", "{path}");
                assert!(p.len() <= 255, "{path}: segment of {} bytes", p.len());
            }
            if !paths.insert(path.clone()) {
                continue; // the same pair again (model == version cases)
            }
            pairs += 1;
            let profile = profile_of(pairs as f64);
            let stored = profiles::save(&storage, model, version, profile.clone())
                .await
                .unwrap_or_else(|e| panic!("{model:?}/{version:?}: {e}"));
            assert_eq!(stored.to_json().unwrap(), profile.to_json().unwrap());
            let loaded = profiles::load(&storage, model, version)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{model:?}/{version:?} not found"));
            assert_eq!(loaded.to_json().unwrap(), profile.to_json().unwrap());
        }
    }
    sb.assert_contained();
    let files = sb.root_files();
    let profile_files: Vec<_> = files
        .iter()
        .filter(|f| f.starts_with("profiles/"))
        .collect();
    assert_eq!(profile_files.len(), pairs, "one file per (model, version)");
    for f in &profile_files {
        assert_eq!(f.split('/').count(), 4, "{f}");
        assert!(f.ends_with("/reference.json"), "{f}");
    }
    assert!(
        files.iter().all(|f| f.starts_with("profiles/")),
        "{files:?}"
    );
}

fn profile_of(x: f64) -> feedloop_drift::profile::ReferenceProfile {
    let mut s = profiles::Samples {
        rows: 3,
        ..Default::default()
    };
    s.feature("x").numbers.extend([x, x + 1.0, x + 2.0]);
    s.build_profile(&ProfileConfig::default()).unwrap()
}

/// The window job over hostile names: valid models whose features and tags are
/// named like paths (through the ingest gate), and a landing file written
/// around the gate whose models and versions are hostile too. Profiles,
/// metrics, alerts and state all land where the layout says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_job_over_hostile_names_writes_only_its_own_files() {
    let sb = Sandbox::new();
    let storage = sb.storage();
    let features = hostile_feature_names(&sb);
    let mut lz = Lz::new(storage.clone());
    let models: Vec<String> = sb.hostile_names().into_iter().step_by(3).collect();
    for w in 0..4 {
        let valid: Vec<Value> = (0..20)
            .map(|i| {
                let ts = T0 + w * MIN + i * 2_000;
                prediction(&format!("ok-{w}-{i}"), "m", "v1", ts, &features, i as f64)
            })
            .collect();
        lz.land(StreamKind::Predictions, 0, &valid).await;
        let around: Vec<Value> = models
            .iter()
            .enumerate()
            .flat_map(|(j, model)| {
                let features = &features;
                (0..3).map(move |i| {
                    let ts = T0 + w * MIN + i * 10_000;
                    prediction(
                        &format!("h-{w}-{j}-{i}"),
                        model,
                        model,
                        ts,
                        features,
                        i as f64,
                    )
                })
            })
            .collect();
        lz.land_unchecked(StreamKind::Predictions, 1, &around).await;
        let latency: Vec<Value> = models
            .iter()
            .map(|model| {
                json!({"model": model, "model_version": model, "ts": T0 + w * MIN + 1_000,
                    "latency_ms": 12.5, "status": "ok"})
            })
            .collect();
        lz.land_unchecked(StreamKind::Latency, 0, &latency).await;
    }
    let session = LandingSession::new(&storage).await.unwrap();
    let config = WindowsConfig {
        size: Duration::from_secs(60),
        allowed_lateness: Duration::ZERO,
        segments: features.iter().take(10).cloned().collect(),
        reference_windows: 1,
        ..WindowsConfig::default()
    };
    let mut job = WindowJob::open(config, storage.clone(), session.context().clone())
        .await
        .unwrap();
    let mut closed = 0;
    for _ in 0..5 {
        closed += job.tick().await.unwrap().len();
    }
    assert!(closed >= 2, "{closed} windows closed");
    sb.assert_contained();
    let files = sb.root_files();
    let mut profile_files = 0;
    for f in &files {
        let parts: Vec<&str> = f.split('/').collect();
        match parts[0] {
            "landing" => assert!(parts.len() == 5 && parts[4].ends_with(".parquet"), "{f}"),
            "profiles" => {
                assert!(parts.len() == 4 && parts[3] == "reference.json", "{f}");
                profile_files += 1;
            }
            "metrics" | "alerts" => {
                assert!(parts.len() == 2 && parts[1].ends_with(".parquet"), "{f}")
            }
            "state" => assert_eq!(f, "state/windows.json"),
            _ => panic!("unexpected file {f}"),
        }
    }
    assert!(
        files.contains(&"profiles/m/v1/reference.json".to_string()),
        "{files:#?}"
    );
    assert!(
        profile_files > 1,
        "no profile of a hostile model: {files:#?}"
    );
}
