//! The reference profile of each model version, as the job needs it: loaded
//! from storage, or built once its reference rows are complete (its first
//! windows, a landing-zone time range, or a flat Parquet file) and stored.

use super::{WindowJob, model_id, on_pool};
use crate::compute::{self, ModelKey};
use crate::config::ReferenceSource;
use crate::index::{IndexedFile, LandingIndex};
use crate::profiles::{self, OUTPUT_LABEL, OUTPUT_SCORE, OUTPUT_VALUE, Samples};
use crate::walk;
use datafusion::execution::context::SessionContext;
use feedloop_analytics::AnalyticsError;
use feedloop_drift::profile::ReferenceProfile;
use feedloop_events::StreamKind;
use std::sync::Arc;

impl WindowJob {
    /// The reference profile of a model version, building and storing it once its
    /// reference data is complete; `None` until then.
    pub async fn profile_for(
        &mut self,
        key: &ModelKey,
        window_start: i64,
    ) -> Result<Option<Arc<ReferenceProfile>>, AnalyticsError> {
        if let Some(p) = self.profiles.get(key) {
            return Ok(Some(Arc::clone(p)));
        }
        if let Some(p) = profiles::load(&self.storage, &key.0, &key.1).await? {
            let p = Arc::new(p);
            self.profiles.insert(key.clone(), Arc::clone(&p));
            return Ok(Some(p));
        }
        let size = self.config.size_ms();
        let source = self
            .config
            .models
            .get(&key.0)
            .and_then(|m| m.reference.clone())
            .unwrap_or(ReferenceSource::FirstWindows {
                first_windows: self.config.reference_windows,
            });
        let samples = match &source {
            ReferenceSource::FirstWindows { first_windows } => {
                let Some(first) = self.state.first_seen.get(&model_id(key)).copied() else {
                    return Ok(None);
                };
                let until = first + *first_windows as i64 * size;
                if window_start < until {
                    return Ok(None);
                }
                self.landing_samples(key, first, until).await?
            }
            ReferenceSource::Range { since, until } => {
                let parse = |s: &str| {
                    chrono::DateTime::parse_from_rfc3339(s)
                        .map(|t| t.timestamp_millis())
                        .map_err(|e| AnalyticsError::Input(e.to_string()))
                };
                let (a, b) = (parse(since)?, parse(until)?);
                if window_start < b {
                    return Ok(None);
                }
                self.landing_samples(key, a, b).await?
            }
            ReferenceSource::File { file } => file_samples(&self.ctx, file).await?,
        };
        if samples.features.is_empty() {
            tracing::warn!(model = %key.0, version = %key.1, "reference has no data; drift is not computed for this version");
            return Ok(None);
        }
        let profile = samples.build_profile(&self.profile_config)?;
        let profile = profiles::save(&self.storage, &key.0, &key.1, profile).await?;
        tracing::info!(model = %key.0, version = %key.1, rows = samples.rows, features = profile.features.len(), "reference profile built and stored");
        let profile = Arc::new(profile);
        self.profiles.insert(key.clone(), Arc::clone(&profile));
        Ok(Some(profile))
    }

    async fn landing_samples(
        &self,
        key: &ModelKey,
        from: i64,
        until: i64,
    ) -> Result<Samples, AnalyticsError> {
        let files: Vec<IndexedFile> = {
            // The index only keeps recent files: list the model's whole table range.
            let mut idx = LandingIndex::default();
            idx.refresh(&self.zone).await?;
            idx.files
        };
        let overlapping: Vec<_> = files
            .iter()
            .filter(|f| f.stream == StreamKind::Predictions && f.ts_min < until && f.ts_max >= from)
            .collect();
        compute::register_window_table(
            &self.ctx,
            &self.storage,
            "ref_all",
            StreamKind::Predictions,
            &overlapping,
            from,
            until,
        )
        .await?;
        let q = format!(
            "SELECT * FROM ref_all WHERE model = {} AND model_version = {}",
            feedloop_analytics::sql::string_literal(&key.0),
            feedloop_analytics::sql::string_literal(&key.1)
        );
        let batches = self.ctx.sql(&q).await?.collect().await?;
        // On the job's pool: rayon's global pool would start unnamed threads
        // from a tokio worker, outside every cap the binary sets.
        let mut all = on_pool(&self.pool, move || {
            walk::collect_samples(&batches, from, until, &[])
        })
        .await??;
        Ok(all.remove(key).unwrap_or_default())
    }
}

/// Samples from a flat Parquet reference file: one column per feature.
async fn file_samples(ctx: &SessionContext, file: &str) -> Result<Samples, AnalyticsError> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::DataType;
    let batches = ctx
        .read_parquet(file, datafusion::prelude::ParquetReadOptions::default())
        .await?
        .collect()
        .await?;
    let mut s = Samples::default();
    for b in &batches {
        s.rows += b.num_rows() as u64;
        for (field, a) in b.schema().fields().iter().zip(b.columns()) {
            let name = match field.name().as_str() {
                "output_score" => OUTPUT_SCORE,
                "output_label" => OUTPUT_LABEL,
                "output_value" => OUTPUT_VALUE,
                n => n,
            };
            let f = s.feature(name);
            match a.data_type() {
                DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Dictionary(..) => {
                    let a = arrow::compute::cast(a, &DataType::Utf8)?;
                    for v in a.as_string::<i32>().iter() {
                        match v {
                            Some(v) => f.add_string(v, 1),
                            None => f.nulls += 1,
                        }
                    }
                }
                DataType::Boolean => {
                    for v in a.as_boolean().iter() {
                        match v {
                            Some(v) => f.add_bool(v, 1),
                            None => f.nulls += 1,
                        }
                    }
                }
                t if t.is_numeric() => {
                    let a = arrow::compute::cast(a, &DataType::Float64)?;
                    for v in a.as_primitive::<arrow::datatypes::Float64Type>().iter() {
                        match v {
                            Some(v) => f.numbers.push(v),
                            None => f.nulls += 1,
                        }
                    }
                }
                _ => {}
            }
        }
    }
    s.features
        .retain(|_, f| !(f.numbers.is_empty() && f.strings.is_empty() && f.n_bools() == 0));
    Ok(s)
}
