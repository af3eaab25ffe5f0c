//! Drift rows of one closed window: each model version's samples counted on its
//! reference profile's frozen bins ([`feedloop_drift::profile`]), one row per
//! feature and output, and the share of drifted features.

use crate::compute::{self, ModelKey};
use crate::profiles::{FeatureSample, Samples};
use feedloop_drift::profile::{
    FeatureDrift, FeatureProfile, ProfileDriftOptions, ReferenceProfile, SortedValues, Value,
    WindowCounts, profile_feature_drift,
};
use feedloop_storage::history::MetricRow;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Drift rows of one model version's window against its profile: one `drift`
/// row per input feature, one `prediction_drift` row per output, and the share
/// of drifted input features as `drift_share`.
pub fn drift_rows(
    start: i64,
    end: i64,
    key: &ModelKey,
    profile: &ReferenceProfile,
    s: Samples,
) -> Vec<MetricRow> {
    // Each feature's numbers are sorted once, features in parallel (on the
    // caller's pool); the sorted values are then both counted on the frozen
    // bins and tested (KS, Wasserstein).
    let features: Vec<(String, FeatureSample)> = s
        .features
        .into_iter()
        .filter(|(name, _)| profile.features.contains_key(name))
        .collect();
    let sorted: Vec<(String, FeatureSample, SortedValues)> = features
        .into_par_iter()
        .map(|(name, mut sample)| {
            let numbers = SortedValues::new(std::mem::take(&mut sample.numbers));
            (name, sample, numbers)
        })
        .collect();
    let mut counts = WindowCounts::new(profile);
    let mut raw: BTreeMap<String, &SortedValues> = BTreeMap::new();
    for (name, sample, numbers) in &sorted {
        let Some(fp) = profile.features.get(name) else {
            continue;
        };
        // A value of the wrong type for the profile is left out of the counts
        // (the feature's other values still count).
        let _ = counts.add_sorted(name, numbers);
        let _ = counts.add_counts(
            name,
            sample.strings.iter().map(|(x, n)| (Value::Str(x), *n)),
        );
        let _ = counts.add_counts(
            name,
            [
                (Value::Bool(false), sample.falses),
                (Value::Bool(true), sample.trues),
            ]
            .into_iter()
            .filter(|(_, n)| *n > 0),
        );
        let _ = counts.add_counts(name, [(Value::Null, sample.nulls as u64)]);
        if matches!(fp, FeatureProfile::Numeric(_)) && !numbers.as_slice().is_empty() {
            raw.insert(name.clone(), numbers);
        }
    }
    let opts = ProfileDriftOptions {
        sorted_values: raw,
        ..Default::default()
    };
    // Features are independent: their KS/Wasserstein merges run in parallel.
    // A feature that cannot be computed (no window value) has no row.
    let drifts: Vec<(String, FeatureDrift)> = profile
        .features
        .keys()
        .collect::<Vec<_>>()
        .into_par_iter()
        .filter_map(|name| {
            let d = profile_feature_drift(profile, &counts, name, &opts).ok()?;
            Some((name.clone(), d))
        })
        .collect();
    let mut rows = Vec::new();
    let (mut inputs, mut drifted) = (0usize, 0usize);
    for (name, fd) in &drifts {
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
