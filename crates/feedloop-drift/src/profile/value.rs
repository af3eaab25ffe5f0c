//! Value types of a feature, one observed value, the stored category and
//! the borrowed key that orders categories as the offline path does.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::distance::FKey;

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

/// Borrowed, orderable category key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Key<'a> {
    Bool(bool),
    Int(i64),
    Float(FKey),
    Str(&'a str),
}

impl Key<'_> {
    pub(super) fn to_category(self) -> Category {
        match self {
            Key::Bool(b) => Category::Bool(b),
            Key::Int(i) => Category::Int(i),
            Key::Float(f) => Category::Float(f.0 + 0.0),
            Key::Str(s) => Category::Str(s.to_owned()),
        }
    }
}

impl Category {
    pub(super) fn key(&self) -> Key<'_> {
        match self {
            Category::Bool(b) => Key::Bool(*b),
            Category::Int(i) => Key::Int(*i),
            Category::Float(f) => Key::Float(FKey(*f)),
            Category::Str(s) => Key::Str(s),
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
