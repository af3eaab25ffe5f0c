//! Nothing an event carries (model name, model version, feature or tag name)
//! can steer a file outside the storage root, or outside its folder within it.
//!
//! Every test works in a sandbox `<tmp>/l1/l2/l3/root`: the storage root is
//! four levels down, so an escape by `..` (up to four levels) or by an absolute
//! path aimed at the sandbox lands somewhere the final walk sees. The walk
//! checks that the sandbox holds nothing but the root's ancestors and the root's
//! own tree, that a sibling folder of the root stays empty, and that every file
//! is where the layout says it goes.

use feedloop_analytics::LandingSession;
use feedloop_analytics::export::{
    ExportConfig, ExportRequest, Policy, PrivacyRule, ScheduledDataset, export_dataset,
};
use feedloop_analytics::windows::{WindowJob, WindowsConfig, profiles};
use feedloop_drift::profile::ProfileConfig;
use feedloop_events::wire::{Latency, Prediction};
use feedloop_events::{BatchBuilder, Event, Limits, Lineage, StreamKind, decode};
use feedloop_storage::datasets::DatasetStore;
use feedloop_storage::{LandingZone, PartitionKey, PutOutcome, Storage};
use object_store::path::Path as ObjectPath;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T0: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z
const MIN: i64 = 60_000;

/// A storage root four levels below a temp dir, with an empty sibling folder.
struct Sandbox {
    _dir: tempfile::TempDir,
    top: PathBuf,
    root: PathBuf,
    sibling: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().canonicalize().unwrap();
        let l3 = top.join("l1/l2/l3");
        let root = l3.join("root");
        let sibling = l3.join("sibling");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&sibling).unwrap();
        Sandbox {
            _dir: dir,
            top,
            root,
            sibling,
        }
    }

    fn storage(&self) -> Storage {
        Storage::open(self.root.to_str().unwrap(), []).unwrap()
    }

    /// Names aimed at the sandbox outside the root, besides the usual suspects.
    fn hostile_names(&self) -> Vec<String> {
        let mut v: Vec<String> = [
            "../../etc/passwd",
            "../sibling/planted",
            "../../../../escaped",
            "/abs",
            "/",
            "a/../../b",
            "a/../../../../../b",
            "..",
            ".",
            "...",
            "./x",
            "x/.",
            "//",
            "%2e%2e",
            "%2E%2E%2F..%2F..",
            "%2F",
            "%00",
            "a\0b",
            "\0",
            "..\\..\\sibling",
            "a\\..\\..\\b",
            "C:\\Windows\\System32",
            "file:///etc/passwd",
            "$HOME",
            "~",
            "~root",
            "a\nb",
            "\r",
            " ",
            "",
            "?x=1#frag",
            "*",
            "模型/../../版本",
            "ünïcødé-✓",
            "🙂",
            "\u{202e}txt.exe",
            "\u{ff0e}\u{ff0e}",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        v.push(self.sibling.join("planted-abs").display().to_string());
        v.push(self.top.join("planted-top").display().to_string());
        v.push("x".repeat(300));
        v.push("../".repeat(40) + "deep");
        v.push("é".repeat(200));
        v
    }

    /// Every entry (files, folders, links) below the sandbox, not following links.
    fn entries(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                out.push(p.clone());
                let meta = std::fs::symlink_metadata(&p).unwrap();
                if meta.is_dir() {
                    walk(&p, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.top, &mut out);
        out.sort();
        out
    }

    /// Files below the root, as root-relative paths with `/` separators.
    fn root_files(&self) -> Vec<String> {
        self.entries()
            .into_iter()
            .filter(|p| std::fs::symlink_metadata(p).unwrap().is_file())
            .map(|p| {
                p.strip_prefix(&self.root)
                    .unwrap_or_else(|_| panic!("{} is outside the root", p.display()))
                    .to_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    /// Nothing exists in the sandbox but the root's ancestors, the (empty)
    /// sibling and the root's tree; no symlinks; nothing at the absolute
    /// targets the hostile names aimed at.
    fn assert_contained(&self) {
        let allowed: BTreeSet<PathBuf> = [
            self.top.join("l1"),
            self.top.join("l1/l2"),
            self.top.join("l1/l2/l3"),
            self.root.clone(),
            self.sibling.clone(),
        ]
        .into_iter()
        .collect();
        for p in self.entries() {
            let meta = std::fs::symlink_metadata(&p).unwrap();
            assert!(!meta.file_type().is_symlink(), "symlink {}", p.display());
            assert!(
                allowed.contains(&p) || p.starts_with(&self.root),
                "{} was created outside the storage root {}",
                p.display(),
                self.root.display()
            );
        }
        assert_eq!(
            std::fs::read_dir(&self.sibling).unwrap().count(),
            0,
            "the root's sibling folder must stay empty"
        );
        for abs in ["/abs", "/escaped", "/b", "/deep"] {
            assert!(!Path::new(abs).join("f").exists(), "{abs}/f exists");
        }
    }
}

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

/// Lands events as one file per call, continuing each partition's offset chain.
/// `validated` events go through `decode` (the ingest gate); the others are
/// only parsed, as a landing file written by some other tool could hold them.
struct Lz {
    zone: LandingZone,
    next: std::collections::HashMap<(StreamKind, i32), i64>,
}

impl Lz {
    fn new(storage: Storage) -> Lz {
        Lz {
            zone: LandingZone::new(storage),
            next: Default::default(),
        }
    }

    async fn land(
        &mut self,
        stream: StreamKind,
        partition: i32,
        events: &[Value],
        validated: bool,
    ) {
        let key = PartitionKey {
            stream,
            topic: stream.table_name().to_string(),
            partition,
        };
        let start = *self.next.get(&(stream, partition)).unwrap_or(&0);
        let mut b = BatchBuilder::new(stream, &key.topic, partition);
        for (i, e) in events.iter().enumerate() {
            let ev = if validated {
                decode(stream, e.to_string().as_bytes(), &Limits::default())
                    .unwrap_or_else(|err| panic!("{e}: {err}"))
            } else {
                match stream {
                    StreamKind::Predictions => {
                        Event::Prediction(serde_json::from_value::<Prediction>(e.clone()).unwrap())
                    }
                    StreamKind::Latency => {
                        Event::Latency(serde_json::from_value::<Latency>(e.clone()).unwrap())
                    }
                    StreamKind::Corrections => unreachable!("corrections carry no names"),
                }
            };
            b.append(
                &ev,
                Lineage {
                    offset: start + i as i64,
                    kafka_ts: None,
                },
            )
            .unwrap();
        }
        let end = start + events.len() as i64 - 1;
        let f = self
            .zone
            .land(&key, start, end, b.finish().unwrap())
            .await
            .unwrap();
        assert!(f.created);
        self.next.insert((stream, partition), end + 1);
    }
}

/// Feature and tag names an event may carry (printable, within the name limit),
/// however path-like.
fn hostile_feature_names(sb: &Sandbox) -> Vec<String> {
    sb.hostile_names()
        .into_iter()
        .filter(|n| !n.is_empty() && n.len() <= 256 && !n.chars().any(char::is_control))
        .collect()
}

fn prediction(id: &str, model: &str, version: &str, ts: i64, names: &[String], x: f64) -> Value {
    let features: serde_json::Map<String, Value> = names
        .iter()
        .enumerate()
        .map(|(j, n)| (n.clone(), json!(x + j as f64)))
        .collect();
    let tags: serde_json::Map<String, Value> = names
        .iter()
        .take(40)
        .map(|n| {
            (
                n.clone(),
                json!(if x as i64 % 2 == 0 { "a/../b" } else { "/c" }),
            )
        })
        .collect();
    json!({"prediction_id": id, "model": model, "model_version": version, "ts": ts,
        "features": features, "tags": tags,
        "output": {"score": (x / 100.0).clamp(0.0, 1.0), "label": if x as i64 % 3 == 0 { "spam" } else { "ham" }}})
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
        lz.land(StreamKind::Predictions, 0, &valid, true).await;
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
        lz.land(StreamKind::Predictions, 1, &around, false).await;
        let latency: Vec<Value> = models
            .iter()
            .map(|model| {
                json!({"model": model, "model_version": model, "ts": T0 + w * MIN + 1_000,
                    "latency_ms": 12.5, "status": "ok"})
            })
            .collect();
        lz.land(StreamKind::Latency, 0, &latency, false).await;
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
