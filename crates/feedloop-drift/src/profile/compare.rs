//! Drift of a window against a profile: options, per-feature and overall
//! results, and every statistic computed from the frozen-bin counts.

use std::collections::BTreeMap;

use super::error::{ProfileError, feature_err};
use super::format::{FeatureProfile, ReferenceProfile};
use super::sample::{SketchBounds, sample_stats};
use super::window::{FeatureCounts, SortedValues, WindowCounts};
use crate::column::{
    ColumnDriftResult, ColumnKind, ColumnStats, DatasetDrift, StatTest, binned_stats,
    dataset_drift, default_test,
};
use crate::distance::{BinnedCounts, hellinger, z_test_counts};
use crate::error::{DriftError, Side};

/// Overrides for one feature.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FeatureDriftOptions {
    /// Force the test.
    pub test: Option<StatTest>,
    /// Force the threshold.
    pub threshold: Option<f64>,
}

/// Options of [`profile_drift`].
#[derive(Debug, Clone, Default)]
pub struct ProfileDriftOptions<'a> {
    /// Applied to every feature (per-feature fields take precedence).
    pub default: FeatureDriftOptions,
    /// Per-feature overrides.
    pub features: BTreeMap<String, FeatureDriftOptions>,
    /// The window's raw values of numeric features, for KS and Wasserstein
    /// (NaN/±inf dropped). May be a sample of the window: the KS p-value
    /// uses its size.
    pub raw_values: BTreeMap<String, &'a [f64]>,
    /// The same, already sorted ([`SortedValues`]): used as they are, where
    /// `raw_values` would be sorted first. Takes precedence over `raw_values`.
    pub sorted_values: BTreeMap<String, &'a SortedValues>,
}

/// Drift of one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDrift {
    /// Verdict and statistics, in the offline result type
    /// (`stats.bins` = every frozen bin in profile order).
    pub result: ColumnDriftResult,
    /// Null values of the window.
    pub window_null_count: u64,
    /// Categorical only: window values outside the kept categories.
    pub window_other_count: Option<u64>,
    /// Set when KS/Wasserstein were computed against a sketch.
    pub sketch_bounds: Option<SketchBounds>,
}

/// Result of [`profile_drift`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileDrift {
    /// Features whose drift was computed.
    pub features: BTreeMap<String, FeatureDrift>,
    /// Features that could not be computed (e.g. no non-null window value).
    pub skipped: BTreeMap<String, ProfileError>,
}

impl ProfileDrift {
    /// Dataset-level summary of the computed features (row counts: the
    /// largest `non-null + null` over features).
    pub fn dataset(&self, drift_share: f64) -> DatasetDrift {
        let n_ref = self
            .features
            .values()
            .map(|f| f.result.n_reference)
            .max()
            .unwrap_or(0);
        let n_cur = self
            .features
            .values()
            .map(|f| f.result.n_current + f.window_null_count as usize)
            .max()
            .unwrap_or(0);
        let cols = self
            .features
            .iter()
            .map(|(k, v)| (k.clone(), v.result.clone()))
            .collect();
        dataset_drift(cols, n_ref, n_cur, drift_share)
    }
}

fn feature_drift(
    name: &str,
    f: &FeatureProfile,
    window: &FeatureCounts,
    opts: FeatureDriftOptions,
    raw: Option<&[f64]>,
) -> Result<FeatureDrift, ProfileError> {
    let fe = feature_err(name);
    let kind = f.kind();
    let reference = f.reference_counts();
    if window.counts.len() != reference.len() {
        return Err(ProfileError::ProfileMismatch);
    }
    let n_cur = window.n();
    if n_cur == 0 {
        return Err(fe(DriftError::EmptyInput {
            side: Side::Current,
        }));
    }
    let default = default_test(kind, f.n() as usize, f.n_distinct() as usize);
    let test = match (opts.test, raw.is_some()) {
        (Some(t), _) => t,
        (None, true) => default,
        (None, false) => match default {
            StatTest::Ks => StatTest::ChiSquare,
            StatTest::Wasserstein => StatTest::JensenShannon,
            t => t,
        },
    };
    if kind == ColumnKind::Categorical && matches!(test, StatTest::Ks | StatTest::Wasserstein) {
        return Err(fe(DriftError::NumericTestOnCategorical { test }));
    }
    if raw.is_none() && matches!(test, StatTest::Ks | StatTest::Wasserstein) {
        return Err(ProfileError::RawValuesRequired {
            feature: name.to_owned(),
            test,
        });
    }
    // Binned statistics on the bins non-empty on some side.
    let (fr, fc): (Vec<u64>, Vec<u64>) = reference
        .iter()
        .zip(&window.counts)
        .filter(|(r, c)| **r > 0 || **c > 0)
        .map(|(r, c)| (*r, *c))
        .unzip();
    let filtered = BinnedCounts {
        reference: fr,
        current: fc,
    };
    let (psi, kl, js, chi) = binned_stats(&filtered).map_err(&fe)?;
    let (rp, cp) = filtered.proportions();
    let hel = hellinger(&rp, &cp).map_err(&fe)?;
    let z_all = z_test_counts(&filtered.reference, &filtered.current);
    let z = (filtered.reference.len() <= 2).then_some(z_all);
    let sample = match (f, raw) {
        (FeatureProfile::Numeric(p), Some(raw)) => Some(sample_stats(p, raw).map_err(&fe)?),
        _ => None,
    };
    let score = match test {
        StatTest::Ks => sample.as_ref().map(|s| s.ks.p_value),
        StatTest::Wasserstein => sample.as_ref().map(|s| s.wasserstein_normed),
        StatTest::JensenShannon => Some(js),
        StatTest::ChiSquare => Some(chi.p_value),
        StatTest::Z => Some(z_all.p_value),
        StatTest::Psi => Some(psi),
        StatTest::KlDiv => Some(kl),
        StatTest::Hellinger => Some(hel),
    }
    .ok_or(ProfileError::RawValuesRequired {
        feature: name.to_owned(),
        test,
    })?;
    let threshold = opts.threshold.unwrap_or_else(|| test.default_threshold());
    let stats = ColumnStats {
        ks: sample.as_ref().map(|s| s.ks),
        wasserstein: sample.as_ref().map(|s| s.wasserstein),
        wasserstein_normed: sample.as_ref().map(|s| s.wasserstein_normed),
        psi,
        jensenshannon: js,
        kl_div: kl,
        hellinger: hel,
        chisquare: chi,
        z,
        bins: BinnedCounts {
            reference,
            current: window.counts.clone(),
        },
    };
    let window_other_count = match f {
        FeatureProfile::Categorical(_) => window.counts.last().copied(),
        FeatureProfile::Numeric(_) => None,
    };
    Ok(FeatureDrift {
        result: ColumnDriftResult {
            kind,
            test,
            score,
            threshold,
            drift: test.is_drift(score, threshold),
            n_reference: f.n() as usize,
            n_current: n_cur as usize,
            stats,
            // Its sketch bounds are the feature's own (`sketch_bounds`).
            estimate: None,
        },
        window_null_count: window.null_count,
        window_other_count,
        sketch_bounds: sample.and_then(|s| s.bounds),
    })
}

/// Drift of every profile feature from a window's counts (and, optionally,
/// its raw numeric values for KS/Wasserstein).
///
/// Per feature: PSI and KL on Evidently-zero-filled proportions, JS,
/// Hellinger, chi-squared (Evidently's `f_exp = ref·n_cur/n_ref`) on the
/// frozen bins non-empty on some side; Z when at most two such bins; KS and
/// Wasserstein (raw and normed by the reference std, floored at 0.001) when
/// raw values are supplied. Test: forced, else [`default_test`] from the
/// reference `n` and distinct count, with KS → chi-squared and Wasserstein →
/// Jensen–Shannon without raw values (see the [`profile`](crate::profile) docs).
///
/// Errors (whole call): window counts of another profile, unknown feature
/// names in the options, raw values for a categorical feature, a non-finite
/// threshold. Per-feature failures (no non-null window value, a forced test
/// that does not apply) land in [`ProfileDrift::skipped`].
pub fn profile_drift(
    profile: &ReferenceProfile,
    window: &WindowCounts<'_>,
    options: &ProfileDriftOptions<'_>,
) -> Result<ProfileDrift, ProfileError> {
    check_options(profile, window, options)?;
    let mut out = ProfileDrift {
        features: BTreeMap::new(),
        skipped: BTreeMap::new(),
    };
    for name in profile.features.keys() {
        match one_feature(profile, window, name, options) {
            Ok(d) => {
                out.features.insert(name.clone(), d);
            }
            Err(e) => {
                out.skipped.insert(name.clone(), e);
            }
        }
    }
    Ok(out)
}

/// The whole-call checks of [`profile_drift`].
fn check_options(
    profile: &ReferenceProfile,
    window: &WindowCounts<'_>,
    options: &ProfileDriftOptions<'_>,
) -> Result<(), ProfileError> {
    if window.fingerprint != profile.fingerprint() {
        return Err(ProfileError::ProfileMismatch);
    }
    let thresholds = std::iter::once(&options.default).chain(options.features.values());
    for t in thresholds.filter_map(|o| o.threshold) {
        if !t.is_finite() {
            return Err(DriftError::InvalidThreshold(t).into());
        }
    }
    for name in options.features.keys() {
        if !profile.features.contains_key(name) {
            return Err(ProfileError::UnknownFeature(name.clone()));
        }
    }
    for name in options
        .raw_values
        .keys()
        .chain(options.sorted_values.keys())
    {
        match profile.features.get(name) {
            None => return Err(ProfileError::UnknownFeature(name.clone())),
            Some(FeatureProfile::Categorical(_)) => {
                return Err(ProfileError::RawValuesForCategorical(name.clone()));
            }
            Some(FeatureProfile::Numeric(_)) => {}
        }
    }
    Ok(())
}

/// One feature of [`profile_drift`], with the same checks: for callers that
/// compute features in parallel (the statistics are independent per feature).
/// The error is the whole call's error, or the feature's own (what
/// [`ProfileDrift::skipped`] would hold).
pub fn profile_feature_drift(
    profile: &ReferenceProfile,
    window: &WindowCounts<'_>,
    name: &str,
    options: &ProfileDriftOptions<'_>,
) -> Result<FeatureDrift, ProfileError> {
    check_options(profile, window, options)?;
    one_feature(profile, window, name, options)
}

fn one_feature(
    profile: &ReferenceProfile,
    window: &WindowCounts<'_>,
    name: &str,
    options: &ProfileDriftOptions<'_>,
) -> Result<FeatureDrift, ProfileError> {
    let f = profile
        .features
        .get(name)
        .ok_or_else(|| ProfileError::UnknownFeature(name.to_owned()))?;
    let per = options.features.get(name).copied().unwrap_or_default();
    let opts = FeatureDriftOptions {
        test: per.test.or(options.default.test),
        threshold: per.threshold.or(options.default.threshold),
    };
    let counts = window
        .features
        .get(name)
        .ok_or(ProfileError::ProfileMismatch)?;
    let sorted_raw;
    let raw = match options.sorted_values.get(name) {
        Some(v) => Some(v.as_slice()),
        None => match options.raw_values.get(name) {
            Some(raw) => {
                sorted_raw = SortedValues::new(raw.to_vec());
                Some(sorted_raw.as_slice())
            }
            None => None,
        },
    };
    feature_drift(name, f, counts, opts, raw)
}
