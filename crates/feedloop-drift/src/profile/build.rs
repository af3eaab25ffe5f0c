//! Building a reference profile from columns: each column's kind (inferred
//! or forced) picks the numeric or the categorical builder.

use std::collections::BTreeMap;

use super::categorical::build_categorical;
use super::error::{ProfileError, feature_err};
use super::format::{FeatureProfile, PROFILE_FORMAT_VERSION, ProfileConfig, ReferenceProfile};
use super::numeric::build_numeric;
use super::value::ValueType;
use crate::category::{CategoryKey, FKey};
use crate::column::{ColumnData, ColumnKind, int_kind};
use crate::error::DriftError;

fn build_feature(
    data: ColumnData<'_>,
    kind: Option<ColumnKind>,
    config: &ProfileConfig,
) -> Result<FeatureProfile, DriftError> {
    use ColumnKind::{Categorical, Numeric};
    Ok(match data {
        ColumnData::Float(v) => {
            let vals: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
            let nulls = (v.len() - vals.len()) as u64;
            if kind == Some(Categorical) {
                let keys = vals.iter().map(|&x| CategoryKey::Float(FKey(x))).collect();
                FeatureProfile::Categorical(build_categorical(
                    keys,
                    nulls,
                    ValueType::Float,
                    config,
                )?)
            } else {
                FeatureProfile::Numeric(build_numeric(vals, nulls, ValueType::Float, config)?)
            }
        }
        ColumnData::Int(v) => {
            let vals: Vec<i64> = v.iter().flatten().copied().collect();
            let nulls = (v.len() - vals.len()) as u64;
            let kind = kind.unwrap_or_else(|| int_kind(&vals));
            match kind {
                Numeric => FeatureProfile::Numeric(build_numeric(
                    vals.iter().map(|&x| x as f64).collect(),
                    nulls,
                    ValueType::Int,
                    config,
                )?),
                Categorical => FeatureProfile::Categorical(build_categorical(
                    vals.into_iter().map(CategoryKey::Int).collect(),
                    nulls,
                    ValueType::Int,
                    config,
                )?),
            }
        }
        ColumnData::Bool(v) => {
            categorical_only(v, kind, ValueType::Bool, CategoryKey::Bool, config)?
        }
        ColumnData::Str(v) => categorical_only(v, kind, ValueType::Str, CategoryKey::Str, config)?,
    })
}

/// A boolean or string column, categorical only: forcing it numeric is an
/// error.
fn categorical_only<'a, T: Copy>(
    v: &[Option<T>],
    kind: Option<ColumnKind>,
    value_type: ValueType,
    key: fn(T) -> CategoryKey<'a>,
    config: &ProfileConfig,
) -> Result<FeatureProfile, DriftError> {
    if kind == Some(ColumnKind::Numeric) {
        return Err(DriftError::NotNumeric {
            value_type: value_type.name(),
        });
    }
    let keys: Vec<CategoryKey<'a>> = v.iter().flatten().map(|&x| key(x)).collect();
    let nulls = (v.len() - keys.len()) as u64;
    Ok(FeatureProfile::Categorical(build_categorical(
        keys, nulls, value_type, config,
    )?))
}

impl ReferenceProfile {
    /// Builds a profile; kinds inferred as described in the module docs
    /// (floats numeric; integers categorical iff the reference has ≤ 10
    /// distinct values; booleans and strings categorical).
    pub fn from_columns(
        columns: &[(&str, ColumnData<'_>)],
        config: &ProfileConfig,
    ) -> Result<Self, ProfileError> {
        let with: Vec<(&str, ColumnData<'_>, Option<ColumnKind>)> =
            columns.iter().map(|&(n, d)| (n, d, None)).collect();
        Self::from_columns_with_kinds(&with, config)
    }

    /// Builds a profile with optional forced kinds per column (a float
    /// column forced categorical keeps one category per value; booleans and
    /// strings cannot be numeric).
    pub fn from_columns_with_kinds(
        columns: &[(&str, ColumnData<'_>, Option<ColumnKind>)],
        config: &ProfileConfig,
    ) -> Result<Self, ProfileError> {
        config.validate()?;
        let mut features = BTreeMap::new();
        for &(name, data, kind) in columns {
            if features.contains_key(name) {
                return Err(ProfileError::DuplicateFeature(name.to_owned()));
            }
            let f = build_feature(data, kind, config).map_err(feature_err(name))?;
            features.insert(name.to_owned(), f);
        }
        Ok(ReferenceProfile {
            format_version: PROFILE_FORMAT_VERSION,
            config: *config,
            features,
        })
    }
}
