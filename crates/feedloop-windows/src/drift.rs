//! Drift rows of one closed window: each model version's samples counted on its
//! reference profile's frozen bins ([`feedloop_drift::profile`]), one row per
//! feature and output, and the share of drifted features.

use crate::compute::{self, ModelKey};
use crate::profiles::Samples;
use feedloop_drift::profile::{
    FeatureProfile, ProfileDriftOptions, ReferenceProfile, Value, ValueType, WindowCounts,
    profile_drift,
};
use feedloop_storage::history::MetricRow;
use std::collections::BTreeMap;

/// Drift rows of one model version's window against its profile: one `drift`
/// row per input feature, one `prediction_drift` row per output, and the share
/// of drifted input features as `drift_share`.
pub fn drift_rows(
    start: i64,
    end: i64,
    key: &ModelKey,
    profile: &ReferenceProfile,
    s: &Samples,
) -> Vec<MetricRow> {
    let mut counts = WindowCounts::new(profile);
    let mut raw: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (name, sample) in &s.features {
        let Some(fp) = profile.features.get(name) else {
            continue;
        };
        let (numeric, int_categorical) = match fp {
            FeatureProfile::Numeric(_) => (true, false),
            FeatureProfile::Categorical(c) => (
                false,
                c.value_type == ValueType::Int || c.value_type == ValueType::Float,
            ),
        };
        for x in &sample.numbers {
            let v = if int_categorical && x.fract() == 0.0 {
                Value::Int(*x as i64)
            } else {
                Value::Float(*x)
            };
            let _ = counts.observe(name, v);
        }
        for x in &sample.strings {
            let _ = counts.observe(name, Value::Str(x));
        }
        for x in &sample.bools {
            let _ = counts.observe(name, Value::Bool(*x));
        }
        for _ in 0..sample.nulls {
            let _ = counts.observe(name, Value::Null);
        }
        if numeric && !sample.numbers.is_empty() {
            raw.insert(name.clone(), sample.numbers.clone());
        }
    }
    let opts = ProfileDriftOptions {
        raw_values: raw.iter().map(|(k, v)| (k.clone(), v.as_slice())).collect(),
        ..Default::default()
    };
    let Ok(drift) = profile_drift(profile, &counts, &opts) else {
        return vec![];
    };
    let mut rows = Vec::new();
    let (mut inputs, mut drifted) = (0usize, 0usize);
    for (name, fd) in &drift.features {
        let (metric, feature) = match name.strip_prefix('@') {
            Some(output) => ("prediction_drift", output.to_string()),
            None => {
                inputs += 1;
                drifted += usize::from(fd.result.drift);
                ("drift", name.clone())
            }
        };
        let mut r = compute::row(start, end, key, metric, Some(&feature), fd.result.score);
        r.test = Some(fd.result.test.name().to_string());
        r.threshold = Some(fd.result.threshold);
        r.drift = Some(fd.result.drift);
        rows.push(r);
    }
    if inputs > 0 {
        rows.push(compute::row(
            start,
            end,
            key,
            "drift_share",
            None,
            drifted as f64 / inputs as f64,
        ));
    }
    rows
}
