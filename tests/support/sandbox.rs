//! A sandbox for path-safety tests, shared by the crates' tests:
//! `#[path = "../../../tests/support/sandbox.rs"] mod sandbox;`. The storage
//! root is four levels below a temp dir (`<tmp>/l1/l2/l3/root`), so an escape by
//! `..` (up to four levels) or by an absolute path aimed at the sandbox lands
//! somewhere [`Sandbox::assert_contained`] sees; hostile names, landing events
//! with them, and checking that nothing was written outside the root.

#![allow(dead_code)]

use feedloop_events::wire::{Latency, Prediction};
use feedloop_events::{BatchBuilder, Event, Limits, Lineage, StreamKind, decode};
use feedloop_storage::{LandingZone, PartitionKey, Storage};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub const T0: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z
pub const MIN: i64 = 60_000;

/// A storage root four levels below a temp dir, with an empty sibling folder.
pub struct Sandbox {
    _dir: tempfile::TempDir,
    pub top: PathBuf,
    pub root: PathBuf,
    pub sibling: PathBuf,
}

impl Sandbox {
    pub fn new() -> Sandbox {
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

    pub fn storage(&self) -> Storage {
        Storage::open(self.root.to_str().unwrap(), []).unwrap()
    }

    /// Names aimed at the sandbox outside the root, besides the usual suspects.
    pub fn hostile_names(&self) -> Vec<String> {
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
    pub fn entries(&self) -> Vec<PathBuf> {
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
    pub fn root_files(&self) -> Vec<String> {
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
    pub fn assert_contained(&self) {
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

/// Lands events as one file per call, continuing each partition's offset chain.
/// `validated` events go through `decode` (the ingest gate); the others are
/// only parsed, as a landing file written by some other tool could hold them.
pub struct Lz {
    zone: LandingZone,
    next: std::collections::HashMap<(StreamKind, i32), i64>,
}

impl Lz {
    pub fn new(storage: Storage) -> Lz {
        Lz {
            zone: LandingZone::new(storage),
            next: Default::default(),
        }
    }

    pub async fn land(
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
pub fn hostile_feature_names(sb: &Sandbox) -> Vec<String> {
    sb.hostile_names()
        .into_iter()
        .filter(|n| !n.is_empty() && n.len() <= 256 && !n.chars().any(char::is_control))
        .collect()
}

pub fn prediction(
    id: &str,
    model: &str,
    version: &str,
    ts: i64,
    names: &[String],
    x: f64,
) -> Value {
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
