//! The landing index: which landing files exist and what event time they cover.
//!
//! Only predictions and latency events move event time. Discovered incrementally: per partition, only files after the last one seen
//! are listed (landing file names sort by offset), and each new file's footer is
//! read once for its `ts` range. Files whose events all precede the closed-window
//! cursor are dropped from the index; their windows are done.

use feedloop_events::StreamKind;
use feedloop_storage::{LandingZone, PartitionKey, StorageError};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Footers read at once while indexing new files.
const FOOTER_READS: usize = 16;

/// One landing file and its event-time range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedFile {
    /// Location relative to the storage root.
    pub path: String,
    pub stream: StreamKind,
    pub rows: usize,
    pub ts_min: i64,
    pub ts_max: i64,
}

/// Files of the landing zone that still matter, and where discovery resumes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandingIndex {
    /// Files that may hold events of windows not yet closed.
    pub files: Vec<IndexedFile>,
    /// Per partition (`<table>/<topic>/<partition>`), the start offset of the last file seen.
    pub last_seen: BTreeMap<String, i64>,
    /// Largest event time ever seen (epoch ms).
    pub max_ts: Option<i64>,
    /// Smallest event time ever seen (epoch ms).
    pub min_ts: Option<i64>,
    /// Per partition, the largest event time landed.
    #[serde(default)]
    pub partition_max: BTreeMap<String, i64>,
    /// Per partition, when this process last discovered a new file of it.
    #[serde(skip)]
    pub last_new: BTreeMap<String, std::time::Instant>,
}

fn partition_id(key: &PartitionKey) -> String {
    format!(
        "{}/{}/{}",
        key.stream.table_name(),
        key.topic,
        key.partition
    )
}

impl LandingIndex {
    /// Lists files landed since the last call, reads their footers, and returns them.
    pub async fn refresh(&mut self, zone: &LandingZone) -> Result<Vec<IndexedFile>, StorageError> {
        let mut new = Vec::new();
        // Corrections carry the time of the correction (minutes to days after the
        // prediction): they do not move event time. Their metrics come from the
        // corrections join, evaluated over the whole landing zone.
        for stream in [StreamKind::Predictions, StreamKind::Latency] {
            for key in zone.partitions(stream).await? {
                let id = partition_id(&key);
                let from = self.last_seen.get(&id).map(|s| s + 1);
                let paths: Vec<_> = zone
                    .list_partition(&key, from)
                    .await?
                    .into_iter()
                    .filter_map(|p| LandingZone::start_of(&p).map(|start| (start, p)))
                    .collect();
                // Footers are read concurrently (a few round trips each on an
                // object store), then taken in file order.
                let reads: Vec<_> = paths
                    .iter()
                    .map(|(_, path)| {
                        let (zone, path) = (zone.clone(), path.clone());
                        async move { zone.read_meta(&path).await }
                    })
                    .collect();
                let metas: Vec<_> = futures::stream::iter(reads)
                    .buffered(FOOTER_READS)
                    .try_collect()
                    .await?;
                for ((start, path), meta) in paths.into_iter().zip(metas) {
                    self.last_seen.insert(id.clone(), start);
                    let Some((lo, hi)) = meta.ts_range else {
                        continue;
                    };
                    self.max_ts = Some(self.max_ts.map_or(hi, |m| m.max(hi)));
                    let pm = self.partition_max.entry(id.clone()).or_insert(hi);
                    *pm = (*pm).max(hi);
                    self.last_new.insert(id.clone(), std::time::Instant::now());
                    self.min_ts = Some(self.min_ts.map_or(lo, |m| m.min(lo)));
                    let f = IndexedFile {
                        path: path.to_string(),
                        stream,
                        rows: meta.rows,
                        ts_min: lo,
                        ts_max: hi,
                    };
                    self.files.push(f.clone());
                    new.push(f);
                }
            }
        }
        Ok(new)
    }

    /// Event-time progress: the smallest "latest event time" over the partitions
    /// that are still receiving data (a new file within `idle`), so a partition
    /// that lags behind (a backfill, a slow instance) holds windows open instead of
    /// having its events counted late. When every partition is idle — traffic
    /// stopped, or this process just started — the latest event time overall.
    pub fn progress(&self, idle: std::time::Duration) -> Option<i64> {
        let active = self
            .last_new
            .iter()
            .filter(|(_, t)| t.elapsed() < idle)
            .filter_map(|(id, _)| self.partition_max.get(id).copied())
            .min();
        active.or(self.max_ts)
    }

    /// Files of `stream` with events in `[start, end)`.
    pub fn overlapping(&self, stream: StreamKind, start: i64, end: i64) -> Vec<&IndexedFile> {
        self.files
            .iter()
            .filter(|f| f.stream == stream && f.ts_min < end && f.ts_max >= start)
            .collect()
    }

    /// Forgets files whose events all precede `cursor`.
    pub fn evict_before(&mut self, cursor: i64) {
        self.files.retain(|f| f.ts_max >= cursor);
    }
}
