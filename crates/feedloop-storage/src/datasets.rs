//! Retraining datasets: their layout, manifest, commit protocol and cleanup.
//!
//! ```text
//! <root>/datasets/<model>/<dataset name>/<version>/part-00000.parquet
//!                                                 part-00001.parquet …
//!                                                 _manifest.json      (written last)
//! ```
//!
//! **A version exists once its `_manifest.json` exists.** Parts are written
//! first (each with create-if-absent), the manifest last (create-if-absent too).
//! Readers list versions through their manifests and read only the files a
//! manifest names, so a version folder without a manifest — the leftover of a
//! crashed export — is invisible; [`DatasetStore::clean_incomplete`] deletes
//! such folders once they are older than a grace period.
//!
//! **Versions are content hashes** ([`content_version`]): the first 16 hex digits
//! of the SHA-256 of the export's description (model, name, policy, parameters,
//! privacy rules) and of every part's SHA-256. Parts are encoded
//! deterministically, so the same export over the same data lands in the same
//! folder: a rerun after a crash completes the leftover instead of starting a new
//! version, and a rerun after success finds the manifest and writes nothing.
//! Committed versions are never modified or deleted by feedloop.

use crate::layout::{DATASETS_DIR, MANIFEST_FILE};
use crate::store::{PutOutcome, Storage, StorageError};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use object_store::path::Path;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Version of the manifest format.
pub const MANIFEST_FORMAT: u32 = 1;

/// Checks a model or dataset name: `[A-Za-z0-9._-]{1,128}`, not `.` or `..`
/// (the alphabet of model names, so names are safe path segments).
pub fn validate_name(what: &str, name: &str) -> Result<(), StorageError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(StorageError::InvalidUrl {
            url: name.to_string(),
            reason: format!("invalid {what} name: expected 1 to 128 of A-Z a-z 0-9 . _ -"),
        })
    }
}

/// One version of one dataset of one model.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DatasetId {
    pub model: String,
    pub name: String,
    pub version: String,
}

impl DatasetId {
    /// `datasets/<model>/<name>` (every version of the dataset).
    pub fn dataset_dir(model: &str, name: &str) -> Path {
        crate::layout::dataset_dir(model, name)
    }

    /// `datasets/<model>/<name>/<version>`.
    pub fn dir(&self) -> Path {
        Path::from_iter([DATASETS_DIR, &self.model, &self.name, &self.version])
    }

    /// The name of part `i` (`part-00000.parquet`).
    pub fn part_name(i: usize) -> String {
        format!("part-{i:05}.parquet")
    }

    pub fn manifest_path(&self) -> Path {
        self.dir().join(MANIFEST_FILE)
    }
}

/// A landing file an export read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    /// Relative to the storage root.
    pub path: String,
    pub bytes: u64,
}

/// A data file of a dataset version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Relative to the version folder (`part-00000.parquet`).
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
}

impl ManifestFile {
    /// The manifest entries of a version's parts, named `part-NNNNN.parquet` in order.
    pub fn for_parts(parts: &[EncodedPart]) -> Vec<ManifestFile> {
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| ManifestFile {
                path: DatasetId::part_name(i),
                rows: p.rows,
                bytes: p.bytes.len() as u64,
                sha256: p.sha256.clone(),
            })
            .collect()
    }
}

/// A column of the dataset's Parquet schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaColumn {
    pub name: String,
    /// Arrow data type (`Float64`, `Utf8`, `Boolean`, `Timestamp(ms, "UTC")`, …).
    #[serde(rename = "type")]
    pub data_type: String,
    pub nullable: bool,
    /// Where the column comes from: `feature:<name>`, `tag:<name>`, or a
    /// prediction/correction column name.
    pub source: String,
    /// For feature and tag columns: the privacy rule applied (`keep`, `hash`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<String>,
}

/// Time range of a dataset (RFC 3339, UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// Requested lower bound on prediction `ts` (inclusive), if any.
    pub since: Option<String>,
    /// Requested upper bound on prediction `ts` (exclusive), if any.
    pub until: Option<String>,
    /// Smallest and largest prediction `ts` in the dataset.
    pub min_ts: Option<String>,
    pub max_ts: Option<String>,
}

/// `_manifest.json`: what a dataset version holds and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub model: String,
    pub name: String,
    pub version: String,
    pub row_count: u64,
    pub policy: String,
    pub parameters: serde_json::Value,
    pub time_range: TimeRange,
    /// The landing files the export read (predictions, corrections, alerts).
    pub source_files: Vec<SourceFile>,
    pub files: Vec<ManifestFile>,
    pub schema: Vec<SchemaColumn>,
    /// The privacy rules applied (never the hash key).
    pub privacy: serde_json::Value,
    /// Remarks of the export (e.g. "no alerts table: the drifted policy selects nothing").
    #[serde(default)]
    pub notes: Vec<String>,
    pub created_at: String,
    pub feedloop_version: String,
}

/// A Parquet part encoded in memory, ready to be written.
#[derive(Debug, Clone)]
pub struct EncodedPart {
    pub bytes: Bytes,
    pub rows: u64,
    /// Hex SHA-256 of `bytes`.
    pub sha256: String,
}

impl EncodedPart {
    pub fn new(bytes: Bytes, rows: u64) -> Self {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        EncodedPart {
            bytes,
            rows,
            sha256,
        }
    }
}

/// Encodes one part: Parquet, zstd, one row group per `row_group_rows`, written
/// from a single batch so the bytes depend only on the rows (not on how a query
/// engine happened to slice them).
pub fn encode_part(
    batch: &RecordBatch,
    zstd_level: i32,
    row_group_rows: usize,
) -> Result<EncodedPart, StorageError> {
    let perr = |e: parquet::errors::ParquetError| StorageError::Parquet {
        path: "(dataset part)".into(),
        reason: e.to_string(),
    };
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(zstd_level).map_err(perr)?,
        ))
        .set_max_row_group_row_count(Some(row_group_rows.max(1)))
        .build();
    let mut buf = Vec::with_capacity(batch.get_array_memory_size() / 4 + 4096);
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).map_err(perr)?;
    w.write(batch).map_err(perr)?;
    w.close().map_err(perr)?;
    Ok(EncodedPart::new(Bytes::from(buf), batch.num_rows() as u64))
}

/// The content-hash version of a dataset: 16 hex digits of
/// SHA-256(canonical JSON of `descriptor` ‖ each part's SHA-256).
pub fn content_version(descriptor: &serde_json::Value, parts: &[EncodedPart]) -> String {
    let mut h = Sha256::new();
    // serde_json's map is a BTreeMap (no preserve_order feature): keys are sorted.
    h.update(serde_json::to_vec(descriptor).unwrap_or_default());
    for p in parts {
        h.update(b"\n");
        h.update(p.sha256.as_bytes());
    }
    hex::encode(h.finalize())[..16].to_string()
}

/// Result of [`DatasetStore::commit`].
#[derive(Debug, Clone)]
pub enum CommitOutcome {
    /// The parts and the manifest were written; the version now exists.
    Created(Manifest),
    /// The version already existed (same content): nothing was written.
    AlreadyCommitted(Manifest),
}

impl CommitOutcome {
    pub fn manifest(&self) -> &Manifest {
        match self {
            CommitOutcome::Created(m) | CommitOutcome::AlreadyCommitted(m) => m,
        }
    }
}

/// What [`DatasetStore::clean_incomplete`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Version folders without a manifest that were deleted.
    pub folders: Vec<String>,
    pub objects: usize,
}

/// Where a commit stops early (tests of crash safety).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailPoint {
    #[default]
    None,
    /// After every part is written, before the manifest.
    BeforeManifest,
}

/// The datasets of a [`Storage`].
#[derive(Debug, Clone)]
pub struct DatasetStore {
    storage: Storage,
}

impl DatasetStore {
    pub fn new(storage: Storage) -> Self {
        DatasetStore { storage }
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// URL of a version folder (the folder holding `_manifest.json`), with a trailing `/`.
    pub fn url(&self, id: &DatasetId) -> String {
        self.storage.url_of(id.dir().as_ref(), true)
    }

    /// The manifest of a version, or `None` while it is not committed.
    pub async fn read_manifest(&self, id: &DatasetId) -> Result<Option<Manifest>, StorageError> {
        let path = id.manifest_path();
        match self.storage.get(&path).await {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| StorageError::Parquet {
                        path: path.to_string(),
                        reason: format!("invalid manifest: {e}"),
                    })
            }
            Err(StorageError::ObjectStore {
                source: object_store::Error::NotFound { .. },
                ..
            }) => Ok(None),
            Err(StorageError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Writes `parts` then `manifest` into the folder of `manifest`'s version.
    ///
    /// Idempotent: a committed version is left as is (`AlreadyCommitted`); parts
    /// left by a crashed attempt of the same version are kept when their SHA-256
    /// matches and replaced otherwise (the folder is not visible until the
    /// manifest exists, so replacing them is safe).
    pub async fn commit(
        &self,
        parts: &[EncodedPart],
        manifest: Manifest,
        fail: FailPoint,
    ) -> Result<CommitOutcome, StorageError> {
        let id = DatasetId {
            model: manifest.model.clone(),
            name: manifest.name.clone(),
            version: manifest.version.clone(),
        };
        validate_name("model", &id.model)?;
        validate_name("dataset", &id.name)?;
        validate_name("version", &id.version)?;
        if let Some(existing) = self.read_manifest(&id).await? {
            return Ok(CommitOutcome::AlreadyCommitted(existing));
        }
        let dir = id.dir();
        for (i, part) in parts.iter().enumerate() {
            let path = dir.clone().join(DatasetId::part_name(i));
            if self
                .storage
                .put_if_absent(&path, part.bytes.clone())
                .await?
                == PutOutcome::AlreadyExists
            {
                let old = self.storage.get(&path).await?;
                if hex::encode(Sha256::digest(&old)) != part.sha256 {
                    tracing::warn!(%path, "replacing a partial part left by an interrupted export");
                    self.storage
                        .put_overwrite(&path, part.bytes.clone())
                        .await?;
                }
            }
        }
        if fail == FailPoint::BeforeManifest {
            return Err(StorageError::Io {
                path: id.manifest_path().to_string(),
                source: std::io::Error::other(
                    "injected failure before the manifest (FailPoint::BeforeManifest)",
                ),
            });
        }
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| StorageError::Parquet {
            path: id.manifest_path().to_string(),
            reason: e.to_string(),
        })?;
        match self
            .storage
            .put_if_absent(&id.manifest_path(), Bytes::from(json))
            .await?
        {
            PutOutcome::Created => Ok(CommitOutcome::Created(manifest)),
            PutOutcome::AlreadyExists => match self.read_manifest(&id).await? {
                Some(m) => Ok(CommitOutcome::AlreadyCommitted(m)),
                None => Ok(CommitOutcome::AlreadyCommitted(manifest)),
            },
        }
    }

    /// The committed versions of a dataset, oldest first (by `created_at`, then version).
    pub async fn list_versions(
        &self,
        model: &str,
        name: &str,
    ) -> Result<Vec<Manifest>, StorageError> {
        let dir = DatasetId::dataset_dir(model, name);
        let mut out = Vec::new();
        for m in self.storage.list(&dir, None).await? {
            let parts: Vec<_> = m.location.parts().collect();
            if parts.len() == 5 && parts[4].as_ref() == MANIFEST_FILE {
                let id = DatasetId {
                    model: model.into(),
                    name: name.into(),
                    version: parts[3].as_ref().to_string(),
                };
                if let Some(man) = self.read_manifest(&id).await? {
                    out.push(man);
                }
            }
        }
        out.sort_by(|a, b| (&a.created_at, &a.version).cmp(&(&b.created_at, &b.version)));
        Ok(out)
    }

    /// Deletes version folders that have no manifest and whose newest object is
    /// older than `grace` (leftovers of crashed exports; a younger folder may be
    /// an export in progress). Committed versions are never touched.
    pub async fn clean_incomplete(
        &self,
        grace: std::time::Duration,
    ) -> Result<CleanupReport, StorageError> {
        let all = self.storage.list(&Path::from(DATASETS_DIR), None).await?;
        // version folder → (has manifest, newest modification, objects)
        let mut folders: BTreeMap<Vec<String>, (bool, chrono::DateTime<chrono::Utc>, Vec<Path>)> =
            BTreeMap::new();
        for m in all {
            let parts: Vec<String> = m.location.parts().map(|p| p.as_ref().to_string()).collect();
            if parts.len() < 5 {
                continue;
            }
            let e =
                folders
                    .entry(parts[..4].to_vec())
                    .or_insert((false, m.last_modified, Vec::new()));
            e.0 |= parts.len() == 5 && parts[4] == MANIFEST_FILE;
            e.1 = e.1.max(m.last_modified);
            e.2.push(m.location);
        }
        let cutoff =
            chrono::Utc::now() - chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
        let mut report = CleanupReport::default();
        for (folder, (committed, newest, objects)) in folders {
            if committed || newest > cutoff {
                continue;
            }
            for o in &objects {
                self.storage.delete(o).await?;
            }
            if let Some(root) = self.storage.local_root() {
                // Local folders outlive their files; remove the now-empty version folder.
                let _ =
                    std::fs::remove_dir(folder.iter().fold(root.to_path_buf(), |p, s| p.join(s)));
            }
            report.objects += objects.len();
            report.folders.push(folder.join("/"));
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use std::sync::Arc;

    fn batch(n: i64) -> RecordBatch {
        RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("p{i}")),
                )) as _,
            ),
            ("x", Arc::new(Int64Array::from_iter_values(0..n)) as _),
        ])
        .unwrap()
    }

    fn manifest(version: &str, parts: &[EncodedPart]) -> Manifest {
        Manifest {
            format_version: MANIFEST_FORMAT,
            model: "m".into(),
            name: "wrong".into(),
            version: version.into(),
            row_count: parts.iter().map(|p| p.rows).sum(),
            policy: "wrong".into(),
            parameters: serde_json::json!({}),
            time_range: TimeRange::default(),
            source_files: vec![],
            files: ManifestFile::for_parts(parts),
            schema: vec![],
            privacy: serde_json::json!({}),
            notes: vec![],
            created_at: "2026-01-01T00:00:00Z".into(),
            feedloop_version: "test".into(),
        }
    }

    #[test]
    fn parts_are_deterministic() {
        let a = encode_part(&batch(1000), 3, 256).unwrap();
        let b = encode_part(&batch(1000), 3, 256).unwrap();
        assert_eq!(a.sha256, b.sha256);
        let d = serde_json::json!({"policy": "wrong", "b": 1, "a": 2});
        assert_eq!(
            content_version(&d, std::slice::from_ref(&a)),
            content_version(&d, &[b])
        );
        assert_ne!(
            content_version(&d, std::slice::from_ref(&a)),
            content_version(&serde_json::json!({}), &[a])
        );
        assert!(validate_name("dataset", "ok-name_1.2").is_ok());
        for bad in ["", ".", "..", "a/b", "a b"] {
            assert!(validate_name("dataset", bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn commit_is_atomic_for_readers_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        for storage in [
            Storage::open(dir.path().to_str().unwrap(), []).unwrap(),
            Storage::open("memory://bucket/prefix", []).unwrap(),
        ] {
            let ds = DatasetStore::new(storage);
            let parts = vec![
                encode_part(&batch(10), 3, 4).unwrap(),
                encode_part(&batch(3), 3, 4).unwrap(),
            ];
            let v = content_version(&serde_json::json!({}), &parts);
            let id = DatasetId {
                model: "m".into(),
                name: "wrong".into(),
                version: v.clone(),
            };
            // A crash between parts and manifest: parts exist, the version does not.
            let err = ds
                .commit(&parts, manifest(&v, &parts), FailPoint::BeforeManifest)
                .await;
            assert!(err.is_err());
            assert!(ds.read_manifest(&id).await.unwrap().is_none());
            assert!(ds.list_versions("m", "wrong").await.unwrap().is_empty());
            // Within the grace period the leftover is kept (it may be an export in progress).
            assert!(
                ds.clean_incomplete(std::time::Duration::from_secs(3600))
                    .await
                    .unwrap()
                    .folders
                    .is_empty()
            );
            // A corrupted leftover part is replaced by the rerun.
            ds.storage()
                .put_overwrite(
                    &id.dir().join(DatasetId::part_name(1)),
                    Bytes::from_static(b"junk"),
                )
                .await
                .unwrap();
            let out = ds
                .commit(&parts, manifest(&v, &parts), FailPoint::None)
                .await
                .unwrap();
            assert!(matches!(out, CommitOutcome::Created(_)));
            let got = ds
                .storage()
                .get(&id.dir().join(DatasetId::part_name(1)))
                .await
                .unwrap();
            assert_eq!(got, parts[1].bytes);
            let out = ds
                .commit(&parts, manifest(&v, &parts), FailPoint::None)
                .await
                .unwrap();
            assert!(matches!(out, CommitOutcome::AlreadyCommitted(_)));
            assert_eq!(ds.list_versions("m", "wrong").await.unwrap().len(), 1);

            // An old leftover of another version is cleaned; the committed one stays.
            let other = DatasetId {
                model: "m".into(),
                name: "wrong".into(),
                version: "deadbeef".into(),
            };
            ds.storage()
                .put_if_absent(
                    &other.dir().join(DatasetId::part_name(0)),
                    parts[0].bytes.clone(),
                )
                .await
                .unwrap();
            let r = ds
                .clean_incomplete(std::time::Duration::ZERO)
                .await
                .unwrap();
            assert_eq!(r.folders, vec!["datasets/m/wrong/deadbeef".to_string()]);
            assert_eq!(r.objects, 1);
            assert_eq!(ds.list_versions("m", "wrong").await.unwrap().len(), 1);
            assert!(
                ds.storage()
                    .size(&id.dir().join(DatasetId::part_name(0)))
                    .await
                    .is_ok()
            );
        }
    }
}
