//! A window's exact counts on a profile's frozen bins: counting values and
//! columns, merging partitions, and the serialisable snapshot.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::ProfileError;
use super::format::{FeatureProfile, ReferenceProfile};
use super::value::{Value, ValueType};
use crate::category::{CategoryKey, FKey};
use crate::column::ColumnData;
use crate::sorted::{right_closed_counts, sorted_finite};

/// A window's counts of one feature on the profile's frozen bins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureCounts {
    /// Count per frozen bin (categorical: kept categories in profile order, then `__other__`).
    pub counts: Vec<u64>,
    /// Null values (and NaN/±inf).
    pub null_count: u64,
}

impl FeatureCounts {
    /// Non-null values counted.
    pub fn n(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Serialisable form of [`WindowCounts`], to ship counts between instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountsSnapshot {
    /// [`ReferenceProfile::fingerprint`] of the profile the counts are on.
    pub profile_fingerprint: u64,
    /// Per-feature counts.
    pub features: BTreeMap<String, FeatureCounts>,
}

/// Exact counts of one window on a profile's frozen bins. Counts add with
/// [`merge`](Self::merge) (associative and commutative: `u64` addition,
/// saturating at `u64::MAX`).
#[derive(Debug, Clone)]
pub struct WindowCounts<'p> {
    profile: &'p ReferenceProfile,
    pub(super) fingerprint: u64,
    pub(super) features: BTreeMap<String, FeatureCounts>,
}

impl PartialEq for WindowCounts<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint && self.features == other.features
    }
}

/// Counts one value into a feature's slot; `Err(found type)` on a type mismatch.
fn observe_into(
    f: &FeatureProfile,
    slot: &mut FeatureCounts,
    value: Value<'_>,
) -> Result<(), &'static str> {
    observe_n(f, slot, value, 1)
}

/// Counts `n` copies of one value into a feature's slot.
fn observe_n(
    f: &FeatureProfile,
    slot: &mut FeatureCounts,
    value: Value<'_>,
    n: u64,
) -> Result<(), &'static str> {
    let idx = match f {
        FeatureProfile::Numeric(p) => match value {
            Value::Null => None,
            Value::Float(x) => x.is_finite().then(|| p.bin_index(x)),
            Value::Int(i) => Some(p.bin_index(i as f64)),
            v => return Err(v.type_name()),
        },
        FeatureProfile::Categorical(p) => {
            let key = match (p.value_type, value) {
                (_, Value::Null) => None,
                (ValueType::Float, Value::Float(x)) => {
                    x.is_finite().then_some(CategoryKey::Float(FKey(x)))
                }
                (ValueType::Int, Value::Int(i)) => Some(CategoryKey::Int(i)),
                (ValueType::Bool, Value::Bool(b)) => Some(CategoryKey::Bool(b)),
                (ValueType::Str, Value::Str(s)) => Some(CategoryKey::Str(s)),
                (_, v) => return Err(v.type_name()),
            };
            key.map(|k| p.index_of(&k))
        }
    };
    match idx {
        None => slot.null_count = slot.null_count.saturating_add(n),
        Some(i) => {
            if let Some(c) = slot.counts.get_mut(i) {
                *c = c.saturating_add(n);
            }
        }
    }
    Ok(())
}

/// A window's numeric values of one feature, finite and ascending: sorted
/// once (radix sort), then counted on the frozen bins and tested (KS,
/// Wasserstein) with no further sort.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SortedValues {
    values: Vec<f64>,
    non_finite: u64,
}

impl SortedValues {
    /// Sorts `values`, keeping the finite ones (NaN and ±inf count as nulls).
    pub fn new(values: Vec<f64>) -> Self {
        let n = values.len();
        let values = sorted_finite(values);
        SortedValues {
            non_finite: (n - values.len()) as u64,
            values,
        }
    }

    /// The finite values, ascending.
    pub fn as_slice(&self) -> &[f64] {
        &self.values
    }

    /// Values dropped as null (NaN, ±inf).
    pub fn non_finite(&self) -> u64 {
        self.non_finite
    }
}

fn expected_name(f: &FeatureProfile) -> &'static str {
    match f {
        FeatureProfile::Numeric(_) => "numeric (float or integer)",
        FeatureProfile::Categorical(p) => p.value_type.name(),
    }
}

impl<'p> WindowCounts<'p> {
    /// Empty counts (all zero) for every feature of `profile`.
    pub fn new(profile: &'p ReferenceProfile) -> Self {
        let features = profile
            .features
            .iter()
            .map(|(k, f)| {
                (
                    k.clone(),
                    FeatureCounts {
                        counts: vec![0; f.n_bins()],
                        null_count: 0,
                    },
                )
            })
            .collect();
        WindowCounts {
            profile,
            fingerprint: profile.fingerprint(),
            features,
        }
    }

    /// Counts whole columns (bulk API). Profile features without a column
    /// stay at zero; a column that is not a profile feature is an error.
    pub fn from_columns(
        profile: &'p ReferenceProfile,
        columns: &[(&str, ColumnData<'_>)],
    ) -> Result<Self, ProfileError> {
        let mut w = Self::new(profile);
        w.add_columns(columns)?;
        Ok(w)
    }

    /// Adds whole columns to these counts.
    pub fn add_columns(&mut self, columns: &[(&str, ColumnData<'_>)]) -> Result<(), ProfileError> {
        for &(name, data) in columns {
            let (f, slot) = self.slot(name)?;
            let mismatch = |found: &'static str| ProfileError::ValueType {
                feature: name.to_owned(),
                expected: expected_name(f),
                found,
            };
            let res = match data {
                ColumnData::Float(v) => v
                    .iter()
                    .try_for_each(|&x| observe_into(f, slot, Value::Float(x))),
                ColumnData::Int(v) => v
                    .iter()
                    .try_for_each(|x| observe_into(f, slot, x.map_or(Value::Null, Value::Int))),
                ColumnData::Bool(v) => v
                    .iter()
                    .try_for_each(|x| observe_into(f, slot, x.map_or(Value::Null, Value::Bool))),
                ColumnData::Str(v) => v
                    .iter()
                    .try_for_each(|x| observe_into(f, slot, x.map_or(Value::Null, Value::Str))),
            };
            res.map_err(mismatch)?;
        }
        Ok(())
    }

    fn slot(
        &mut self,
        feature: &str,
    ) -> Result<(&'p FeatureProfile, &mut FeatureCounts), ProfileError> {
        let f = self
            .profile
            .features
            .get(feature)
            .ok_or_else(|| ProfileError::UnknownFeature(feature.to_owned()))?;
        let slot = self
            .features
            .get_mut(feature)
            .ok_or_else(|| ProfileError::UnknownFeature(feature.to_owned()))?;
        Ok((f, slot))
    }

    /// Counts one value of any type (numeric features take floats and
    /// integers; categorical features their own type; NaN/±inf are null).
    pub fn observe(&mut self, feature: &str, value: Value<'_>) -> Result<(), ProfileError> {
        let (f, slot) = self.slot(feature)?;
        observe_into(f, slot, value).map_err(|found| ProfileError::ValueType {
            feature: feature.to_owned(),
            expected: expected_name(f),
            found,
        })
    }

    /// Counts one numeric value (NaN/±inf count as null).
    pub fn observe_numeric(&mut self, feature: &str, value: f64) -> Result<(), ProfileError> {
        self.observe(feature, Value::Float(value))
    }

    /// Counts one categorical value (`Value::Null` counts as null).
    pub fn observe_category(
        &mut self,
        feature: &str,
        value: Value<'_>,
    ) -> Result<(), ProfileError> {
        self.observe(feature, value)
    }

    /// Counts one null.
    pub fn observe_null(&mut self, feature: &str) -> Result<(), ProfileError> {
        self.observe(feature, Value::Null)
    }

    /// Counts a feature's sorted window values in one pass: on a numeric
    /// profile, one binary search per frozen edge; on a categorical one (an
    /// integer- or float-coded feature), one lookup per distinct value.
    /// Integer-valued numbers count as integers on an integer-coded profile.
    pub fn add_sorted(&mut self, feature: &str, values: &SortedValues) -> Result<(), ProfileError> {
        let (f, slot) = self.slot(feature)?;
        let v = values.as_slice();
        let mismatch = |found: &'static str| ProfileError::ValueType {
            feature: feature.to_owned(),
            expected: expected_name(f),
            found,
        };
        match f {
            FeatureProfile::Numeric(p) => {
                slot.null_count = slot.null_count.saturating_add(values.non_finite);
                for (c, n) in slot.counts.iter_mut().zip(right_closed_counts(v, &p.edges)) {
                    *c = c.saturating_add(n);
                }
                Ok(())
            }
            FeatureProfile::Categorical(p) => {
                let int_coded = p.value_type == ValueType::Int;
                // Every value that fits counts; the first that does not is reported.
                let mut first_error = None;
                if values.non_finite > 0 {
                    // NaN/±inf: null for a float-coded feature, a type error otherwise.
                    if let Err(e) = observe_n(f, slot, Value::Float(f64::NAN), values.non_finite) {
                        first_error.get_or_insert(e);
                    }
                }
                for run in v.chunk_by(|a, b| a == b) {
                    let x = run[0];
                    let value = if int_coded && x.fract() == 0.0 {
                        Value::Int(x as i64)
                    } else {
                        Value::Float(x)
                    };
                    if let Err(e) = observe_n(f, slot, value, run.len() as u64) {
                        first_error.get_or_insert(e);
                    }
                }
                first_error.map_or(Ok(()), |e| Err(mismatch(e)))
            }
        }
    }

    /// Counts values given with their multiplicity (a window's category
    /// counts): as `observe` called `n` times for each `(value, n)`.
    pub fn add_counts<'v>(
        &mut self,
        feature: &str,
        values: impl IntoIterator<Item = (Value<'v>, u64)>,
    ) -> Result<(), ProfileError> {
        let (f, slot) = self.slot(feature)?;
        for (value, n) in values {
            observe_n(f, slot, value, n).map_err(|found| ProfileError::ValueType {
                feature: feature.to_owned(),
                expected: expected_name(f),
                found,
            })?;
        }
        Ok(())
    }

    /// Adds `other`'s counts (another partition, instance or sub-window of
    /// the same profile). Nothing is changed on error.
    pub fn merge(&mut self, other: &WindowCounts<'_>) -> Result<(), ProfileError> {
        self.merge_counts(other.fingerprint, &other.features)
    }

    fn merge_counts(
        &mut self,
        fingerprint: u64,
        other: &BTreeMap<String, FeatureCounts>,
    ) -> Result<(), ProfileError> {
        if fingerprint != self.fingerprint {
            return Err(ProfileError::ProfileMismatch);
        }
        for (name, oc) in other {
            match self.features.get(name) {
                Some(sc) if sc.counts.len() == oc.counts.len() => {}
                _ => return Err(ProfileError::ProfileMismatch),
            }
        }
        for (name, oc) in other {
            if let Some(sc) = self.features.get_mut(name) {
                for (a, b) in sc.counts.iter_mut().zip(&oc.counts) {
                    *a = a.saturating_add(*b);
                }
                sc.null_count = sc.null_count.saturating_add(oc.null_count);
            }
        }
        Ok(())
    }

    /// The profile these counts are on.
    pub fn profile(&self) -> &'p ReferenceProfile {
        self.profile
    }

    /// Counts of one feature.
    pub fn feature(&self, name: &str) -> Option<&FeatureCounts> {
        self.features.get(name)
    }

    /// Counts of every feature.
    pub fn features(&self) -> &BTreeMap<String, FeatureCounts> {
        &self.features
    }

    /// Serialisable copy of the counts.
    pub fn snapshot(&self) -> CountsSnapshot {
        CountsSnapshot {
            profile_fingerprint: self.fingerprint,
            features: self.features.clone(),
        }
    }

    /// Rebuilds counts from a snapshot; the fingerprint and every feature's
    /// number of bins must match `profile` (features missing from the
    /// snapshot are zero).
    pub fn from_snapshot(
        profile: &'p ReferenceProfile,
        snapshot: &CountsSnapshot,
    ) -> Result<Self, ProfileError> {
        let mut w = Self::new(profile);
        w.merge_counts(snapshot.profile_fingerprint, &snapshot.features)?;
        Ok(w)
    }
}
