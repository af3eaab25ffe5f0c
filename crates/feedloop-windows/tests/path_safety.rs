//! Nothing an event carries (model name, model version, feature or tag name)
//! steers a file of the window jobs outside its folder of the storage root:
//! reference profiles, metrics, alerts and state land where
//! `feedloop_storage::layout` says (the sandbox: `tests/support/sandbox.rs`).

#[path = "../../../tests/support/landing.rs"]
mod landing;
#[path = "../../../tests/support/sandbox.rs"]
mod sandbox;

use feedloop_analytics::LandingSession;
use feedloop_drift::profile::ProfileConfig;
use feedloop_events::StreamKind;
use feedloop_storage::layout;
use feedloop_windows::{WindowJob, WindowsConfig, profiles};
use landing::Lz;
use sandbox::{Sandbox, hostile_feature_names, prediction};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

const T0: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z
const MIN: i64 = 60_000;

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
            let path = layout::profile_file(model, version);
            let parts: Vec<_> = path.parts().map(|p| p.as_ref().to_string()).collect();
            assert_eq!(parts.len(), 4, "{model:?}/{version:?} → {path}");
            assert_eq!(parts[0], layout::PROFILES_DIR);
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
