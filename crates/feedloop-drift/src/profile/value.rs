//! Value types of a feature, one observed value, and the stored category
//! (ordered through [`CategoryKey`], the offline path's category order).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::category::{CategoryKey, FKey};

/// Value type of a feature's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// Floating point.
    Float,
    /// Integer.
    Int,
    /// Boolean.
    Bool,
    /// String.
    Str,
}

impl ValueType {
    /// Name as used in error messages ("float", "integer", "boolean", "string").
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Float => "float",
            ValueType::Int => "integer",
            ValueType::Bool => "boolean",
            ValueType::Str => "string",
        }
    }
}

/// One observed value (for [`WindowCounts::observe`](super::WindowCounts::observe)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Null / missing.
    Null,
    /// Boolean.
    Bool(bool),
    /// Integer.
    Int(i64),
    /// Float (NaN and ±inf count as null).
    Float(f64),
    /// String.
    Str(&'a str),
}

impl Value<'_> {
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
        }
    }
}

/// A stored category. Ordered (and compared) as the offline path orders
/// categories: by type (bool < int < float < string), then by value
/// (`-0.0 == 0.0`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Boolean category.
    Bool(bool),
    /// Integer category.
    Int(i64),
    /// Float category (a float column forced categorical).
    Float(f64),
    /// String category.
    Str(String),
}

impl Category {
    /// The stored category of a key (`-0.0` stored as `0.0`).
    pub(super) fn from_key(key: CategoryKey<'_>) -> Category {
        match key {
            CategoryKey::Bool(b) => Category::Bool(b),
            CategoryKey::Int(i) => Category::Int(i),
            CategoryKey::Float(f) => Category::Float(f.0 + 0.0),
            CategoryKey::Str(s) => Category::Str(s.to_owned()),
        }
    }

    pub(super) fn key(&self) -> CategoryKey<'_> {
        match self {
            Category::Bool(b) => CategoryKey::Bool(*b),
            Category::Int(i) => CategoryKey::Int(*i),
            Category::Float(f) => CategoryKey::Float(FKey(*f)),
            Category::Str(s) => CategoryKey::Str(s),
        }
    }

    pub(super) fn value_type(&self) -> ValueType {
        match self {
            Category::Bool(_) => ValueType::Bool,
            Category::Int(_) => ValueType::Int,
            Category::Float(_) => ValueType::Float,
            Category::Str(_) => ValueType::Str,
        }
    }
}

impl PartialEq for Category {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Category {}
impl PartialOrd for Category {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Category {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}
