//! Building a categorical feature's profile: the `max_categories` most
//! frequent reference categories with their counts, the rest in `__other__`.

use std::collections::BTreeMap;

use super::format::{CategoricalProfile, ProfileConfig};
use super::value::{Category, ValueType};
use crate::category::CategoryKey;
use crate::error::{DriftError, Side, non_empty};

pub(super) fn build_categorical(
    keys: Vec<CategoryKey<'_>>,
    null_count: u64,
    value_type: ValueType,
    config: &ProfileConfig,
) -> Result<CategoricalProfile, DriftError> {
    non_empty(&keys, Side::Reference)?;
    let n = keys.len() as u64;
    let mut map: BTreeMap<CategoryKey<'_>, u64> = BTreeMap::new();
    for k in keys {
        *map.entry(k).or_default() += 1;
    }
    let n_distinct = map.len() as u64;
    let mut by_freq: Vec<(CategoryKey<'_>, u64)> = map.into_iter().collect();
    by_freq.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    by_freq.truncate(config.max_categories);
    by_freq.sort_by(|a, b| a.0.cmp(&b.0));
    let kept: u64 = by_freq.iter().map(|e| e.1).sum();
    Ok(CategoricalProfile {
        value_type,
        n,
        null_count,
        n_distinct,
        categories: by_freq.iter().map(|e| Category::from_key(e.0)).collect(),
        counts: by_freq.iter().map(|e| e.1).collect(),
        other_count: n - kept,
    })
}
