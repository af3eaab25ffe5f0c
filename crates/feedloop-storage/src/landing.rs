//! The landing zone: one Parquet file per flushed range of one topic-partition.
//!
//! Layout (hive-style folders, readable as-is by DataFusion, DuckDB and pandas):
//!
//! ```text
//! <root>/landing/<table>/topic=<topic>/partition=<p>/<first offset, 20 digits>.parquet
//! ```
//!
//! **Exactly-once protocol.** A file covers a contiguous offset range
//! `[start, end]` of one partition; its name is `start`, and `start`/`end` are
//! also in its Parquet key-value metadata (`feedloop.start_offset`,
//! `feedloop.end_offset`). The next file of the partition starts at `end + 1`, so
//! the files of a partition form a gap-free chain whatever the flush timing. Files
//! are written with create-if-absent: when two writers (a restarted instance and a
//! stale one, or two instances during a rebalance) land the same start offset, the
//! first wins and the second learns the winner's `end` and drops what it covers.
//! The resume point is read back from storage ([`LandingZone::resume_point`]), so
//! it is correct even when the Kafka offset commit was lost.

use crate::layout::LANDING_DIR;
use crate::store::{PutOutcome, Storage, StorageError};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use feedloop_events::StreamKind;
use object_store::path::Path;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

const META_START: &str = "feedloop.start_offset";
const META_END: &str = "feedloop.end_offset";
/// Bytes read from the end of a landing file to find its footer in one request.
pub const FOOTER_PREFETCH: u64 = 64 * 1024;

/// Identifies one Kafka topic-partition feeding one landing table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    pub stream: StreamKind,
    pub topic: String,
    pub partition: i32,
}

impl std::fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.topic, self.partition)
    }
}

/// A file in the landing zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandedFile {
    /// Location relative to the storage root.
    pub path: Path,
    /// First offset of the range the file covers.
    pub start_offset: i64,
    /// Last offset of the range the file covers (inclusive).
    pub end_offset: i64,
    /// Rows in the file (0 when every message of the range was dead-lettered).
    pub rows: usize,
    /// Size of the file in bytes.
    pub bytes: usize,
    /// False when the file was already there (written by another writer).
    pub created: bool,
}

/// What a landed file's footer says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    pub start_offset: i64,
    pub end_offset: i64,
    pub rows: usize,
    /// Smallest and largest event time (`ts`, epoch ms) in the file; `None` when empty.
    pub ts_range: Option<(i64, i64)>,
    /// File size in bytes.
    pub size: u64,
}

/// Where a partition's next file starts, according to storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumePoint {
    /// The offset after the last landed file, or the hint when no file follows it.
    pub next_offset: Option<i64>,
    /// The last landed file found, if any.
    pub last_file: Option<Path>,
}

/// The landing zone of a [`Storage`].
#[derive(Debug, Clone)]
pub struct LandingZone {
    storage: Storage,
    zstd_level: i32,
}

impl LandingZone {
    pub fn new(storage: Storage) -> Self {
        LandingZone {
            storage,
            zstd_level: 1,
        }
    }

    /// Sets the zstd level of landed files (1 = fastest, the default; up to 22).
    pub fn with_zstd_level(mut self, level: i32) -> Self {
        self.zstd_level = level;
        self
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// `landing/<table>`, relative to the storage root.
    pub fn table_dir(stream: StreamKind) -> Path {
        Path::from_iter([LANDING_DIR, stream.table_name()])
    }

    /// The folder of one topic-partition.
    pub fn partition_dir(key: &PartitionKey) -> Path {
        Path::from_iter([
            LANDING_DIR.to_string(),
            key.stream.table_name().to_string(),
            format!("topic={}", key.topic),
            format!("partition={}", key.partition),
        ])
    }

    fn offset_name(offset: i64) -> String {
        format!("{offset:020}")
    }

    /// The file holding the range starting at `start`.
    pub fn file_path(key: &PartitionKey, start: i64) -> Path {
        Self::partition_dir(key).join(format!("{}.parquet", Self::offset_name(start)))
    }

    /// Parses the start offset out of a landing file name.
    pub fn start_of(path: &Path) -> Option<i64> {
        let name = path.filename()?;
        let digits = name.strip_suffix(".parquet")?;
        (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    }

    /// Encodes `batch` as Parquet (zstd) with the range in its metadata.
    pub fn encode(
        &self,
        key: &PartitionKey,
        start: i64,
        end: i64,
        batch: &RecordBatch,
    ) -> Result<Bytes, StorageError> {
        let path = Self::file_path(key, start);
        let perr = |e: parquet::errors::ParquetError| StorageError::Parquet {
            path: path.to_string(),
            reason: e.to_string(),
        };
        let level = ZstdLevel::try_new(self.zstd_level).map_err(perr)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_key_value_metadata(Some(vec![
                KeyValue::new(META_START.into(), start.to_string()),
                KeyValue::new(META_END.into(), end.to_string()),
                KeyValue::new("feedloop.topic".into(), key.topic.clone()),
                KeyValue::new("feedloop.partition".into(), key.partition.to_string()),
                KeyValue::new(
                    "feedloop.stream".into(),
                    key.stream.table_name().to_string(),
                ),
                KeyValue::new(
                    "feedloop.schema_version".into(),
                    key.stream.schema_version().to_string(),
                ),
            ]))
            .build();
        let mut buf = Vec::with_capacity(batch.get_array_memory_size() / 4 + 4096);
        let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).map_err(perr)?;
        w.write(batch).map_err(perr)?;
        w.close().map_err(perr)?;
        Ok(Bytes::from(buf))
    }

    /// Lands the range `[start, end]` of `key` holding `batch`'s rows.
    ///
    /// Returns the landed file, or — when a file already exists at `start` — that
    /// file's range with `created = false`, so the caller can drop what it covers.
    /// Durable on return.
    pub async fn land(
        &self,
        key: &PartitionKey,
        start: i64,
        end: i64,
        batch: RecordBatch,
    ) -> Result<LandedFile, StorageError> {
        let path = Self::file_path(key, start);
        let rows = batch.num_rows();
        let this = self.clone();
        let key2 = key.clone();
        // Parquet encoding is CPU work: keep it off the async workers.
        let bytes = tokio::task::spawn_blocking(move || this.encode(&key2, start, end, &batch))
            .await
            .map_err(|e| StorageError::Parquet {
                path: path.to_string(),
                reason: format!("encoder task failed: {e}"),
            })??;
        let size = bytes.len();
        match self.storage.put_if_absent(&path, bytes).await? {
            PutOutcome::Created => Ok(LandedFile {
                path,
                start_offset: start,
                end_offset: end,
                rows,
                bytes: size,
                created: true,
            }),
            PutOutcome::AlreadyExists => {
                let (s, e, rows) = self.read_range(&path).await?;
                Ok(LandedFile {
                    path,
                    start_offset: s,
                    end_offset: e,
                    rows,
                    bytes: 0,
                    created: false,
                })
            }
        }
    }

    /// Reads `(start, end, rows)` of a landed file from its Parquet footer.
    pub async fn read_range(&self, path: &Path) -> Result<(i64, i64, usize), StorageError> {
        let m = self.read_meta(path).await?;
        Ok((m.start_offset, m.end_offset, m.rows))
    }

    /// Reads a landed file's footer (one suffix read of [`FOOTER_PREFETCH`]
    /// bytes, a second ranged read only for a larger footer): its offset range,
    /// row count and event-time range.
    pub async fn read_meta(&self, path: &Path) -> Result<FileMeta, StorageError> {
        let not_landing = |reason: String| StorageError::NotALandingFile {
            path: path.to_string(),
            reason,
        };
        // One request for the tail, which holds the whole footer of a landing
        // file (their footers are a few KiB); a second one only when it does not.
        let (tail, size) = self.storage.get_suffix(path, FOOTER_PREFETCH).await?;
        if size < 12 || tail.len() < 8 {
            return Err(not_landing(format!(
                "{size} bytes is too small for Parquet"
            )));
        }
        let end = &tail[tail.len() - 8..];
        if &end[4..8] != b"PAR1" {
            return Err(not_landing("no Parquet magic at the end".into()));
        }
        let len = u32::from_le_bytes([end[0], end[1], end[2], end[3]]) as u64;
        if len + 12 > size {
            return Err(not_landing(format!(
                "footer length {len} exceeds the file size {size}"
            )));
        }
        let footer = if len + 8 <= tail.len() as u64 {
            let at = tail.len() - 8 - len as usize;
            tail.slice(at..tail.len() - 8)
        } else {
            self.storage
                .get_range(path, size - 8 - len..size - 8)
                .await?
        };
        let meta = parquet::file::metadata::ParquetMetaDataReader::decode_metadata(&footer)
            .map_err(|e| StorageError::Parquet {
                path: path.to_string(),
                reason: e.to_string(),
            })?;
        let fm = meta.file_metadata();
        let get = |k: &str| -> Result<i64, StorageError> {
            fm.key_value_metadata()
                .and_then(|kv| kv.iter().find(|e| e.key == k))
                .and_then(|e| e.value.as_deref())
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| not_landing(format!("no `{k}` in its metadata")))
        };
        // Event-time range from the `ts` column chunk statistics of every row group.
        let mut ts: Option<(i64, i64)> = None;
        for rg in meta.row_groups() {
            for col in rg.columns() {
                if col.column_path().string() != "ts" {
                    continue;
                }
                if let Some(parquet::file::statistics::Statistics::Int64(st)) = col.statistics()
                    && let (Some(lo), Some(hi)) = (st.min_opt(), st.max_opt())
                {
                    ts = Some(match ts {
                        Some((a, b)) => (a.min(*lo), b.max(*hi)),
                        None => (*lo, *hi),
                    });
                }
            }
        }
        Ok(FileMeta {
            start_offset: get(META_START)?,
            end_offset: get(META_END)?,
            rows: fm.num_rows() as usize,
            ts_range: ts,
            size,
        })
    }

    /// Lists the landing files of a partition, in offset order, optionally only
    /// those starting at or after `from`.
    pub async fn list_partition(
        &self,
        key: &PartitionKey,
        from: Option<i64>,
    ) -> Result<Vec<Path>, StorageError> {
        let dir = Self::partition_dir(key);
        // Keys after `<dir>/<from - 1, 20 digits>` are exactly the files starting at ≥ from.
        let offset = from
            .filter(|f| *f > 0)
            .map(|f| dir.clone().join(Self::offset_name(f - 1) + "~"));
        let files = self.storage.list(&dir, offset.as_ref()).await?;
        Ok(files
            .into_iter()
            .map(|m| m.location)
            .filter(|p| Self::start_of(p).is_some_and(|s| from.is_none_or(|f| s >= f)))
            .collect())
    }

    /// Finds where `key` resumes. `committed` is Kafka's committed offset, used as
    /// a hint to list only the files at or after it (the landing protocol commits
    /// only at file boundaries). Without a hint every file is listed.
    pub async fn resume_point(
        &self,
        key: &PartitionKey,
        committed: Option<i64>,
    ) -> Result<ResumePoint, StorageError> {
        let files = self.list_partition(key, committed).await?;
        match files.last() {
            Some(last) => {
                let (_, end, _) = self.read_range(last).await?;
                Ok(ResumePoint {
                    next_offset: Some(end + 1),
                    last_file: Some(last.clone()),
                })
            }
            None => Ok(ResumePoint {
                next_offset: committed,
                last_file: None,
            }),
        }
    }

    /// Lists the partitions of a table that have landed files.
    pub async fn partitions(&self, stream: StreamKind) -> Result<Vec<PartitionKey>, StorageError> {
        let files = self.storage.list(&Self::table_dir(stream), None).await?;
        let mut keys: Vec<PartitionKey> = files
            .iter()
            .filter_map(|m| {
                let parts: Vec<_> = m.location.parts().collect();
                let n = parts.len();
                if n < 3 {
                    return None;
                }
                let topic = parts[n - 3].as_ref().strip_prefix("topic=")?.to_string();
                let partition = parts[n - 2]
                    .as_ref()
                    .strip_prefix("partition=")?
                    .parse()
                    .ok()?;
                Some(PartitionKey {
                    stream,
                    topic,
                    partition,
                })
            })
            .collect();
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use feedloop_events::{BatchBuilder, Limits, Lineage, decode};

    fn batch(key: &PartitionKey, offsets: std::ops::RangeInclusive<i64>) -> RecordBatch {
        let mut b = BatchBuilder::new(key.stream, &key.topic, key.partition);
        for o in offsets {
            let json = format!(r#"{{"prediction_id":"p{o}","ts":{o},"label":"x"}}"#);
            let e = decode(StreamKind::Corrections, json.as_bytes(), &Limits::default()).unwrap();
            b.append(
                &e,
                Lineage {
                    offset: o,
                    kafka_ts: None,
                },
            )
            .unwrap();
        }
        b.finish().unwrap()
    }

    async fn zones() -> Vec<(LandingZone, Option<tempfile::TempDir>)> {
        let dir = tempfile::tempdir().unwrap();
        let local = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
        let mem = Storage::open("memory://bucket/some/prefix", []).unwrap();
        vec![
            (LandingZone::new(local), Some(dir)),
            (LandingZone::new(mem), None),
        ]
    }

    #[test]
    fn names_sort_by_offset() {
        let key = PartitionKey {
            stream: StreamKind::Corrections,
            topic: "c".into(),
            partition: 7,
        };
        let a = LandingZone::file_path(&key, 9);
        let b = LandingZone::file_path(&key, 10);
        assert!(a < b);
        assert_eq!(
            a.as_ref(),
            "landing/corrections/topic=c/partition=7/00000000000000000009.parquet"
        );
        assert_eq!(LandingZone::start_of(&b), Some(10));
        assert_eq!(
            LandingZone::start_of(&Path::from("x/00000000000000000009.parquet#1")),
            None
        );
    }

    #[tokio::test]
    async fn land_resume_and_conflicts() {
        for (zone, _dir) in zones().await {
            let key = PartitionKey {
                stream: StreamKind::Corrections,
                topic: "c".into(),
                partition: 0,
            };
            assert_eq!(
                zone.resume_point(&key, None).await.unwrap().next_offset,
                None
            );
            assert_eq!(
                zone.resume_point(&key, Some(5)).await.unwrap().next_offset,
                Some(5)
            );

            let f = zone.land(&key, 0, 9, batch(&key, 0..=9)).await.unwrap();
            assert!(f.created);
            assert_eq!(f.rows, 10);
            let m = zone.read_meta(&f.path).await.unwrap();
            assert_eq!(
                (m.start_offset, m.end_offset, m.rows, m.ts_range),
                (0, 9, 10, Some((0, 9)))
            );
            let f = zone.land(&key, 10, 24, batch(&key, 10..=24)).await.unwrap();
            assert!(f.created);
            // A second writer landing an overlapping range at the same start loses and learns the winner's end.
            let f = zone.land(&key, 10, 30, batch(&key, 10..=30)).await.unwrap();
            assert!(!f.created);
            assert_eq!((f.start_offset, f.end_offset, f.rows), (10, 24, 15));

            // Resume from storage, with and without a commit hint (even a stale one).
            for hint in [None, Some(0), Some(10), Some(25)] {
                let r = zone.resume_point(&key, hint).await.unwrap();
                assert_eq!(r.next_offset, Some(25), "hint {hint:?}");
            }
            // An empty range (all dead-lettered) still lands, keeping the chain gap-free.
            #[allow(clippy::reversed_empty_ranges)] // no rows, on purpose
            let f = zone.land(&key, 25, 27, batch(&key, 1..=0)).await.unwrap();
            assert!(f.created && f.rows == 0);
            assert_eq!(
                zone.resume_point(&key, Some(25)).await.unwrap().next_offset,
                Some(28)
            );
            assert_eq!(
                zone.partitions(StreamKind::Corrections).await.unwrap(),
                vec![key.clone()]
            );
            assert_eq!(zone.list_partition(&key, Some(10)).await.unwrap().len(), 2);
        }
    }

    #[tokio::test]
    async fn local_writes_leave_no_partial_files() {
        let dir = tempfile::tempdir().unwrap();
        let zone = LandingZone::new(Storage::open(dir.path().to_str().unwrap(), []).unwrap());
        let key = PartitionKey {
            stream: StreamKind::Corrections,
            topic: "c".into(),
            partition: 0,
        };
        zone.land(&key, 0, 3, batch(&key, 0..=3)).await.unwrap();
        let tmp: Vec<_> = std::fs::read_dir(dir.path().join("_tmp"))
            .unwrap()
            .collect();
        assert!(tmp.is_empty(), "temp files are removed after linking");
        // A stale temp file from a crashed writer is ignored by listings and cleaned up.
        std::fs::write(dir.path().join("_tmp/123-0-0"), b"partial").unwrap();
        assert_eq!(
            zone.storage()
                .list(&Path::from(""), None)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(zone.storage().clean_stale_tmp(std::time::Duration::ZERO), 1);
    }
}
