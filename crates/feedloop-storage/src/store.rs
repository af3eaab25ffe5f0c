//! [`Storage`]: an object store rooted at a URL, with a durable create-if-absent.
//!
//! Reads and listings go through `object_store` for every backend. The one write
//! primitive, [`Storage::put_if_absent`], maps to `PutMode::Create` (a conditional
//! PUT) on cloud stores. On a local directory it is implemented here rather than
//! with `object_store::local::LocalFileSystem`, because that store neither fsyncs
//! (so "landed" would not survive a power loss) nor keeps its staging files out of
//! the data folders (a crash leaves `name#N` files that pandas then tries to read).

use crate::layout::TMP_DIR;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use url::Url;

/// What went wrong with storage, and whether trying again may help.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The storage URL or its options are wrong. Not retryable.
    #[error("invalid storage URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The object store rejected or failed an operation.
    #[error("object store error on `{path}`: {source}")]
    ObjectStore {
        path: String,
        #[source]
        source: object_store::Error,
    },
    /// A local file-system operation failed.
    #[error("I/O error on `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Parquet encoding or decoding failed.
    #[error("parquet error on `{path}`: {reason}")]
    Parquet { path: String, reason: String },
    /// A landed file does not carry the metadata the landing protocol needs.
    #[error("`{path}` is not a feedloop landing file: {reason}")]
    NotALandingFile { path: String, reason: String },
}

impl StorageError {
    /// True when the same operation may succeed if tried again (network errors,
    /// throttling, timeouts). Permission, space and format errors are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            StorageError::InvalidUrl { .. }
            | StorageError::Parquet { .. }
            | StorageError::NotALandingFile { .. } => false,
            StorageError::ObjectStore { source, .. } => matches!(
                source,
                object_store::Error::Generic { .. } | object_store::Error::JoinError { .. }
            ),
            StorageError::Io { source, .. } => {
                use std::io::ErrorKind::*;
                !matches!(
                    source.kind(),
                    PermissionDenied
                        | StorageFull
                        | ReadOnlyFilesystem
                        | InvalidInput
                        | InvalidData
                        | NotFound
                        | IsADirectory
                        | NotADirectory
                )
            }
        }
    }

    fn object_store(path: &Path, source: object_store::Error) -> Self {
        StorageError::ObjectStore {
            path: path.to_string(),
            source,
        }
    }
}

/// Result of [`Storage::put_if_absent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object was created and is durable.
    Created,
    /// An object already existed at that path; nothing was written.
    AlreadyExists,
}

/// An object store rooted at a URL. Paths given to its methods are relative to
/// that root.
#[derive(Debug, Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// Root within `store` (bucket prefix, or the absolute directory for local).
    prefix: Path,
    /// The storage URL as configured, normalised (always ends without `/`).
    url: Url,
    /// For local storage, the root directory on disk.
    local_root: Option<PathBuf>,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Storage {
    /// Opens storage from a URL or a local path.
    ///
    /// * `file:///abs/dir`, `/abs/dir` or `rel/dir` — a local directory (created if missing);
    /// * `s3://bucket/prefix` — S3 or an S3-compatible store; credentials, region and
    ///   endpoint from the usual `AWS_*` environment variables, overridable by
    ///   `options` (`aws_endpoint`, `aws_allow_http`, …);
    /// * `gs://bucket/prefix` — Google Cloud Storage (`GOOGLE_*` variables);
    /// * `az://container/prefix` — Azure Blob Storage (`AZURE_*` variables);
    /// * `memory://` — in-process memory, for tests.
    pub fn open<'a>(
        location: &str,
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Storage, StorageError> {
        let invalid = |reason: String| StorageError::InvalidUrl {
            url: location.to_string(),
            reason,
        };
        let url = match Url::parse(location) {
            Ok(u) if u.scheme().len() > 1 => u,
            // No scheme (or a Windows drive letter): a local path.
            _ => {
                let p = std::path::absolute(location).map_err(|e| invalid(e.to_string()))?;
                Url::from_directory_path(&p).map_err(|_| invalid("not an absolute path".into()))?
            }
        };
        let options: Vec<(String, String)> = options
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let url_prefix = Path::from_url_path(url.path().trim_matches('/'))
            .map_err(|e| invalid(e.to_string()))?;
        // The cloud stores differ only in their builder: credentials from the
        // environment, the URL, then `[storage.options]` as builder config keys.
        macro_rules! cloud_store {
            ($builder:ty) => {{
                let mut b = <$builder>::from_env().with_url(url.as_str());
                for (k, v) in &options {
                    let key = k
                        .parse()
                        .map_err(|e: object_store::Error| invalid(e.to_string()))?;
                    b = b.with_config(key, v);
                }
                let store = b.build().map_err(|e| invalid(e.to_string()))?;
                (Arc::new(store) as Arc<dyn ObjectStore>, url_prefix, None)
            }};
        }
        let (store, prefix, local_root): (Arc<dyn ObjectStore>, Path, Option<PathBuf>) = match url
            .scheme()
        {
            "file" => {
                let dir = url
                    .to_file_path()
                    .map_err(|_| invalid("not a local path".into()))?;
                std::fs::create_dir_all(&dir).map_err(|e| StorageError::Io {
                    path: dir.display().to_string(),
                    source: e,
                })?;
                let dir = dir.canonicalize().map_err(|e| StorageError::Io {
                    path: dir.display().to_string(),
                    source: e,
                })?;
                let prefix = Path::from_absolute_path(&dir).map_err(|e| invalid(e.to_string()))?;
                (
                    Arc::new(object_store::local::LocalFileSystem::new()),
                    prefix,
                    Some(dir),
                )
            }
            "s3" | "s3a" => cloud_store!(object_store::aws::AmazonS3Builder),
            "gs" => cloud_store!(object_store::gcp::GoogleCloudStorageBuilder),
            "az" | "azure" | "abfs" | "abfss" => {
                cloud_store!(object_store::azure::MicrosoftAzureBuilder)
            }
            "memory" => (
                Arc::new(object_store::memory::InMemory::new()),
                url_prefix,
                None,
            ),
            other => {
                return Err(invalid(format!(
                    "unsupported scheme `{other}` (expected file, s3, gs, az or memory)"
                )));
            }
        };
        let mut url = url;
        let trimmed = url.path().trim_end_matches('/').to_string();
        url.set_path(&trimmed);
        Ok(Storage {
            store,
            prefix,
            url,
            local_root,
        })
    }

    /// Storage over an object store built elsewhere (a wrapper that injects
    /// faults in tests, a store with custom client options), rooted at `prefix`
    /// and shown as `url`. Writes use conditional PUTs, as for cloud stores.
    pub fn from_object_store(
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        url: &str,
    ) -> Result<Storage, StorageError> {
        let invalid = |reason: String| StorageError::InvalidUrl {
            url: url.to_string(),
            reason,
        };
        let mut url = Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        let trimmed = url.path().trim_end_matches('/').to_string();
        url.set_path(&trimmed);
        Ok(Storage {
            store,
            prefix: Path::parse(prefix.trim_matches('/')).map_err(|e| invalid(e.to_string()))?,
            url,
            local_root: None,
        })
    }

    /// The underlying object store (rooted at the scheme's root, not at this
    /// storage's prefix: use [`Storage::path`] to build locations).
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The storage URL, without a trailing slash.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL of `rel` below the root, with a trailing slash when `dir`.
    pub fn url_of(&self, rel: &str, dir: bool) -> String {
        let base = self.url.as_str().trim_end_matches('/');
        let rel = rel.trim_matches('/');
        let mut s = if rel.is_empty() {
            base.to_string()
        } else {
            format!("{base}/{rel}")
        };
        if dir {
            s.push('/');
        }
        s
    }

    /// The local root directory, for `file://` storage.
    pub fn local_root(&self) -> Option<&std::path::Path> {
        self.local_root.as_deref()
    }

    /// The file behind `rel` for `file://` storage (`None` for other stores),
    /// so a reader can read byte ranges of it in place.
    pub fn local_file(&self, rel: &Path) -> Result<Option<PathBuf>, StorageError> {
        self.local_root
            .as_deref()
            .map(|root| target_of(root, rel))
            .transpose()
    }

    /// The absolute location of `rel` within the object store.
    pub fn path(&self, rel: &Path) -> Path {
        Path::from_iter(self.prefix.parts().chain(rel.parts()))
    }

    /// Strips this storage's prefix from an absolute location.
    pub fn relative(&self, abs: &Path) -> Option<Path> {
        abs.prefix_match(&self.prefix).map(Path::from_iter)
    }

    /// Writes `bytes` at `rel` only if nothing is there, atomically: readers see
    /// the whole object or none. On `Created` the object is durable (fsynced, for
    /// local storage).
    pub async fn put_if_absent(
        &self,
        rel: &Path,
        bytes: Bytes,
    ) -> Result<PutOutcome, StorageError> {
        match &self.local_root {
            Some(root) => local_blocking(root, rel, bytes, local_put_if_absent).await,
            None => {
                let path = self.path(rel);
                let opts = PutOptions {
                    mode: PutMode::Create,
                    ..Default::default()
                };
                match self
                    .store
                    .put_opts(&path, PutPayload::from(bytes), opts)
                    .await
                {
                    Ok(_) => Ok(PutOutcome::Created),
                    Err(object_store::Error::AlreadyExists { .. })
                    | Err(object_store::Error::Precondition { .. }) => {
                        Ok(PutOutcome::AlreadyExists)
                    }
                    Err(e) => Err(StorageError::object_store(&path, e)),
                }
            }
        }
    }

    /// Writes `bytes` at `rel`, replacing what is there (atomically, durably).
    pub async fn put_overwrite(&self, rel: &Path, bytes: Bytes) -> Result<(), StorageError> {
        match &self.local_root {
            Some(root) => local_blocking(root, rel, bytes, local_put_overwrite).await,
            None => {
                let path = self.path(rel);
                self.store
                    .put(&path, PutPayload::from(bytes))
                    .await
                    .map(|_| ())
                    .map_err(|e| StorageError::object_store(&path, e))
            }
        }
    }

    /// Size of an object in bytes.
    pub async fn size(&self, rel: &Path) -> Result<u64, StorageError> {
        let path = self.path(rel);
        self.store
            .head(&path)
            .await
            .map(|m| m.size)
            .map_err(|e| StorageError::object_store(&path, e))
    }

    /// Reads the last `n` bytes of an object (all of it when shorter) in one
    /// request; returns them with the object's size.
    pub async fn get_suffix(&self, rel: &Path, n: u64) -> Result<(Bytes, u64), StorageError> {
        let path = self.path(rel);
        let opts = object_store::GetOptions {
            range: Some(object_store::GetRange::Suffix(n)),
            ..Default::default()
        };
        let r = self
            .store
            .get_opts(&path, opts)
            .await
            .map_err(|e| StorageError::object_store(&path, e))?;
        let size = r.meta.size;
        let bytes = r
            .bytes()
            .await
            .map_err(|e| StorageError::object_store(&path, e))?;
        Ok((bytes, size))
    }

    /// Reads a byte range of an object.
    pub async fn get_range(
        &self,
        rel: &Path,
        range: std::ops::Range<u64>,
    ) -> Result<Bytes, StorageError> {
        let path = self.path(rel);
        self.store
            .get_range(&path, range)
            .await
            .map_err(|e| StorageError::object_store(&path, e))
    }

    /// Reads a whole object.
    pub async fn get(&self, rel: &Path) -> Result<Bytes, StorageError> {
        let path = self.path(rel);
        let r = self
            .store
            .get(&path)
            .await
            .map_err(|e| StorageError::object_store(&path, e))?;
        r.bytes()
            .await
            .map_err(|e| StorageError::object_store(&path, e))
    }

    /// Reads a whole object, or `None` when there is none at `rel`.
    pub async fn get_if_exists(&self, rel: &Path) -> Result<Option<Bytes>, StorageError> {
        match self.get(rel).await {
            Ok(b) => Ok(Some(b)),
            Err(StorageError::ObjectStore {
                source: object_store::Error::NotFound { .. },
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lists the objects below `rel_prefix` whose location sorts after `rel_offset`
    /// (all of them when `None`), recursively. Locations returned are relative.
    pub async fn list(
        &self,
        rel_prefix: &Path,
        rel_offset: Option<&Path>,
    ) -> Result<Vec<ObjectMeta>, StorageError> {
        let prefix = self.path(rel_prefix);
        let stream = match rel_offset {
            Some(off) => self.store.list_with_offset(Some(&prefix), &self.path(off)),
            None => self.store.list(Some(&prefix)),
        };
        let mut out: Vec<ObjectMeta> = match stream.try_collect().await {
            Ok(v) => v,
            // A prefix that was never written to: nothing there.
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(StorageError::object_store(&prefix, e)),
        };
        for m in &mut out {
            if let Some(rel) = self.relative(&m.location) {
                m.location = rel;
            }
        }
        out.retain(|m| !m.location.parts().any(|p| p.as_ref() == TMP_DIR));
        out.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(out)
    }

    /// Deletes an object (missing objects are not an error).
    pub async fn delete(&self, rel: &Path) -> Result<(), StorageError> {
        let path = self.path(rel);
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(StorageError::object_store(&path, e)),
        }
    }

    /// Removes in-progress local writes older than `age` left by crashed processes.
    pub fn clean_stale_tmp(&self, age: std::time::Duration) -> usize {
        let Some(root) = &self.local_root else {
            return 0;
        };
        let Ok(entries) = std::fs::read_dir(root.join(TMP_DIR)) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|e| e >= age);
            if old && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }
}

/// Runs a local write on the blocking pool.
async fn local_blocking<T: Send + 'static>(
    root: &std::path::Path,
    rel: &Path,
    bytes: Bytes,
    write: fn(&std::path::Path, &Path, &[u8]) -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    let (root, rel) = (root.to_path_buf(), rel.clone());
    tokio::task::spawn_blocking(move || write(&root, &rel, &bytes))
        .await
        .map_err(|e| StorageError::Io {
            path: "(blocking task)".into(),
            source: std::io::Error::other(e),
        })?
}

fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` to a fresh, fsynced temp file under `root/_tmp/`.
fn write_tmp(root: &std::path::Path, bytes: &[u8]) -> Result<PathBuf, StorageError> {
    let tmp_dir = root.join(TMP_DIR);
    std::fs::create_dir_all(&tmp_dir).map_err(io_err(&tmp_dir))?;
    let tmp = tmp_dir.join(format!(
        "{}-{}-{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    let res = f.write_all(bytes).and_then(|_| f.sync_all());
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(&tmp)(e));
    }
    Ok(tmp)
}

fn target_of(root: &std::path::Path, rel: &Path) -> Result<PathBuf, StorageError> {
    let mut target = root.to_path_buf();
    for part in rel.parts() {
        let part = part.as_ref();
        // object_store::Path already rejects `..` and empty segments; be explicit anyway.
        if part == ".." || part == "." || part.is_empty() {
            return Err(StorageError::InvalidUrl {
                url: rel.to_string(),
                reason: "path escapes the storage root".into(),
            });
        }
        target.push(part);
    }
    Ok(target)
}

fn sync_dir(dir: &std::path::Path) -> Result<(), StorageError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

fn local_put_if_absent(
    root: &std::path::Path,
    rel: &Path,
    bytes: &[u8],
) -> Result<PutOutcome, StorageError> {
    let target = target_of(root, rel)?;
    if target.exists() {
        return Ok(PutOutcome::AlreadyExists);
    }
    let parent = target.parent().unwrap_or(root).to_path_buf();
    std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let tmp = write_tmp(root, bytes)?;
    // A hard link is the atomic "create if absent" of POSIX file systems.
    let linked = std::fs::hard_link(&tmp, &target);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_dir(&parent)?;
            Ok(PutOutcome::Created)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(PutOutcome::AlreadyExists),
        Err(e) => Err(io_err(&target)(e)),
    }
}

fn local_put_overwrite(
    root: &std::path::Path,
    rel: &Path,
    bytes: &[u8],
) -> Result<(), StorageError> {
    let target = target_of(root, rel)?;
    let parent = target.parent().unwrap_or(root).to_path_buf();
    std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let tmp = write_tmp(root, bytes)?;
    if let Err(e) = std::fs::rename(&tmp, &target) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(&target)(e));
    }
    sync_dir(&parent)
}
