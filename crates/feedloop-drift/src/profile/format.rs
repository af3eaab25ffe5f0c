//! The stored form of a reference profile: its format version, the build
//! configuration, and the numeric and categorical feature profiles (serde).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::ProfileError;
use super::lenient_f64;
use super::value::{Category, ValueType};
use crate::category::CategoryKey;
use crate::column::ColumnKind;

/// Version of the serialised profile layout written by this crate.
pub const PROFILE_FORMAT_VERSION: u32 = 1;

/// Name of the bucket pooling every category outside the profile's top-K.
pub const OTHER_BUCKET: &str = "__other__";

/// How a profile is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileConfig {
    /// Number of quantile bins of a numeric feature (≥ 1; default 10, deciles).
    pub bins: usize,
    /// Largest reference kept exactly for KS/Wasserstein; above it a sketch
    /// of `exact_limit` order statistics is kept (≥ 1; default 100 000).
    pub exact_limit: usize,
    /// Categories kept per categorical feature, the rest pooled in
    /// `__other__` (default 100).
    pub max_categories: usize,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            bins: 10,
            exact_limit: 100_000,
            max_categories: 100,
        }
    }
}

impl ProfileConfig {
    pub(super) fn validate(&self) -> Result<(), ProfileError> {
        if self.bins == 0 {
            return Err(ProfileError::InvalidConfig("bins must be at least 1"));
        }
        if self.exact_limit == 0 {
            return Err(ProfileError::InvalidConfig(
                "exact_limit must be at least 1",
            ));
        }
        Ok(())
    }
}

/// The reference sample KS and Wasserstein are computed against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceSample {
    /// The whole non-null reference, sorted ascending (`n ≤ exact_limit`).
    Exact {
        /// Sorted reference values.
        sorted: Vec<f64>,
    },
    /// `m = exact_limit` order statistics `x_(⌈(i+1)·n/m⌉)`, each weighted `1/m`.
    Sketch {
        /// The sketch points, ascending.
        points: Vec<f64>,
        /// `sup_t |F(t) − G(t)|` between the reference and sketch ECDFs (`< 1/m`):
        /// the bound on the KS statistic's error.
        ks_error: f64,
        /// `∫ |F − G| dt` (`≤ (max − min)/m`): the bound on the Wasserstein error.
        #[serde(with = "lenient_f64")]
        wasserstein_error: f64,
    },
}

/// Profile of a numeric feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericProfile {
    /// Value type of the reference column (float, or integer treated as numeric).
    pub value_type: ValueType,
    /// Non-null reference values.
    pub n: u64,
    /// Null, NaN and ±inf reference values.
    pub null_count: u64,
    /// Mean (compensated sum over the sorted values; non-finite if the sum overflows).
    #[serde(with = "lenient_f64")]
    pub mean: f64,
    /// Standard deviation, ddof 0 ([`std_ddof0`](crate::std_ddof0) of the sorted values;
    /// non-finite if the sum of squares overflows).
    #[serde(with = "lenient_f64")]
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Distinct values (`-0.0 == 0.0`).
    pub n_distinct: u64,
    /// Interior bin edges, strictly increasing; `edges.len() + 1` bins.
    pub edges: Vec<f64>,
    /// Reference count per bin.
    pub counts: Vec<u64>,
    /// What KS and Wasserstein are computed against.
    pub reference: ReferenceSample,
}

impl NumericProfile {
    /// Bin of `x` on the frozen, right-closed edges: `#{edges < x}`.
    pub fn bin_index(&self, x: f64) -> usize {
        self.edges.partition_point(|&e| e < x)
    }

    /// Whether KS/Wasserstein use the exact reference.
    pub fn is_exact(&self) -> bool {
        matches!(self.reference, ReferenceSample::Exact { .. })
    }
}

/// Profile of a categorical feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalProfile {
    /// Value type of the categories.
    pub value_type: ValueType,
    /// Non-null reference values.
    pub n: u64,
    /// Null reference values (NaN/±inf for a float column).
    pub null_count: u64,
    /// Distinct reference categories (all of them, not only the kept ones).
    pub n_distinct: u64,
    /// Kept categories (the most frequent), in ascending value order.
    pub categories: Vec<Category>,
    /// Reference count per kept category.
    pub counts: Vec<u64>,
    /// Reference values of every other category (`__other__`).
    pub other_count: u64,
}

impl CategoricalProfile {
    /// Whether every reference category was kept (`__other__` is then
    /// exactly "never seen in the reference").
    pub fn is_complete(&self) -> bool {
        self.other_count == 0
    }

    pub(super) fn index_of(&self, key: &CategoryKey<'_>) -> usize {
        self.categories
            .binary_search_by(|c| c.key().cmp(key))
            .unwrap_or(self.categories.len())
    }
}

/// Profile of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureProfile {
    /// Numeric feature.
    Numeric(NumericProfile),
    /// Categorical feature.
    Categorical(CategoricalProfile),
}

impl FeatureProfile {
    /// Kind of the feature.
    pub fn kind(&self) -> ColumnKind {
        match self {
            FeatureProfile::Numeric(_) => ColumnKind::Numeric,
            FeatureProfile::Categorical(_) => ColumnKind::Categorical,
        }
    }

    /// Non-null reference values.
    pub fn n(&self) -> u64 {
        match self {
            FeatureProfile::Numeric(p) => p.n,
            FeatureProfile::Categorical(p) => p.n,
        }
    }

    /// Null reference values.
    pub fn null_count(&self) -> u64 {
        match self {
            FeatureProfile::Numeric(p) => p.null_count,
            FeatureProfile::Categorical(p) => p.null_count,
        }
    }

    /// Number of frozen bins (categorical: kept categories + `__other__`).
    pub fn n_bins(&self) -> usize {
        match self {
            FeatureProfile::Numeric(p) => p.edges.len() + 1,
            FeatureProfile::Categorical(p) => p.categories.len() + 1,
        }
    }

    /// Reference counts on the frozen bins (categorical: `__other__` last).
    pub fn reference_counts(&self) -> Vec<u64> {
        match self {
            FeatureProfile::Numeric(p) => p.counts.clone(),
            FeatureProfile::Categorical(p) => {
                let mut c = p.counts.clone();
                c.push(p.other_count);
                c
            }
        }
    }

    pub(super) fn n_distinct(&self) -> u64 {
        match self {
            FeatureProfile::Numeric(p) => p.n_distinct,
            FeatureProfile::Categorical(p) => p.n_distinct,
        }
    }
}

/// A reference profile of named features; serialise it with serde.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceProfile {
    /// Layout version ([`PROFILE_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Configuration the profile was built with.
    pub config: ProfileConfig,
    /// Per-feature profiles.
    pub features: BTreeMap<String, FeatureProfile>,
}
