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
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};

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

/// The values of one feature gathered from landing rows: numbers as they
/// came, strings and booleans counted.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FeatureSample {
    pub numbers: Vec<f64>,
    /// Each distinct string with its count.
    pub strings: HashMap<String, u64>,
    pub trues: u64,
    pub falses: u64,
    pub nulls: usize,
}

impl FeatureSample {
    /// Counts `n` occurrences of `s` (allocates only for a new string).
    pub fn add_string(&mut self, s: &str, n: u64) {
        match self.strings.get_mut(s) {
            Some(c) => *c += n,
            None => {
                self.strings.insert(s.to_string(), n);
            }
        }
    }

    /// Counts `n` occurrences of `b`.
    pub fn add_bool(&mut self, b: bool, n: u64) {
        if b {
            self.trues += n;
        } else {
            self.falses += n;
        }
    }

    /// String values (with repeats).
    pub fn n_strings(&self) -> u64 {
        self.strings.values().sum()
    }

    /// Boolean values.
    pub fn n_bools(&self) -> u64 {
        self.trues + self.falses
    }

    /// Adds `other`'s values after these.
    pub fn merge(&mut self, other: FeatureSample) {
        if self.numbers.capacity() == 0 {
            self.numbers = other.numbers;
        } else {
            self.numbers.extend_from_slice(&other.numbers);
        }
        for (s, n) in other.strings {
            *self.strings.entry(s).or_default() += n;
        }
        self.trues += other.trues;
        self.falses += other.falses;
        self.nulls += other.nulls;
    }
}

/// Feature samples of one model version over some rows.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Samples {
    pub rows: u64,
    /// Rows per (tag, value) of the configured segment tags.
    pub segments: BTreeMap<(String, String), u64>,
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

    /// Adds `other`'s rows after these.
    /// Merges `parts` (in order) into one, each feature's values concatenated
    /// once at their final size, features in parallel (on the caller's pool).
    pub fn merge_all(parts: Vec<Samples>) -> Samples {
        let mut out = Samples::default();
        let mut by_feature: BTreeMap<String, Vec<FeatureSample>> = BTreeMap::new();
        for p in parts {
            out.rows += p.rows;
            for (k, n) in p.segments {
                *out.segments.entry(k).or_default() += n;
            }
            for (name, f) in p.features {
                by_feature.entry(name).or_default().push(f);
            }
        }
        out.features = by_feature
            .into_par_iter()
            .map(|(name, list)| {
                let mut merged = FeatureSample {
                    numbers: Vec::with_capacity(list.iter().map(|f| f.numbers.len()).sum()),
                    ..FeatureSample::default()
                };
                for f in list {
                    merged.merge(f);
                }
                (name, merged)
            })
            .collect();
        out
    }

    pub fn merge(&mut self, other: Samples) {
        self.rows += other.rows;
        for (k, n) in other.segments {
            *self.segments.entry(k).or_default() += n;
        }
        for (name, f) in other.features {
            match self.features.get_mut(&name) {
                Some(mine) => mine.merge(f),
                None => {
                    self.features.insert(name, f);
                }
            }
        }
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
            let (n_strings, n_bools) = (s.n_strings() as usize, s.n_bools() as usize);
            if !s.numbers.is_empty() && s.numbers.len() >= n_strings.max(n_bools) {
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
            } else if n_strings > 0 && n_strings >= n_bools {
                let mut v: Vec<Option<&str>> = Vec::with_capacity(n_strings + s.nulls);
                for (x, n) in &s.strings {
                    v.extend(std::iter::repeat_n(Some(x.as_str()), *n as usize));
                }
                v.extend(std::iter::repeat_n(None, s.nulls));
                strs.push((name.clone(), v));
            } else if n_bools > 0 {
                let mut v: Vec<Option<bool>> = Vec::with_capacity(n_bools + s.nulls);
                v.extend(std::iter::repeat_n(Some(false), s.falses as usize));
                v.extend(std::iter::repeat_n(Some(true), s.trues as usize));
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
