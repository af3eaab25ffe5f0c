//! Reading a committed dataset version back ([`read_dataset`]), each file
//! checked against the manifest.

use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use feedloop_analytics::AnalyticsError;
use feedloop_storage::Storage;
use feedloop_storage::datasets::{DatasetId, DatasetStore, Manifest};
use sha2::{Digest, Sha256};

/// Reads a committed dataset version: its manifest and the rows of the files it
/// names (in order), checking each file's size and SHA-256. `version = None`
/// reads the latest committed version (by `created_at`). Folders without a
/// manifest are never read.
pub async fn read_dataset(
    storage: &Storage,
    model: &str,
    name: &str,
    version: Option<&str>,
) -> Result<(Manifest, Vec<RecordBatch>), AnalyticsError> {
    let store = DatasetStore::new(storage.clone());
    let manifest = match version {
        Some(v) => {
            store
                .read_manifest(&DatasetId {
                    model: model.into(),
                    name: name.into(),
                    version: v.into(),
                })
                .await?
        }
        None => store.list_versions(model, name).await?.pop(),
    }
    .ok_or_else(|| {
        AnalyticsError::Input(format!("no committed version of dataset {model}/{name}"))
    })?;
    let id = DatasetId {
        model: model.into(),
        name: name.into(),
        version: manifest.version.clone(),
    };
    let mut batches = Vec::new();
    for f in &manifest.files {
        let path = id.dir().join(f.path.as_str());
        let bytes = storage.get(&path).await?;
        if bytes.len() as u64 != f.bytes || hex::encode(Sha256::digest(&bytes)) != f.sha256 {
            return Err(AnalyticsError::Input(format!(
                "{path}: size or SHA-256 differs from the manifest"
            )));
        }
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .and_then(|b| b.build())
            .map_err(|e| AnalyticsError::Input(format!("{path}: {e}")))?;
        for b in reader {
            batches.push(b?);
        }
    }
    Ok((manifest, batches))
}
