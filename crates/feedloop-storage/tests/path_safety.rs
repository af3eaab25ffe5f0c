//! Nothing an event carries (model name, model version, feature or tag name)
//! can steer a file outside the storage root, or outside its folder within it:
//! the ingest gate and the storage layer. (Reference profiles and the window
//! job: `crates/feedloop-windows/tests/path_safety.rs`; exports:
//! `crates/feedloop-datasets/tests/path_safety.rs`.)
//!
//! Every test works in a sandbox `<tmp>/l1/l2/l3/root`
//! (`tests/support/sandbox.rs`): the final walk checks that the sandbox holds
//! nothing but the root's ancestors and the root's own tree, that a sibling
//! folder of the root stays empty, and that every file is where the layout
//! says it goes.

#[path = "../../../tests/support/sandbox.rs"]
mod sandbox;

use feedloop_events::{Limits, StreamKind, decode};
use feedloop_storage::PutOutcome;
use object_store::path::Path as ObjectPath;
use sandbox::Sandbox;
use serde_json::json;

const T0: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z

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
