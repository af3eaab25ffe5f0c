//! Reading the landing files of a batch of windows into Arrow with the parquet
//! crate: only the columns a window reads, only the row groups whose event
//! times overlap the batch, files and row groups decoded in parallel on the
//! job's pool, and strings kept as dictionaries (map keys, model names, labels,
//! string feature values) so the walk counts integer keys instead of hashing
//! and comparing strings.
//!
//! DataFusion is not used here: it would plan a query per batch of windows and
//! decode every string into a plain array, and its scan runs on the async
//! runtime that ingest shares.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Fields, Schema};
use bytes::Bytes;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use datafusion::parquet::file::reader::ChunkReader;
use datafusion::parquet::file::statistics::Statistics;
use feedloop_analytics::AnalyticsError;
use feedloop_events::StreamKind;
use feedloop_storage::Storage;
use object_store::path::Path;
use rayon::prelude::*;

use crate::index::IndexedFile;

/// Rows per decoded batch: each is folded as soon as it is decoded and then
/// dropped, so this bounds the Arrow memory of a reading thread.
const BATCH_ROWS: usize = 8 * 1024;

/// The columns a window reads of each stream (lineage and ids stay on disk;
/// `tags` only when segments are configured).
pub fn window_columns(stream: StreamKind, tags: bool) -> Vec<&'static str> {
    match stream {
        StreamKind::Predictions => {
            let mut c = vec![
                "ts",
                "model",
                "model_version",
                "features",
                "output_label",
                "output_score",
                "output_value",
            ];
            if tags {
                c.push("tags");
            }
            c
        }
        StreamKind::Latency => vec!["ts", "model", "model_version", "latency_ms", "status"],
        StreamKind::Corrections => vec!["ts", "prediction_id", "label", "value", "source"],
    }
}

/// Value kinds of the `features` map that a row group may leave out when its
/// statistics show no value of that kind (the walk reads a missing kind as
/// absent); `number` and the keys are always read.
const OPTIONAL_FEATURE_KINDS: [&str; 2] = ["string", "boolean"];

/// One landing file, as the decoder reads it.
enum Source {
    /// A file of `file://` storage, read by byte ranges (only the projected chunks).
    Local(PathBuf),
    /// A whole object fetched from a remote store.
    Fetched(Bytes),
}

/// Fetches what the decoder needs of `files` (nothing for local storage, whose
/// files are read in place).
async fn sources(storage: &Storage, files: &[&IndexedFile]) -> Result<Vec<Source>, AnalyticsError> {
    let fetches = files.iter().map(|f| async move {
        let rel = Path::from(f.path.as_str());
        Ok::<_, AnalyticsError>(match storage.local_file(&rel)? {
            Some(file) => Source::Local(file),
            None => Source::Fetched(storage.get(&rel).await?),
        })
    });
    futures::future::try_join_all(fetches).await
}

/// Reads the rows of `files` (all of `stream`) whose row groups may hold event
/// times in `[start, end)`, projected to the columns a window reads, and hands
/// each decoded batch to `fold` right away (on `pool`, while the batch is
/// still in cache); returns what `fold` made of each batch, in file order.
/// Rows outside the range may be in the batches: `fold` selects rows by `ts`.
pub async fn fold_range<T, F>(
    storage: &Storage,
    pool: &rayon::ThreadPool,
    columns: Vec<&'static str>,
    files: &[&IndexedFile],
    start: i64,
    end: i64,
    fold: F,
) -> Result<Vec<T>, AnalyticsError>
where
    T: Send + 'static,
    F: Fn(&RecordBatch) -> Result<T, AnalyticsError> + Send + Sync + 'static,
{
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let sources = sources(storage, files).await?;
    let names: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    crate::pool::on_pool(pool, move || {
        decode(&sources, &names, &columns, start, end, &fold)
    })
    .await?
}

/// The batches themselves (see [`fold_range`]).
pub async fn load_range(
    storage: &Storage,
    pool: &rayon::ThreadPool,
    stream: StreamKind,
    files: &[&IndexedFile],
    start: i64,
    end: i64,
) -> Result<Vec<RecordBatch>, AnalyticsError> {
    let columns = window_columns(stream, true);
    fold_range(storage, pool, columns, files, start, end, |b| Ok(b.clone())).await
}

fn decode<T: Send>(
    sources: &[Source],
    names: &[String],
    columns: &[&str],
    start: i64,
    end: i64,
    fold: &(dyn Fn(&RecordBatch) -> Result<T, AnalyticsError> + Sync),
) -> Result<Vec<T>, AnalyticsError> {
    // Footers first (one task per file), then one task per row group to read.
    let opened: Vec<(usize, ArrowReaderMetadata, Vec<usize>)> = sources
        .par_iter()
        .enumerate()
        .map(|(i, s)| {
            let meta = match s {
                Source::Local(p) => {
                    let f = std::fs::File::open(p).map_err(|e| failed(&names[i], &e))?;
                    metadata(&f)
                }
                Source::Fetched(b) => metadata(b),
            }
            .map_err(|e| failed(&names[i], &e))?;
            let groups = overlapping_row_groups(&meta, start, end);
            Ok((i, meta, groups))
        })
        .collect::<Result<_, AnalyticsError>>()?;
    let units: Vec<(usize, &ArrowReaderMetadata, usize)> = opened
        .iter()
        .flat_map(|(i, meta, groups)| groups.iter().map(move |&g| (*i, meta, g)))
        .collect();
    let parts: Vec<Vec<T>> = units
        .par_iter()
        .map(|&(i, meta, group)| {
            let batches = match &sources[i] {
                Source::Local(p) => {
                    let f = std::fs::File::open(p).map_err(|e| failed(&names[i], &e))?;
                    read_group(f, meta, group, columns)
                }
                Source::Fetched(b) => read_group(b.clone(), meta, group, columns),
            }
            .map_err(|e| failed(&names[i], &e))?;
            batches
                .map(|b| fold(&b.map_err(|e| failed(&names[i], &e))?))
                .collect()
        })
        .collect::<Result<_, AnalyticsError>>()?;
    Ok(parts.into_iter().flatten().collect())
}

fn failed(name: &str, e: &dyn std::fmt::Display) -> AnalyticsError {
    AnalyticsError::Execution(format!("cannot read landing file {name}: {e}"))
}

/// The footer of a file, with its strings read as dictionaries where the
/// reader accepts that (otherwise plainly; the walk reads both).
fn metadata<R: ChunkReader>(
    reader: &R,
) -> Result<ArrowReaderMetadata, datafusion::parquet::errors::ParquetError> {
    let plain = ArrowReaderMetadata::load(reader, ArrowReaderOptions::new())?;
    let hinted = Arc::new(dictionary_strings(plain.schema()));
    Ok(ArrowReaderMetadata::try_new(
        Arc::clone(plain.metadata()),
        ArrowReaderOptions::new().with_schema(hinted),
    )
    .unwrap_or(plain))
}

/// The batches of one row group, decoded one at a time as they are pulled.
fn read_group<R: ChunkReader + 'static>(
    reader: R,
    meta: &ArrowReaderMetadata,
    group: usize,
    columns: &[&str],
) -> Result<ParquetRecordBatchReader, datafusion::parquet::errors::ParquetError> {
    let descr = meta.parquet_schema();
    let chunks = meta.metadata().row_group(group);
    let leaves: Vec<usize> = (0..descr.num_columns())
        .filter(|&c| {
            let column = descr.column(c);
            let path = column.path().parts();
            let root = path.first().map(String::as_str).unwrap_or_default();
            if !columns.contains(&root) {
                return false;
            }
            let optional = root == "features"
                && path.len() > 2
                && path
                    .last()
                    .is_some_and(|k| OPTIONAL_FEATURE_KINDS.contains(&k.as_str()));
            !(optional && has_no_values(chunks.column(c)))
        })
        .collect();
    let mask = ProjectionMask::leaves(descr, leaves);
    ParquetRecordBatchReaderBuilder::new_with_metadata(reader, meta.clone())
        .with_projection(mask)
        .with_row_groups(vec![group])
        .with_batch_size(BATCH_ROWS)
        .build()
}

/// Whether a column chunk's statistics show it holds only nulls.
fn has_no_values(chunk: &datafusion::parquet::file::metadata::ColumnChunkMetaData) -> bool {
    let nulls = chunk.statistics().and_then(|s| s.null_count_opt());
    nulls.is_some_and(|n| i64::try_from(n).is_ok_and(|n| n >= chunk.num_values()))
}

/// Row groups whose `ts` statistics overlap `[start, end)`; a row group
/// without statistics is read.
fn overlapping_row_groups(meta: &ArrowReaderMetadata, start: i64, end: i64) -> Vec<usize> {
    let md = meta.metadata();
    let ts = md
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.path().string() == "ts");
    (0..md.num_row_groups())
        .filter(|&g| {
            let stats = ts.and_then(|c| md.row_group(g).column(c).statistics());
            match stats {
                Some(Statistics::Int64(s)) => match (s.min_opt(), s.max_opt()) {
                    (Some(&lo), Some(&hi)) => lo < end && hi >= start,
                    _ => true,
                },
                _ => true,
            }
        })
        .collect()
}

/// `schema` with every UTF-8 string, at any depth, read as a dictionary.
fn dictionary_strings(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| dictionary_field(f))
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

fn dictionary_field(f: &Field) -> Field {
    f.clone().with_data_type(dictionary_type(f.data_type()))
}

fn dictionary_type(t: &DataType) -> DataType {
    match t {
        DataType::Utf8 => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        DataType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|f| dictionary_field(f))
                .collect::<Fields>(),
        ),
        DataType::Map(entries, sorted) => {
            DataType::Map(Arc::new(dictionary_field(entries)), *sorted)
        }
        DataType::List(item) => DataType::List(Arc::new(dictionary_field(item))),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::walk;
    use arrow::array::AsArray;
    use feedloop_events::{
        BatchBuilder, Event, FeatureValue, Latency, LatencyStatus, Lineage, Output, Prediction,
    };
    use feedloop_storage::{LandingZone, PartitionKey};

    const T0: i64 = 1_795_392_000_000;

    /// Predictions of two model versions in runs, with number, string, boolean
    /// and null features, a missing feature now and then, labels and a tag.
    fn prediction(i: usize) -> Event {
        let mut features = vec![
            ("amount".to_string(), FeatureValue::Number(i as f64 * 0.5)),
            (
                "country".to_string(),
                FeatureValue::String(["de", "fr", "it"][i % 3].into()),
            ),
            (
                "new_user".to_string(),
                FeatureValue::Bool(i.is_multiple_of(4)),
            ),
            ("note".to_string(), FeatureValue::Null),
        ];
        if i.is_multiple_of(7) {
            features.remove(1);
        }
        Event::Prediction(Prediction {
            prediction_id: format!("p{i}"),
            model: "fraud".into(),
            model_version: if (i / 50).is_multiple_of(2) {
                "v1"
            } else {
                "v2"
            }
            .into(),
            ts: T0 + i as i64 * 1_000,
            features,
            output: Output {
                label: (!i.is_multiple_of(5))
                    .then(|| if i.is_multiple_of(2) { "yes" } else { "no" }.into()),
                score: Some((i % 10) as f64 / 10.0),
                value: None,
            },
            tags: vec![(
                "region".into(),
                if i.is_multiple_of(3) { "eu" } else { "us" }.into(),
            )],
        })
    }

    fn latency(i: usize) -> Event {
        Event::Latency(Latency {
            prediction_id: None,
            model: "fraud".into(),
            model_version: if i.is_multiple_of(2) { "v1" } else { "v2" }.into(),
            ts: T0 + i as i64 * 1_000,
            latency_ms: (i % 17) as f64,
            status: [
                LatencyStatus::Ok,
                LatencyStatus::Error,
                LatencyStatus::Timeout,
            ][i % 3],
        })
    }

    async fn land(zone: &LandingZone, stream: StreamKind, events: &[Event]) {
        let key = PartitionKey {
            stream,
            topic: stream.table_name().into(),
            partition: 0,
        };
        for (part, chunk) in events.chunks(120).enumerate() {
            let first = (part * 120) as i64;
            let mut b = BatchBuilder::new(stream, &key.topic, 0);
            for (j, e) in chunk.iter().enumerate() {
                let lineage = Lineage {
                    offset: first + j as i64,
                    kafka_ts: None,
                };
                b.append(e, lineage).unwrap();
            }
            let last = first + chunk.len() as i64 - 1;
            zone.land(&key, first, last, b.finish().unwrap())
                .await
                .unwrap();
        }
    }

    /// The same files read plainly (every string a plain array).
    fn read_plain(storage: &Storage, files: &[IndexedFile]) -> Vec<RecordBatch> {
        let root = storage.local_root().unwrap();
        files
            .iter()
            .flat_map(|f| {
                let file = std::fs::File::open(root.join(&f.path)).unwrap();
                ParquetRecordBatchReaderBuilder::try_new(file)
                    .unwrap()
                    .build()
                    .unwrap()
                    .map(Result::unwrap)
            })
            .collect()
    }

    #[tokio::test]
    async fn dictionary_reads_walk_like_plain_reads() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
        let zone = LandingZone::new(storage.clone());
        let predictions: Vec<Event> = (0..300).map(prediction).collect();
        let latencies: Vec<Event> = (0..300).map(latency).collect();
        land(&zone, StreamKind::Predictions, &predictions).await;
        land(&zone, StreamKind::Latency, &latencies).await;
        let mut index = crate::index::LandingIndex::default();
        let files = index.refresh(&zone).await.unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        // A window that cuts through the files: rows outside it are skipped.
        let (start, end) = (T0 + 30_000, T0 + 250_000);
        let segments = vec!["region".to_string()];
        for stream in [StreamKind::Predictions, StreamKind::Latency] {
            let of_stream: Vec<IndexedFile> = files
                .iter()
                .filter(|f| f.stream == stream)
                .cloned()
                .collect();
            assert_eq!(of_stream.len(), 3);
            let refs: Vec<&IndexedFile> = of_stream.iter().collect();
            let coded = load_range(&storage, &pool, stream, &refs, start, end)
                .await
                .unwrap();
            let plain = read_plain(&storage, &of_stream);
            let model_type = coded[0].column_by_name("model").unwrap().data_type();
            assert!(
                matches!(model_type, DataType::Dictionary(..)),
                "strings are read as dictionaries, got {model_type}"
            );
            match stream {
                StreamKind::Predictions => {
                    let DataType::Map(entries, _) =
                        coded[0].column_by_name("features").unwrap().data_type()
                    else {
                        panic!("features is a map");
                    };
                    let DataType::Struct(kv) = entries.data_type() else {
                        panic!("map entries are a struct");
                    };
                    assert!(matches!(kv[0].data_type(), DataType::Dictionary(..)));
                    let a = walk::collect_samples(&coded, start, end, &segments).unwrap();
                    let b = walk::collect_samples(&plain, start, end, &segments).unwrap();
                    assert_eq!(a, b);
                    let v1 = &a[&("fraud".to_string(), "v1".to_string())];
                    assert!(v1.features["country"].strings.contains_key("de"));
                    assert!(v1.segments.contains_key(&("region".into(), "eu".into())));
                    let rows: u64 = a.values().map(|s| s.rows).sum();
                    assert_eq!(rows, 220);
                    // Folded per window as decoded: each window equals its own walk.
                    let windows = walk::Windows {
                        start: T0,
                        size: 100_000,
                        count: 3,
                    };
                    let segs = segments.clone();
                    let parts = fold_range(
                        &storage,
                        &pool,
                        window_columns(stream, true),
                        &refs,
                        T0,
                        windows.end(),
                        move |b| walk::fold_predictions(b, &windows, &segs),
                    )
                    .await
                    .unwrap();
                    let folded = walk::merge_samples(parts, &windows);
                    for (w, got) in folded.iter().enumerate() {
                        let ws = T0 + w as i64 * 100_000;
                        let want =
                            walk::collect_samples(&plain, ws, ws + 100_000, &segments).unwrap();
                        assert_eq!(got, &want, "window {w}");
                        let rows: u64 = got.values().map(|s| s.rows).sum();
                        assert_eq!(rows, 100);
                    }
                }
                _ => {
                    let a = walk::latency(&coded, start, end).unwrap();
                    let b = walk::latency(&plain, start, end).unwrap();
                    assert_eq!(a, b);
                    assert_eq!(a.len(), 2);
                    let windows = walk::Windows {
                        start: T0,
                        size: 100_000,
                        count: 3,
                    };
                    let parts = fold_range(
                        &storage,
                        &pool,
                        window_columns(stream, true),
                        &refs,
                        T0,
                        windows.end(),
                        move |b| walk::fold_latency(b, &windows),
                    )
                    .await
                    .unwrap();
                    for (w, acc) in walk::merge_latency(parts, &windows).into_iter().enumerate() {
                        let ws = T0 + w as i64 * 100_000;
                        let want = walk::latency(&plain, ws, ws + 100_000).unwrap();
                        assert_eq!(walk::latency_metrics(acc), want, "window {w}");
                    }
                }
            }
        }
    }

    /// A row group whose features are all numbers leaves the string and
    /// boolean value columns on disk, and walks like the full read.
    #[tokio::test]
    async fn value_kinds_without_values_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
        let zone = LandingZone::new(storage.clone());
        let numeric: Vec<Event> = (0..200)
            .map(|i| match prediction(i) {
                Event::Prediction(mut p) => {
                    p.features
                        .retain(|(_, v)| matches!(v, FeatureValue::Number(_)));
                    Event::Prediction(p)
                }
                e => e,
            })
            .collect();
        land(&zone, StreamKind::Predictions, &numeric).await;
        let mut index = crate::index::LandingIndex::default();
        let files = index.refresh(&zone).await.unwrap();
        let refs: Vec<&IndexedFile> = files.iter().collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (start, end) = (T0, T0 + 200_000);
        let coded = load_range(&storage, &pool, StreamKind::Predictions, &refs, start, end)
            .await
            .unwrap();
        let features = coded[0].column_by_name("features").unwrap().as_map();
        let kinds: Vec<String> = features
            .values()
            .as_struct()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(kinds, ["number"]);
        let plain = read_plain(&storage, &files);
        let a = walk::collect_samples(&coded, start, end, &[]).unwrap();
        let b = walk::collect_samples(&plain, start, end, &[]).unwrap();
        assert_eq!(a, b);
        let v1 = &a[&("fraud".to_string(), "v1".to_string())];
        assert_eq!(v1.features["amount"].numbers.len(), 100);
    }
}
