//! Reading a stored profile back: JSON (de)serialisation, and the format
//! version and consistency checks every deserialised profile must pass.

use super::error::{ProfileError, invalid};
use super::format::{FeatureProfile, PROFILE_FORMAT_VERSION, ReferenceProfile, ReferenceSample};
use super::value::{Category, ValueType};

impl ReferenceProfile {
    /// Serialises to JSON (floats round-trip bit for bit).
    pub fn to_json(&self) -> Result<String, ProfileError> {
        serde_json::to_string(self).map_err(|e| ProfileError::Json(e.to_string()))
    }

    /// Deserialises from JSON and [`validate`](Self::validate)s.
    pub fn from_json(json: &str) -> Result<Self, ProfileError> {
        let p: ReferenceProfile =
            serde_json::from_str(json).map_err(|e| ProfileError::Json(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// Checks the format version and internal consistency (call it after
    /// deserialising through serde directly).
    pub fn validate(&self) -> Result<(), ProfileError> {
        if self.format_version != PROFILE_FORMAT_VERSION {
            return Err(ProfileError::UnsupportedFormatVersion {
                found: self.format_version,
                supported: PROFILE_FORMAT_VERSION,
            });
        }
        self.config.validate()?;
        let ascending =
            |v: &[f64]| v.iter().all(|x| x.is_finite()) && v.windows(2).all(|w| w[0] <= w[1]);
        for (name, f) in &self.features {
            match f {
                FeatureProfile::Numeric(p) => {
                    if p.n == 0 {
                        return Err(invalid(name, "no reference values"));
                    }
                    if !matches!(p.value_type, ValueType::Float | ValueType::Int) {
                        return Err(invalid(name, "numeric feature of a non-numeric type"));
                    }
                    if !ascending(&p.edges) || p.edges.windows(2).any(|w| w[0] == w[1]) {
                        return Err(invalid(
                            name,
                            "edges must be finite and strictly increasing",
                        ));
                    }
                    if p.counts.len() != p.edges.len() + 1 || p.counts.iter().sum::<u64>() != p.n {
                        return Err(invalid(name, "bin counts do not match the edges or n"));
                    }
                    match &p.reference {
                        ReferenceSample::Exact { sorted } => {
                            if sorted.len() as u64 != p.n || !ascending(sorted) {
                                return Err(invalid(
                                    name,
                                    "exact reference must hold n sorted finite values",
                                ));
                            }
                        }
                        ReferenceSample::Sketch { points, .. } => {
                            if points.is_empty() || !ascending(points) {
                                return Err(invalid(name, "sketch must hold sorted finite values"));
                            }
                        }
                    }
                }
                FeatureProfile::Categorical(p) => {
                    if p.n == 0 {
                        return Err(invalid(name, "no reference values"));
                    }
                    if p.categories.iter().any(|c| c.value_type() != p.value_type)
                        || p.categories.windows(2).any(|w| w[0] >= w[1])
                        || p.categories
                            .iter()
                            .any(|c| matches!(c, Category::Float(x) if !x.is_finite()))
                    {
                        return Err(invalid(
                            name,
                            "categories must be of the feature's type, distinct and sorted",
                        ));
                    }
                    if p.counts.len() != p.categories.len()
                        || p.counts.iter().sum::<u64>().checked_add(p.other_count) != Some(p.n)
                    {
                        return Err(invalid(name, "category counts do not match n"));
                    }
                }
            }
        }
        Ok(())
    }
}
