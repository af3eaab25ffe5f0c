//! Reference profiles: agreement with the offline path where the bins
//! coincide, exact/sketch KS and Wasserstein, serde round-trips, merge laws.

use feedloop_drift::profile::*;
use feedloop_drift::*;
use proptest::prelude::*;

/// Deterministic xorshift64* generator for large fixtures.
struct Rng(u64);
impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal (Irwin–Hall with 4 terms), mean `mu`, scale `s`.
    fn normalish(&mut self, mu: f64, s: f64) -> f64 {
        let u: f64 = (0..4).map(|_| self.uniform()).sum();
        mu + s * (u - 2.0)
    }
}

fn num_profile(x: &[f64], config: &ProfileConfig) -> ReferenceProfile {
    ReferenceProfile::from_columns(&[("x", ColumnData::Float(x))], config).unwrap()
}

fn numeric(p: &ReferenceProfile, name: &str) -> NumericProfile {
    match &p.features[name] {
        FeatureProfile::Numeric(n) => n.clone(),
        other => panic!("{name} is not numeric: {other:?}"),
    }
}

fn raw_opts<'a>(name: &str, raw: &'a [f64]) -> ProfileDriftOptions<'a> {
    let mut o = ProfileDriftOptions::default();
    o.raw_values.insert(name.to_owned(), raw);
    o
}

// ---------------------------------------------------------------- binning

#[test]
fn quantile_edges_follow_numpy_linear_and_collapse_ties() {
    let cfg = ProfileConfig {
        bins: 4,
        ..ProfileConfig::default()
    };
    // numpy.quantile([1,2,3,4,5], [.25,.5,.75]) = [2, 3, 4]
    let p = numeric(&num_profile(&[5.0, 1.0, 4.0, 2.0, 3.0], &cfg), "x");
    assert_eq!(p.edges, [2.0, 3.0, 4.0]);
    assert_eq!(p.counts, [2, 1, 1, 1]); // right-closed: 2 ∈ (-inf, 2]
    // numpy.quantile([0, 10], [.25,.5,.75]) = [2.5, 5, 7.5]
    let p = numeric(&num_profile(&[10.0, 0.0], &cfg), "x");
    assert_eq!(p.edges, [2.5, 5.0, 7.5]);
    assert_eq!(p.counts, [1, 0, 0, 1]);
    // numpy.quantile([1,1,1,1,5], …) = [1, 1, 1] → one edge
    let p = numeric(&num_profile(&[1.0, 1.0, 5.0, 1.0, 1.0], &cfg), "x");
    assert_eq!(p.edges, [1.0]);
    assert_eq!(p.counts, [4, 1]);
    // deciles of 0..999: (n-1)·k/10 = 99.9k
    let x: Vec<f64> = (0..1000).map(f64::from).collect();
    let p = numeric(&num_profile(&x, &ProfileConfig::default()), "x");
    let want = [99.9, 199.8, 299.7, 399.6, 499.5, 599.4, 699.3, 799.2, 899.1];
    assert_eq!(p.edges.len(), 9);
    for (e, w) in p.edges.iter().zip(want) {
        assert!((e - w).abs() < 1e-9, "{e} vs {w}");
    }
    assert_eq!(p.counts, [100; 10]);
    assert_eq!((p.n, p.min, p.max, p.n_distinct), (1000, 0.0, 999.0, 1000));
    assert_eq!(p.mean, 499.5);
    assert_eq!(p.std, std_ddof0(&x).unwrap());
    assert!(p.is_exact());
}

#[test]
fn open_ends_and_right_closed_window_bins() {
    let cfg = ProfileConfig {
        bins: 4,
        ..ProfileConfig::default()
    };
    let prof = num_profile(&[1.0, 2.0, 3.0, 4.0, 5.0], &cfg);
    let mut w = WindowCounts::new(&prof);
    for v in [
        -1e300,
        2.0,
        2.0000000000000004,
        3.0,
        4.5,
        1e300,
        f64::NAN,
        f64::INFINITY,
    ] {
        w.observe_numeric("x", v).unwrap();
    }
    w.observe("x", Value::Int(4)).unwrap();
    w.observe_null("x").unwrap();
    let c = w.feature("x").unwrap();
    assert_eq!(c.counts, [2, 2, 1, 2]);
    assert_eq!(c.null_count, 3);
    assert!(matches!(
        w.observe("x", Value::Str("a")),
        Err(ProfileError::ValueType { .. })
    ));
    assert!(matches!(
        w.observe_numeric("nope", 1.0),
        Err(ProfileError::UnknownFeature(_))
    ));
}

#[test]
fn nulls_are_dropped_and_counted_in_the_reference() {
    let x = [1.0, f64::NAN, 2.0, f64::NEG_INFINITY, 3.0];
    let i = [Some(1), None, Some(2), Some(1)];
    let s = [Some("a"), None, None, Some("b")];
    let p = ReferenceProfile::from_columns(
        &[
            ("x", ColumnData::Float(&x)),
            ("i", ColumnData::Int(&i)),
            ("s", ColumnData::Str(&s)),
        ],
        &ProfileConfig::default(),
    )
    .unwrap();
    assert_eq!((p.features["x"].n(), p.features["x"].null_count()), (3, 2));
    assert_eq!((p.features["i"].n(), p.features["i"].null_count()), (3, 1));
    assert_eq!(p.features["i"].kind(), ColumnKind::Categorical);
    assert_eq!((p.features["s"].n(), p.features["s"].null_count()), (2, 2));
    let empty = [f64::NAN];
    let e = ReferenceProfile::from_columns(
        &[("x", ColumnData::Float(&empty))],
        &ProfileConfig::default(),
    );
    assert!(matches!(
        e,
        Err(ProfileError::Feature {
            source: DriftError::EmptyInput {
                side: Side::Reference
            },
            ..
        })
    ));
    let e = ReferenceProfile::from_columns(
        &[("x", ColumnData::Float(&x)), ("x", ColumnData::Float(&x))],
        &ProfileConfig::default(),
    );
    assert!(matches!(e, Err(ProfileError::DuplicateFeature(_))));
}

#[test]
fn top_k_categories_and_other_bucket() {
    // a×5, b×4, c×4, d×1, e×1; K = 2 → keep a and (b|c by value) b.
    let vals: Vec<Option<&str>> = "aaaaabbbbccccde"
        .chars()
        .map(|c| match c {
            'a' => Some("a"),
            'b' => Some("b"),
            'c' => Some("c"),
            'd' => Some("d"),
            _ => Some("e"),
        })
        .collect();
    let cfg = ProfileConfig {
        max_categories: 2,
        ..ProfileConfig::default()
    };
    let p = ReferenceProfile::from_columns(&[("s", ColumnData::Str(&vals))], &cfg).unwrap();
    let FeatureProfile::Categorical(c) = &p.features["s"] else {
        panic!()
    };
    assert_eq!(
        c.categories,
        [Category::Str("a".into()), Category::Str("b".into())]
    );
    assert_eq!(c.counts, [5, 4]);
    assert_eq!((c.other_count, c.n, c.n_distinct), (6, 15, 5));
    assert!(!c.is_complete());
    let mut w = WindowCounts::new(&p);
    for s in ["a", "c", "zzz", "b"] {
        w.observe_category("s", Value::Str(s)).unwrap();
    }
    assert!(matches!(
        w.observe_category("s", Value::Int(1)),
        Err(ProfileError::ValueType { .. })
    ));
    assert_eq!(w.feature("s").unwrap().counts, [1, 1, 2]);
    let d = profile_drift(&p, &w, &ProfileDriftOptions::default()).unwrap();
    assert_eq!(d.features["s"].window_other_count, Some(2));
}

// ------------------------------------------------- (a) offline agreement

fn int_col(v: &[i64]) -> Vec<Option<i64>> {
    v.iter().copied().map(Some).collect()
}

fn assert_same_binned(p: &FeatureDrift, c: &ColumnDriftResult) {
    let (ps, cs) = (&p.result.stats, &c.stats);
    assert_eq!(ps.psi, cs.psi, "psi");
    assert_eq!(ps.kl_div, cs.kl_div, "kl");
    assert_eq!(ps.jensenshannon, cs.jensenshannon, "js");
    assert_eq!(ps.chisquare, cs.chisquare, "chi2");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Small-integer categorical data: profile bins = Evidently value bins.
    #[test]
    fn categorical_profile_matches_offline(
        k in 1i64..7,
        r in prop::collection::vec(0i64..100, 1..300),
        c in prop::collection::vec(0i64..100, 1..300),
    ) {
        let r: Vec<i64> = r.into_iter().map(|x| x % k).collect();
        // window values within the reference categories
        let mut cats = r.clone();
        cats.sort_unstable();
        cats.dedup();
        let c: Vec<i64> = c.into_iter().map(|x| cats[x as usize % cats.len()]).collect();
        let (ro, co) = (int_col(&r), int_col(&c));
        let prof = ReferenceProfile::from_columns_with_kinds(
            &[("i", ColumnData::Int(&ro), Some(ColumnKind::Categorical))], &ProfileConfig::default()).unwrap();
        let w = WindowCounts::from_columns(&prof, &[("i", ColumnData::Int(&co))]).unwrap();
        let d = profile_drift(&prof, &w, &ProfileDriftOptions::default()).unwrap();
        let pd = &d.features["i"];
        let off = column_drift(ColumnData::Int(&ro), ColumnData::Int(&co),
            &ColumnOptions { kind: Some(ColumnKind::Categorical), ..Default::default() }).unwrap();
        assert_same_binned(pd, &off);
        prop_assert_eq!(pd.result.stats.hellinger, off.stats.hellinger);
        prop_assert_eq!(pd.result.stats.z, off.stats.z);
        prop_assert_eq!(pd.result.test, off.test);
        prop_assert_eq!(pd.result.score, off.score);
        prop_assert_eq!(pd.result.drift, off.drift);
        // value bins and frozen bins are the same bins (+ an empty __other__)
        let mut bins = pd.result.stats.bins.clone();
        prop_assert_eq!(bins.reference.pop(), Some(0));
        prop_assert_eq!(bins.current.pop(), Some(0));
        prop_assert_eq!(&bins, &off.stats.bins);
    }

    /// Numeric data with ten equally frequent values: each decile bin holds
    /// one value, so the frozen bins are Evidently's value bins.
    #[test]
    fn numeric_value_bins_match_offline(c in prop::collection::vec(1u8..=10, 1..400)) {
        let r: Vec<f64> = (0..1000).map(|i| f64::from(i / 100 + 1)).collect();
        let c: Vec<f64> = c.into_iter().map(f64::from).collect();
        let prof = num_profile(&r, &ProfileConfig::default());
        prop_assert_eq!(numeric(&prof, "x").counts, vec![100u64; 10]);
        let w = WindowCounts::from_columns(&prof, &[("x", ColumnData::Float(&c))]).unwrap();
        let d = profile_drift(&prof, &w, &raw_opts("x", &c)).unwrap();
        let pd = &d.features["x"];
        let off = column_drift(ColumnData::Float(&r), ColumnData::Float(&c), &ColumnOptions::default()).unwrap();
        assert_same_binned(pd, &off);
        prop_assert_eq!(&pd.result.stats.bins, &off.stats.bins);
        prop_assert_eq!(pd.result.stats.ks, off.stats.ks);
        prop_assert_eq!(pd.result.stats.wasserstein, off.stats.wasserstein);
        prop_assert_eq!(pd.result.test, off.test);
        prop_assert_eq!(pd.result.drift, off.drift);
    }
}

#[test]
fn one_new_category_matches_offline_when_ordered_last() {
    let r = int_col(&[0, 1, 2, 0, 1, 2, 0, 0, 1, 2, 2, 2]);
    let c = int_col(&[0, 1, 9, 9, 2, 0]);
    let prof =
        ReferenceProfile::from_columns(&[("i", ColumnData::Int(&r))], &ProfileConfig::default())
            .unwrap();
    let w = WindowCounts::from_columns(&prof, &[("i", ColumnData::Int(&c))]).unwrap();
    let d = profile_drift(&prof, &w, &ProfileDriftOptions::default()).unwrap();
    let off = column_drift(
        ColumnData::Int(&r),
        ColumnData::Int(&c),
        &ColumnOptions::default(),
    )
    .unwrap();
    let pd = &d.features["i"];
    assert_same_binned(pd, &off);
    assert_eq!(pd.result.stats.chisquare.p_value, 0.0);
    assert_eq!(pd.window_other_count, Some(2));
    assert_eq!(pd.result.stats.bins, off.stats.bins);
}

// ----------------------------------------------- (b) exact KS/Wasserstein

fn sample() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        prop_oneof![-100.0..100.0f64, (-5i32..5).prop_map(f64::from)],
        1..200,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn exact_mode_equals_scipy_functions(r in sample(), c in sample()) {
        let prof = num_profile(&r, &ProfileConfig::default());
        prop_assert!(numeric(&prof, "x").is_exact());
        let w = WindowCounts::from_columns(&prof, &[("x", ColumnData::Float(&c))]).unwrap();
        let d = profile_drift(&prof, &w, &raw_opts("x", &c)).unwrap();
        let s = &d.features["x"].result.stats;
        prop_assert_eq!(s.ks, Some(ks_2samp(&r, &c).unwrap()));
        prop_assert_eq!(s.wasserstein, Some(wasserstein_distance(&r, &c).unwrap()));
        let wn = wasserstein_normed(&r, &c).unwrap();
        let got = s.wasserstein_normed.unwrap();
        prop_assert!((got - wn).abs() <= 1e-12 * wn.abs().max(1e-300), "{} vs {}", got, wn);
        prop_assert!(d.features["x"].sketch_bounds.is_none());
    }

    /// Small sketches (m = 37) against the exact values: within the bounds.
    #[test]
    fn sketch_mode_within_bounds_small(
        r in prop::collection::vec(prop_oneof![-50.0..50.0f64, (-3i32..3).prop_map(f64::from)], 38..1500),
        c in prop::collection::vec(-60.0..60.0f64, 1..300),
    ) {
        let cfg = ProfileConfig { exact_limit: 37, ..ProfileConfig::default() };
        let prof = num_profile(&r, &cfg);
        let np = numeric(&prof, "x");
        let ReferenceSample::Sketch { points, ks_error, wasserstein_error } = &np.reference else {
            panic!("expected a sketch")
        };
        prop_assert_eq!(points.len(), 37);
        prop_assert!(*ks_error < 1.0 / 37.0);
        prop_assert!(*wasserstein_error <= (np.max - np.min) / 37.0 * (1.0 + 1e-12));
        let w = WindowCounts::from_columns(&prof, &[("x", ColumnData::Float(&c))]).unwrap();
        let d = profile_drift(&prof, &w, &raw_opts("x", &c)).unwrap();
        let f = &d.features["x"];
        let b = f.sketch_bounds.unwrap();
        let ks = ks_2samp(&r, &c).unwrap();
        let wd = wasserstein_distance(&r, &c).unwrap();
        let s = &f.result.stats;
        prop_assert!((s.ks.unwrap().statistic - ks.statistic).abs() <= b.ks_statistic + 1e-12);
        prop_assert!((s.wasserstein.unwrap() - wd).abs() <= b.wasserstein * (1.0 + 1e-9) + 1e-9);
    }
}

#[test]
fn sketch_mode_million_rows_within_documented_bound() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let n = 1_000_000;
    let r: Vec<f64> = (0..n)
        .map(|i| {
            if i % 10 == 0 {
                (rng.uniform() * 20.0).floor()
            } else {
                rng.normalish(10.0, 4.0)
            }
        })
        .collect();
    let c: Vec<f64> = (0..20_000).map(|_| rng.normalish(10.5, 4.4)).collect();
    let cfg = ProfileConfig::default();
    let prof = num_profile(&r, &cfg);
    let np = numeric(&prof, "x");
    let m = cfg.exact_limit as f64;
    let ReferenceSample::Sketch {
        points,
        ks_error,
        wasserstein_error,
    } = &np.reference
    else {
        panic!("expected a sketch")
    };
    assert_eq!(points.len(), cfg.exact_limit);
    assert!(*ks_error > 0.0 && *ks_error < 1.0 / m, "{ks_error}");
    assert!(
        *wasserstein_error > 0.0 && *wasserstein_error <= (np.max - np.min) / m,
        "{wasserstein_error}"
    );
    assert_eq!(np.counts.iter().sum::<u64>(), n as u64);
    assert_eq!(
        np.std,
        std_ddof0(&{
            let mut s = r.clone();
            s.sort_by(f64::total_cmp);
            s
        })
        .unwrap()
    );

    let w = WindowCounts::from_columns(&prof, &[("x", ColumnData::Float(&c))]).unwrap();
    let d = profile_drift(&prof, &w, &raw_opts("x", &c)).unwrap();
    let f = &d.features["x"];
    let b = f.sketch_bounds.unwrap();
    let s = &f.result.stats;
    let ks = ks_2samp(&r, &c).unwrap();
    let wd = wasserstein_distance(&r, &c).unwrap();
    let ks_diff = (s.ks.unwrap().statistic - ks.statistic).abs();
    let w_diff = (s.wasserstein.unwrap() - wd).abs();
    assert!(
        ks_diff <= b.ks_statistic + 1e-12,
        "ks diff {ks_diff:e} > {:e}",
        b.ks_statistic
    );
    assert!(
        w_diff <= b.wasserstein + 1e-12,
        "w diff {w_diff:e} > {:e}",
        b.wasserstein
    );
    // documented generic bounds
    assert!(b.ks_statistic < 1.0 / m);
    assert!(b.wasserstein <= (np.max - np.min) / m);
    // the p-value is approximate but uses the true sizes (asymptotic here)
    assert!(!s.ks.unwrap().exact);
    assert!((s.ks.unwrap().p_value - ks.p_value).abs() < 1e-3 || ks.p_value < 1e-10);
    let wn = wasserstein_normed(&r, &c).unwrap();
    assert!((s.wasserstein_normed.unwrap() - wn).abs() <= b.wasserstein_normed + 1e-12);
    // n > 1000 numeric with many values → Wasserstein by default
    assert_eq!(f.result.test, StatTest::Wasserstein);
}

// ----------------------------------------------------------- (c) serde

fn floats_of(p: &ReferenceProfile) -> Vec<u64> {
    let mut out = Vec::new();
    for f in p.features.values() {
        match f {
            FeatureProfile::Numeric(n) => {
                out.extend([n.mean, n.std, n.min, n.max].map(f64::to_bits));
                out.extend(n.edges.iter().map(|x| x.to_bits()));
                match &n.reference {
                    ReferenceSample::Exact { sorted } => {
                        out.extend(sorted.iter().map(|x| x.to_bits()))
                    }
                    ReferenceSample::Sketch {
                        points,
                        ks_error,
                        wasserstein_error,
                    } => {
                        out.extend(points.iter().map(|x| x.to_bits()));
                        out.extend([ks_error.to_bits(), wasserstein_error.to_bits()]);
                    }
                }
            }
            FeatureProfile::Categorical(c) => {
                out.extend(c.categories.iter().filter_map(|c| match c {
                    Category::Float(x) => Some(x.to_bits()),
                    _ => None,
                }));
            }
        }
    }
    out
}

#[test]
fn serde_round_trip_is_bit_exact() {
    let mut rng = Rng(7);
    let x: Vec<f64> = (0..2000)
        .map(|i| match i % 7 {
            0 => -0.0,
            1 => 5e-324,
            2 => 0.1 + 0.2,
            3 => 1e150 * rng.uniform(),
            _ => rng.normalish(0.0, 1e-3) / 3.0,
        })
        .collect();
    let big: Vec<f64> = (0..5000).map(|_| rng.normalish(1.0, 1.0) / 7.0).collect();
    let fl = [0.1, -0.0, 1.0 / 3.0, 2.5, f64::NAN];
    let ints = [Some(-3), Some(i64::MAX), None, Some(i64::MIN)];
    let bools = [Some(true), Some(false), None];
    let strs = [Some("é\"\\x"), Some("b"), None];
    let prof = ReferenceProfile::from_columns_with_kinds(
        &[
            ("x", ColumnData::Float(&x), None),
            ("big", ColumnData::Float(&big), None),
            ("fc", ColumnData::Float(&fl), Some(ColumnKind::Categorical)),
            ("i", ColumnData::Int(&ints), None),
            ("b", ColumnData::Bool(&bools), None),
            ("s", ColumnData::Str(&strs), None),
        ],
        &ProfileConfig {
            bins: 7,
            exact_limit: 3000,
            max_categories: 100,
        },
    )
    .unwrap();
    assert!(numeric(&prof, "x").is_exact());
    assert!(!numeric(&prof, "big").is_exact());
    let json = prof.to_json().unwrap();
    let back = ReferenceProfile::from_json(&json).unwrap();
    assert!(back == prof, "round trip changed the profile");
    assert_eq!(floats_of(&back), floats_of(&prof));
    assert_eq!(back.to_json().unwrap(), json);
    assert_eq!(back.fingerprint(), prof.fingerprint());
    // through serde_json::Value as well
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["format_version"], 1);
    let back2: ReferenceProfile = serde_json::from_value(v).unwrap();
    assert_eq!(floats_of(&back2), floats_of(&prof));

    // window counts ship as snapshots
    let mut w = WindowCounts::new(&prof);
    w.observe_numeric("x", 0.5).unwrap();
    w.observe_category("s", Value::Str("b")).unwrap();
    w.observe_category("fc", Value::Float(0.0)).unwrap(); // == -0.0 category
    let snap: CountsSnapshot =
        serde_json::from_str(&serde_json::to_string(&w.snapshot()).unwrap()).unwrap();
    let w2 = WindowCounts::from_snapshot(&back, &snap).unwrap();
    assert_eq!(w2, w);
    let FeatureProfile::Categorical(fc) = &prof.features["fc"] else {
        panic!()
    };
    let zero = fc
        .categories
        .iter()
        .position(|c| *c == Category::Float(0.0))
        .unwrap();
    assert_eq!(w.feature("fc").unwrap().counts[zero], 1);
}

#[test]
fn overflowing_moments_round_trip() {
    // Sums overflow: mean and std are +inf, as numpy's; JSON has no inf/NaN.
    let x = [1.7e308, 1.79e308, 1.0];
    let prof = num_profile(&x, &ProfileConfig::default());
    let n = numeric(&prof, "x");
    assert_eq!((n.mean, n.std), (f64::INFINITY, f64::INFINITY));
    let json = prof.to_json().unwrap();
    assert!(
        json.contains("\"mean\":\"inf\"") && json.contains("\"std\":\"inf\""),
        "{json}"
    );
    let json = json.replace("\"std\":\"inf\"", "\"std\":\"nan\"");
    let back = ReferenceProfile::from_json(&json).unwrap();
    assert_eq!(numeric(&back, "x").mean, f64::INFINITY);
    assert!(numeric(&back, "x").std.is_nan());
    assert_eq!(floats_of(&back)[4..], floats_of(&prof)[4..]);
    assert_eq!(back.to_json().unwrap(), json);
    // plain numbers are still read for these fields, integers too
    let edited = json.replace("\"mean\":\"inf\"", "\"mean\":3");
    assert_eq!(
        numeric(&ReferenceProfile::from_json(&edited).unwrap(), "x").mean,
        3.0
    );
    let bad = json.replace("\"mean\":\"inf\"", "\"mean\":\"infinity\"");
    assert!(matches!(
        ReferenceProfile::from_json(&bad),
        Err(ProfileError::Json(_))
    ));
    // a window still gets drift against such a profile
    let w = WindowCounts::from_columns(&back, &[("x", ColumnData::Float(&[1.0, 2.0]))]).unwrap();
    let d = profile_drift(&back, &w, &raw_opts("x", &[1.0, 2.0])).unwrap();
    assert!(d.features["x"].result.stats.ks.is_some());
}

#[test]
fn invalid_profiles_are_rejected() {
    let prof = num_profile(&[1.0, 2.0, 3.0], &ProfileConfig::default());
    let mut p = prof.clone();
    p.format_version = 2;
    assert!(matches!(
        ReferenceProfile::from_json(&p.to_json().unwrap()),
        Err(ProfileError::UnsupportedFormatVersion {
            found: 2,
            supported: 1
        })
    ));
    let mut p = prof.clone();
    if let Some(FeatureProfile::Numeric(n)) = p.features.get_mut("x") {
        n.counts[0] += 1;
    }
    assert!(matches!(
        p.validate(),
        Err(ProfileError::InvalidProfile { .. })
    ));
    assert!(matches!(
        ReferenceProfile::from_json("{"),
        Err(ProfileError::Json(_))
    ));
    let e = ReferenceProfile::from_columns(
        &[],
        &ProfileConfig {
            bins: 0,
            ..ProfileConfig::default()
        },
    );
    assert!(matches!(e, Err(ProfileError::InvalidConfig(_))));
    prof.validate().unwrap();
}

// ------------------------------------------------- (d) merge, identity

fn two_feature_profile(r: &[f64], s: &[Option<&str>]) -> ReferenceProfile {
    ReferenceProfile::from_columns(
        &[("x", ColumnData::Float(r)), ("s", ColumnData::Str(s))],
        &ProfileConfig {
            max_categories: 3,
            ..ProfileConfig::default()
        },
    )
    .unwrap()
}

const WORDS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

fn window<'p>(p: &'p ReferenceProfile, x: &[f64], s: &[Option<&str>]) -> WindowCounts<'p> {
    WindowCounts::from_columns(p, &[("x", ColumnData::Float(x)), ("s", ColumnData::Str(s))])
        .unwrap()
}

fn words(v: &[Option<u8>]) -> Vec<Option<&'static str>> {
    v.iter()
        .map(|o| o.map(|i| WORDS[i as usize % WORDS.len()]))
        .collect()
}

fn xs() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        prop_oneof![
            -100.0..100.0f64,
            (-5i32..5).prop_map(f64::from),
            Just(f64::NAN),
            Just(f64::INFINITY)
        ],
        0..120,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn merge_is_associative_commutative_and_equals_whole(
        r in sample(),
        rs in prop::collection::vec(prop::option::of(0u8..6), 1..50),
        x in xs(),
        s in prop::collection::vec(prop::option::of(0u8..6), 0..120),
        cut1 in 0usize..=120,
        cut2 in 0usize..=120,
    ) {
        let rs = words(&rs);
        prop_assume!(rs.iter().any(Option::is_some));
        let prof = two_feature_profile(&r, &rs);
        let s = words(&s);
        let (lo, hi) = (cut1.min(cut2), cut1.max(cut2));
        let (xa, xb, xc) = (&x[..lo.min(x.len())], &x[lo.min(x.len())..hi.min(x.len())], &x[hi.min(x.len())..]);
        let (sa, sb, sc) = (&s[..lo.min(s.len())], &s[lo.min(s.len())..hi.min(s.len())], &s[hi.min(s.len())..]);
        let (a, b, c) = (window(&prof, xa, sa), window(&prof, xb, sb), window(&prof, xc, sc));
        let whole = window(&prof, &x, &s);

        let mut ab_c = a.clone();
        ab_c.merge(&b).unwrap();
        ab_c.merge(&c).unwrap();
        let mut bc = b.clone();
        bc.merge(&c).unwrap();
        let mut a_bc = a.clone();
        a_bc.merge(&bc).unwrap();
        prop_assert_eq!(&ab_c, &a_bc);
        prop_assert_eq!(&ab_c, &whole);

        let mut ab = a.clone();
        ab.merge(&b).unwrap();
        let mut ba = b.clone();
        ba.merge(&a).unwrap();
        prop_assert_eq!(&ab, &ba);

        // incremental API = bulk API
        let mut inc = WindowCounts::new(&prof);
        for &v in &x { inc.observe_numeric("x", v).unwrap(); }
        for v in &s { inc.observe_category("s", v.map_or(Value::Null, Value::Str)).unwrap(); }
        prop_assert_eq!(&inc, &whole);
        let fx = whole.feature("x").unwrap();
        prop_assert_eq!(fx.n() + fx.null_count, x.len() as u64);
        let fs = whole.feature("s").unwrap();
        prop_assert_eq!(fs.n() + fs.null_count, s.len() as u64);
    }

    #[test]
    fn identical_reference_and_window_show_no_drift(
        r in sample(),
        rs in prop::collection::vec(0u8..6, 1..80),
    ) {
        let rs = words(&rs.into_iter().map(Some).collect::<Vec<_>>());
        let prof = two_feature_profile(&r, &rs);
        let w = window(&prof, &r, &rs);
        let mut o = raw_opts("x", &r);
        o.default.test = None;
        let d = profile_drift(&prof, &w, &o).unwrap();
        prop_assert!(d.skipped.is_empty(), "{:?}", d.skipped);
        for (name, f) in &d.features {
            let s = &f.result.stats;
            prop_assert_eq!(s.psi, 0.0, "{}", name);
            prop_assert!(s.jensenshannon < 1e-7, "{} js {}", name, s.jensenshannon);
            prop_assert_eq!(s.kl_div, 0.0);
            prop_assert!(s.hellinger < 1e-7);
            prop_assert!(s.chisquare.p_value > 0.999_999);
            prop_assert!(!f.result.drift, "{} {:?}", name, f);
        }
        let x = &d.features["x"].result.stats;
        prop_assert_eq!(x.ks.unwrap().statistic, 0.0);
        prop_assert_eq!(x.wasserstein, Some(0.0));
    }

    #[test]
    fn row_order_does_not_matter(
        r in sample(),
        rs in prop::collection::vec(prop::option::of(0u8..6), 1..80),
        x in xs(),
        rot in 0usize..200,
    ) {
        let rs = words(&rs);
        prop_assume!(rs.iter().any(Option::is_some));
        let rot_r = { let mut v = r.clone(); v.rotate_left(rot % r.len()); v.reverse(); v };
        let rot_s = { let mut v = rs.clone(); v.rotate_left(rot % rs.len()); v.reverse(); v };
        let p1 = two_feature_profile(&r, &rs);
        let p2 = two_feature_profile(&rot_r, &rot_s);
        prop_assert_eq!(p1.to_json().unwrap(), p2.to_json().unwrap());
        let x2: Vec<f64> = x.iter().rev().copied().collect();
        let (w1, w2) = (window(&p1, &x, &[]), window(&p2, &x2, &[]));
        prop_assert_eq!(&w1, &w2);
        let finite: Vec<f64> = x.iter().copied().filter(|v| v.is_finite()).collect();
        prop_assume!(!finite.is_empty());
        let f2: Vec<f64> = finite.iter().rev().copied().collect();
        let d1 = profile_drift(&p1, &w1, &raw_opts("x", &finite)).unwrap();
        let d2 = profile_drift(&p2, &w2, &raw_opts("x", &f2)).unwrap();
        prop_assert_eq!(d1, d2);
    }
}

// ------------------------------------------------------- options, errors

#[test]
fn options_errors_and_fallbacks() {
    let r: Vec<f64> = (0..50).map(f64::from).collect();
    let s = [Some("a"), Some("b"), Some("c")];
    let prof = ReferenceProfile::from_columns(
        &[("x", ColumnData::Float(&r)), ("s", ColumnData::Str(&s))],
        &ProfileConfig::default(),
    )
    .unwrap();
    let mut w = WindowCounts::new(&prof);
    for v in 10..30 {
        w.observe_numeric("x", f64::from(v)).unwrap();
    }
    // no categorical values → skipped; KS default falls back to chi-squared
    let d = profile_drift(&prof, &w, &ProfileDriftOptions::default()).unwrap();
    assert_eq!(d.features["x"].result.test, StatTest::ChiSquare);
    assert!(matches!(
        d.skipped["s"],
        ProfileError::Feature {
            source: DriftError::EmptyInput {
                side: Side::Current
            },
            ..
        }
    ));
    // with raw values the default KS is used
    let raw: Vec<f64> = (10..30).map(f64::from).collect();
    let d = profile_drift(&prof, &w, &raw_opts("x", &raw)).unwrap();
    let x = &d.features["x"].result;
    assert_eq!(x.test, StatTest::Ks);
    assert_eq!(x.score, ks_2samp(&r, &raw).unwrap().p_value);
    // forced test and threshold
    let mut o = ProfileDriftOptions::default();
    o.features.insert(
        "x".into(),
        FeatureDriftOptions {
            test: Some(StatTest::Psi),
            threshold: Some(100.0),
        },
    );
    let d = profile_drift(&prof, &w, &o).unwrap();
    let x = &d.features["x"].result;
    assert_eq!(
        (x.test, x.threshold, x.drift),
        (StatTest::Psi, 100.0, false)
    );
    assert_eq!(x.score, x.stats.psi);
    // forced KS without raw values
    o.features.insert(
        "x".into(),
        FeatureDriftOptions {
            test: Some(StatTest::Ks),
            threshold: None,
        },
    );
    let d = profile_drift(&prof, &w, &o).unwrap();
    assert!(matches!(
        d.skipped["x"],
        ProfileError::RawValuesRequired {
            test: StatTest::Ks,
            ..
        }
    ));
    // whole-call errors
    let mut o = ProfileDriftOptions::default();
    o.default.threshold = Some(f64::NAN);
    assert!(matches!(
        profile_drift(&prof, &w, &o),
        Err(ProfileError::Drift(DriftError::InvalidThreshold(_)))
    ));
    assert!(matches!(
        profile_drift(&prof, &w, &raw_opts("s", &raw)),
        Err(ProfileError::RawValuesForCategorical(_))
    ));
    assert!(matches!(
        profile_drift(&prof, &w, &raw_opts("nope", &raw)),
        Err(ProfileError::UnknownFeature(_))
    ));
    // counts of another profile
    let other = num_profile(&[1.0, 2.0], &ProfileConfig::default());
    let ow = WindowCounts::new(&other);
    assert!(matches!(
        profile_drift(&prof, &ow, &ProfileDriftOptions::default()),
        Err(ProfileError::ProfileMismatch)
    ));
    let before = w.clone();
    assert!(matches!(w.merge(&ow), Err(ProfileError::ProfileMismatch)));
    assert_eq!(w, before);
    // dataset summary
    let d = profile_drift(&prof, &w, &ProfileDriftOptions::default()).unwrap();
    let ds = d.dataset(DEFAULT_DRIFT_SHARE);
    assert_eq!(
        (ds.columns.len(), ds.n_reference, ds.n_current),
        (1, 50, 20)
    );
}

#[test]
fn z_test_from_counts_matches_evidently() {
    let r = [Some(true), Some(false), Some(true), Some(true)];
    let c = [Some(false), Some(false), Some(true)];
    let prof =
        ReferenceProfile::from_columns(&[("b", ColumnData::Bool(&r))], &ProfileConfig::default())
            .unwrap();
    let w = WindowCounts::from_columns(&prof, &[("b", ColumnData::Bool(&c))]).unwrap();
    let d = profile_drift(&prof, &w, &ProfileDriftOptions::default()).unwrap();
    let off = column_drift(
        ColumnData::Bool(&r),
        ColumnData::Bool(&c),
        &ColumnOptions::default(),
    )
    .unwrap();
    let b = &d.features["b"].result;
    assert_eq!(b.test, StatTest::Z);
    assert_eq!(b.stats.z, off.stats.z);
    assert_eq!(b.score, off.score);
    // both constant and equal → p = 1
    let w = WindowCounts::from_columns(&prof, &[("b", ColumnData::Bool(&[Some(true)]))]).unwrap();
    let one = ReferenceProfile::from_columns(
        &[("b", ColumnData::Bool(&[Some(true)]))],
        &ProfileConfig::default(),
    )
    .unwrap();
    let w1 =
        WindowCounts::from_columns(&one, &[("b", ColumnData::Bool(&[Some(true), Some(true)]))])
            .unwrap();
    assert_eq!(
        profile_drift(&one, &w1, &ProfileDriftOptions::default())
            .unwrap()
            .features["b"]
            .result
            .score,
        1.0
    );
    assert!(
        profile_drift(&prof, &w, &ProfileDriftOptions::default())
            .unwrap()
            .features["b"]
            .result
            .score
            < 1.0
    );
}
