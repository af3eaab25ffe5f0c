//! Reference profiles per model version: built once from reference rows, stored
//! as JSON in object storage, reloaded on restart.
//!
//! Location: `<storage>/profiles/<model>/<model_version>/reference.json`
//! ([`feedloop_storage::layout::profile_file`]), written
//! create-if-absent (a profile never changes once built; a new reference means a
//! new model version). Model outputs are profiled too, as the pseudo-features
//! `@score`, `@label` and `@value`, which is what prediction drift compares.

use feedloop_analytics::AnalyticsError;
use feedloop_drift::ColumnData;
use feedloop_drift::profile::{ProfileConfig, ReferenceProfile};
use feedloop_storage::layout::profile_file;
use feedloop_storage::{PutOutcome, Storage};
use std::collections::BTreeMap;

/// Pseudo-feature names of the model output in profiles and drift rows.
pub const OUTPUT_SCORE: &str = "@score";
pub const OUTPUT_LABEL: &str = "@label";
pub const OUTPUT_VALUE: &str = "@value";

/// Loads the stored profile of a model version, if any.
pub async fn load(
    storage: &Storage,
    model: &str,
    version: &str,
) -> Result<Option<ReferenceProfile>, AnalyticsError> {
    let path = profile_file(model, version);
    match storage.get(&path).await {
        Ok(bytes) => {
            let text = std::str::from_utf8(&bytes)
                .map_err(|e| AnalyticsError::Input(format!("{path}: {e}")))?;
            ReferenceProfile::from_json(text)
                .map(Some)
                .map_err(|e| AnalyticsError::Input(format!("{path}: {e}")))
        }
        Err(feedloop_storage::StorageError::ObjectStore {
            source: object_store::Error::NotFound { .. },
            ..
        }) => Ok(None),
        Err(e) => Err(AnalyticsError::Execution(e.to_string())),
    }
}

/// Stores a profile; keeps the existing one if another writer was first, and
/// returns the profile now in storage.
pub async fn save(
    storage: &Storage,
    model: &str,
    version: &str,
    profile: ReferenceProfile,
) -> Result<ReferenceProfile, AnalyticsError> {
    let path = profile_file(model, version);
    let json = profile
        .to_json()
        .map_err(|e| AnalyticsError::Input(e.to_string()))?;
    match storage.put_if_absent(&path, json.into_bytes().into()).await {
        Ok(PutOutcome::Created) => Ok(profile),
        Ok(PutOutcome::AlreadyExists) => load(storage, model, version)
            .await?
            .ok_or_else(|| AnalyticsError::Execution(format!("{path} vanished"))),
        Err(e) => Err(AnalyticsError::Execution(e.to_string())),
    }
}

/// The values of one feature gathered from landing rows.
#[derive(Debug, Default, Clone)]
pub struct FeatureSample {
    pub numbers: Vec<f64>,
    pub strings: Vec<String>,
    pub bools: Vec<bool>,
    pub nulls: usize,
}

/// Feature samples of one model version over some rows.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    pub rows: u64,
    pub features: BTreeMap<String, FeatureSample>,
}

impl Samples {
    pub fn feature(&mut self, name: &str) -> &mut FeatureSample {
        if !self.features.contains_key(name) {
            self.features
                .insert(name.to_string(), FeatureSample::default());
        }
        self.features.get_mut(name).expect("inserted above")
    }

    /// Builds a reference profile. A feature's kind follows its values: numbers
    /// (integer-valued numbers as integers, so small-cardinality integers are
    /// categorical as in Evidently), else strings, else booleans.
    pub fn build_profile(
        &self,
        config: &ProfileConfig,
    ) -> Result<ReferenceProfile, AnalyticsError> {
        let mut floats: Vec<(String, Vec<f64>)> = Vec::new();
        let mut ints: Vec<(String, Vec<Option<i64>>)> = Vec::new();
        let mut strs: Vec<(String, Vec<Option<&str>>)> = Vec::new();
        let mut bools: Vec<(String, Vec<Option<bool>>)> = Vec::new();
        for (name, s) in &self.features {
            if !s.numbers.is_empty() && s.numbers.len() >= s.strings.len().max(s.bools.len()) {
                if s.numbers
                    .iter()
                    .all(|x| x.fract() == 0.0 && x.abs() < 9.0e15)
                {
                    let mut v: Vec<Option<i64>> =
                        s.numbers.iter().map(|x| Some(*x as i64)).collect();
                    v.extend(std::iter::repeat_n(None, s.nulls));
                    ints.push((name.clone(), v));
                } else {
                    let mut v = s.numbers.clone();
                    v.extend(std::iter::repeat_n(f64::NAN, s.nulls));
                    floats.push((name.clone(), v));
                }
            } else if !s.strings.is_empty() && s.strings.len() >= s.bools.len() {
                let mut v: Vec<Option<&str>> = s.strings.iter().map(|x| Some(x.as_str())).collect();
                v.extend(std::iter::repeat_n(None, s.nulls));
                strs.push((name.clone(), v));
            } else if !s.bools.is_empty() {
                let mut v: Vec<Option<bool>> = s.bools.iter().map(|x| Some(*x)).collect();
                v.extend(std::iter::repeat_n(None, s.nulls));
                bools.push((name.clone(), v));
            }
        }
        let mut cols: Vec<(&str, ColumnData<'_>)> = Vec::new();
        cols.extend(
            floats
                .iter()
                .map(|(n, v)| (n.as_str(), ColumnData::Float(v))),
        );
        cols.extend(ints.iter().map(|(n, v)| (n.as_str(), ColumnData::Int(v))));
        cols.extend(strs.iter().map(|(n, v)| (n.as_str(), ColumnData::Str(v))));
        cols.extend(bools.iter().map(|(n, v)| (n.as_str(), ColumnData::Bool(v))));
        ReferenceProfile::from_columns(&cols, config)
            .map_err(|e| AnalyticsError::Input(e.to_string()))
    }
}
