//! Property tests (identity, symmetry, order invariance) and error cases.

use feedloop_drift::*;
use proptest::prelude::*;

fn sample() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        prop_oneof![-100.0..100.0f64, (-5i32..5).prop_map(f64::from)],
        1..60,
    )
}

fn reversed(v: &[f64]) -> Vec<f64> {
    v.iter().rev().copied().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn identical_samples_show_no_drift(a in sample()) {
        let ks = ks_2samp(&a, &a).unwrap();
        prop_assert_eq!(ks.statistic, 0.0);
        prop_assert_eq!(ks.p_value, 1.0);
        prop_assert_eq!(wasserstein_distance(&a, &a).unwrap(), 0.0);
        let bins = bin_numeric(&a, &a).unwrap();
        let (r, c) = bins.proportions();
        prop_assert!(psi(&fill_zeroes(&r), &fill_zeroes(&c)).unwrap().abs() < 1e-12);
        prop_assert!(jensenshannon(&r, &c).unwrap() < 1e-7);
        prop_assert!(hellinger(&r, &c).unwrap() < 1e-7);
        prop_assert!(chisquare_counts(&bins).unwrap().p_value > 0.999_999);
        let col = column_drift(ColumnData::Float(&a), ColumnData::Float(&a), &ColumnOptions::default()).unwrap();
        prop_assert!(!col.drift, "{:?}", col);
    }

    #[test]
    fn symmetric_statistics(a in sample(), b in sample()) {
        let d1 = ks_2samp(&a, &b).unwrap();
        let d2 = ks_2samp(&b, &a).unwrap();
        prop_assert_eq!(d1.statistic, d2.statistic);
        prop_assert!((d1.p_value - d2.p_value).abs() <= 1e-12);
        let w1 = wasserstein_distance(&a, &b).unwrap();
        let w2 = wasserstein_distance(&b, &a).unwrap();
        prop_assert!((w1 - w2).abs() <= 1e-9 * w1.abs().max(1.0));
        let bins = bin_numeric(&a, &b).unwrap();
        let (r, c) = bins.proportions();
        prop_assert!((jensenshannon(&r, &c).unwrap() - jensenshannon(&c, &r).unwrap()).abs() < 1e-12);
        prop_assert!((hellinger(&r, &c).unwrap() - hellinger(&c, &r).unwrap()).abs() < 1e-12);
        prop_assert!((hellinger_numeric(&a, &b).unwrap() - hellinger_numeric(&b, &a).unwrap()).abs() < 1e-12);
    }

    #[test]
    fn row_order_does_not_matter(a in sample(), b in sample()) {
        let ra = reversed(&a);
        let rb = reversed(&b);
        let x = column_drift(ColumnData::Float(&a), ColumnData::Float(&b), &ColumnOptions::default()).unwrap();
        let y = column_drift(ColumnData::Float(&ra), ColumnData::Float(&rb), &ColumnOptions::default()).unwrap();
        prop_assert_eq!(x.test, y.test);
        prop_assert_eq!(x.drift, y.drift);
        prop_assert_eq!(&x.stats.bins, &y.stats.bins);
        prop_assert_eq!(x.stats.ks, y.stats.ks);
        let (wx, wy) = (x.stats.wasserstein.unwrap(), y.stats.wasserstein.unwrap());
        prop_assert!((wx - wy).abs() <= 1e-12 * wx.abs().max(1.0));
        prop_assert!((x.stats.psi - y.stats.psi).abs() <= 1e-12 * x.stats.psi.abs().max(1.0));
    }

    #[test]
    fn categorical_identity_and_symmetry(a in prop::collection::vec(0u8..4, 1..80), b in prop::collection::vec(0u8..4, 1..80)) {
        let names = ["a", "b", "c", "d"];
        let sa: Vec<Option<&str>> = a.iter().map(|&i| Some(names[i as usize])).collect();
        let sb: Vec<Option<&str>> = b.iter().map(|&i| Some(names[i as usize])).collect();
        let same = column_drift(ColumnData::Str(&sa), ColumnData::Str(&sa), &ColumnOptions::default()).unwrap();
        prop_assert!(!same.drift);
        prop_assert!(same.stats.jensenshannon < 1e-7);
        let x = column_drift(ColumnData::Str(&sa), ColumnData::Str(&sb), &ColumnOptions::default()).unwrap();
        let y = column_drift(ColumnData::Str(&sb), ColumnData::Str(&sa), &ColumnOptions::default()).unwrap();
        prop_assert!((x.stats.jensenshannon - y.stats.jensenshannon).abs() < 1e-12);
        prop_assert!((x.stats.hellinger - y.stats.hellinger).abs() < 1e-12);
    }
}

#[test]
fn empty_after_dropping_nulls_is_an_error() {
    let r = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    let c = [1.0, 2.0];
    let e = column_drift(
        ColumnData::Float(&r),
        ColumnData::Float(&c),
        &ColumnOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        DriftError::EmptyInput {
            side: Side::Reference
        }
    );
    assert!(e.to_string().contains("reference sample is empty"));
    let s: [Option<&str>; 1] = [None];
    let e = column_drift(
        ColumnData::Str(&[Some("a")]),
        ColumnData::Str(&s),
        &ColumnOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        DriftError::EmptyInput {
            side: Side::Current
        }
    );
    assert!(matches!(
        ks_2samp(&[], &[1.0]),
        Err(DriftError::EmptyInput {
            side: Side::Reference
        })
    ));
}

#[test]
fn low_level_functions_reject_non_finite() {
    assert_eq!(
        ks_2samp(&[1.0], &[f64::NAN]).unwrap_err(),
        DriftError::NonFinite {
            side: Side::Current
        }
    );
    assert!(wasserstein_distance(&[f64::INFINITY], &[1.0]).is_err());
    assert!(matches!(
        psi(&[0.5, 0.5], &[1.0]),
        Err(DriftError::LengthMismatch { left: 2, right: 1 })
    ));
    assert!(matches!(
        jensenshannon(&[0.0], &[0.0]),
        Err(DriftError::InvalidDistribution(_))
    ));
}

#[test]
fn forced_numeric_test_on_categorical_is_an_error() {
    let a = [Some("x"), Some("y")];
    for test in [StatTest::Ks, StatTest::Wasserstein] {
        let opts = ColumnOptions {
            test: Some(test),
            ..Default::default()
        };
        let e = column_drift(ColumnData::Str(&a), ColumnData::Str(&a), &opts).unwrap_err();
        assert_eq!(e, DriftError::NumericTestOnCategorical { test });
        assert!(e.to_string().contains("only applies to numeric"));
    }
    let opts = ColumnOptions {
        kind: Some(ColumnKind::Numeric),
        ..Default::default()
    };
    assert!(matches!(
        column_drift(ColumnData::Str(&a), ColumnData::Str(&a), &opts),
        Err(DriftError::NotNumeric { .. })
    ));
    let e = column_drift(
        ColumnData::Float(&[1.0]),
        ColumnData::Str(&a),
        &ColumnOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(
        e,
        DriftError::TypeMismatch {
            reference: "float",
            current: "string"
        }
    ));
    let opts = ColumnOptions {
        threshold: Some(f64::NAN),
        ..Default::default()
    };
    assert!(matches!(
        column_drift(ColumnData::Float(&[1.0]), ColumnData::Float(&[1.0]), &opts),
        Err(DriftError::InvalidThreshold(_))
    ));
}

#[test]
fn overrides_are_honoured() {
    let r: Vec<f64> = (0..200).map(|i| f64::from(i) / 10.0).collect();
    let c: Vec<f64> = (0..200).map(|i| f64::from(i) / 10.0 + 3.0).collect();
    let default = column_drift(
        ColumnData::Float(&r),
        ColumnData::Float(&c),
        &ColumnOptions::default(),
    )
    .unwrap();
    assert_eq!(default.test, StatTest::Ks);
    assert!(default.drift);
    let opts = ColumnOptions {
        test: Some(StatTest::Psi),
        threshold: Some(1e6),
        kind: None,
    };
    let o = column_drift(ColumnData::Float(&r), ColumnData::Float(&c), &opts).unwrap();
    assert_eq!(o.test, StatTest::Psi);
    assert_eq!(o.score, o.stats.psi);
    assert!(!o.drift);
    assert_eq!(o.threshold, 1e6);
}

#[test]
fn default_selection_and_dataset_share() {
    assert_eq!(default_test(ColumnKind::Numeric, 1000, 6), StatTest::Ks);
    assert_eq!(
        default_test(ColumnKind::Numeric, 1000, 5),
        StatTest::ChiSquare
    );
    assert_eq!(default_test(ColumnKind::Numeric, 1000, 2), StatTest::Z);
    assert_eq!(
        default_test(ColumnKind::Categorical, 10, 3),
        StatTest::ChiSquare
    );
    assert_eq!(default_test(ColumnKind::Categorical, 10, 2), StatTest::Z);
    assert_eq!(
        default_test(ColumnKind::Numeric, 1001, 6),
        StatTest::Wasserstein
    );
    assert_eq!(
        default_test(ColumnKind::Numeric, 1001, 5),
        StatTest::JensenShannon
    );
    assert_eq!(
        default_test(ColumnKind::Categorical, 1001, 50),
        StatTest::JensenShannon
    );

    let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
    let b = [101.0, 102.0, 103.0, 104.0, 105.0, 106.0, 107.0];
    let drifted = column_drift(
        ColumnData::Float(&a),
        ColumnData::Float(&b),
        &ColumnOptions::default(),
    )
    .unwrap();
    let stable = column_drift(
        ColumnData::Float(&a),
        ColumnData::Float(&a),
        &ColumnOptions::default(),
    )
    .unwrap();
    assert!(drifted.drift && !stable.drift);
    let mut cols = std::collections::BTreeMap::new();
    cols.insert("x".to_string(), drifted.clone());
    cols.insert("y".to_string(), stable.clone());
    let d = dataset_drift(cols.clone(), 7, 7, DEFAULT_DRIFT_SHARE);
    assert!(d.dataset_drift);
    assert_eq!(d.share_drifted, 0.5);
    cols.insert("z".to_string(), stable);
    let d = dataset_drift(cols, 7, 7, DEFAULT_DRIFT_SHARE);
    assert!(!d.dataset_drift);
    assert_eq!(d.n_drifted, 1);
    assert!(!dataset_drift(Default::default(), 0, 0, 0.5).dataset_drift);
}

#[test]
fn int_kind_inference_uses_current_distinct_count() {
    let r: Vec<Option<i64>> = (0..100).map(Some).collect();
    let few: Vec<Option<i64>> = (0..100).map(|i| Some(i % 10)).collect();
    let many: Vec<Option<i64>> = (0..100).map(|i| Some(i % 11)).collect();
    let a = column_drift(
        ColumnData::Int(&r),
        ColumnData::Int(&few),
        &ColumnOptions::default(),
    )
    .unwrap();
    assert_eq!(a.kind, ColumnKind::Categorical);
    let b = column_drift(
        ColumnData::Int(&r),
        ColumnData::Int(&many),
        &ColumnOptions::default(),
    )
    .unwrap();
    assert_eq!(b.kind, ColumnKind::Numeric);
}

fn with_specials() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        prop_oneof![
            8 => -100.0..100.0f64,
            4 => (-5i32..5).prop_map(f64::from),
            1 => Just(-0.0),
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
        ],
        1..80,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The counted forms (`ColumnValues`: integers and floats owned and
    /// sorted in place, booleans and strings as counts) give exactly what
    /// the per-row slices give.
    #[test]
    fn counted_inputs_equal_per_row_inputs(
        a in with_specials(), b in with_specials(),
        s1 in prop::collection::vec(prop::option::of(0u8..6), 1..60),
        s2 in prop::collection::vec(prop::option::of(0u8..6), 1..60),
    ) {
        let opts = ColumnOptions::default();
        let rows = column_drift(ColumnData::Float(&a), ColumnData::Float(&b), &opts);
        let owned = column_drift_values(ColumnValues::Float(a.clone()), ColumnValues::Float(b.clone()), &opts);
        prop_assert_eq!(format!("{rows:?}"), format!("{owned:?}"));

        let names = ["a", "b", "c", "d", "e", "f"];
        let strs = |v: &[Option<u8>]| -> Vec<Option<&str>> { v.iter().map(|x| x.map(|i| names[i as usize])).collect() };
        let (r, c) = (strs(&s1), strs(&s2));
        let counts = |v: &[Option<&'static str>]| -> Vec<(&'static str, u64)> { v.iter().flatten().map(|s| (*s, 1)).collect() };
        let rows = column_drift(ColumnData::Str(&r), ColumnData::Str(&c), &opts);
        let owned = column_drift_values(ColumnValues::Str(counts(&r)), ColumnValues::Str(counts(&c)), &opts);
        prop_assert_eq!(format!("{rows:?}"), format!("{owned:?}"));

        let ints = |v: &[Option<u8>]| -> Vec<Option<i64>> { v.iter().map(|x| x.map(i64::from)).collect() };
        let (ri, ci) = (ints(&s1), ints(&s2));
        let rows = column_drift(ColumnData::Int(&ri), ColumnData::Int(&ci), &opts);
        let owned = column_drift_values(
            ColumnValues::Int(ri.iter().flatten().copied().collect()),
            ColumnValues::Int(ci.iter().flatten().copied().collect()),
            &opts,
        );
        prop_assert_eq!(format!("{rows:?}"), format!("{owned:?}"));
    }

    /// Counting a window's sorted values on the frozen bins equals counting
    /// them one by one, for numeric and integer-coded profiles.
    #[test]
    fn sorted_window_counts_equal_per_value_counts(reference in with_specials(), window in with_specials()) {
        use feedloop_drift::profile::{ProfileConfig, ReferenceProfile, SortedValues, Value, WindowCounts};
        let config = ProfileConfig::default();
        let float_ref: Vec<f64> = reference.clone();
        let int_ref: Vec<Option<i64>> = reference.iter().filter(|x| x.is_finite()).map(|x| Some(x.round() as i64 % 4)).collect();
        prop_assume!(float_ref.iter().any(|x| x.is_finite()) && !int_ref.is_empty());
        let profile = ReferenceProfile::from_columns(
            &[("x", ColumnData::Float(&float_ref)), ("k", ColumnData::Int(&int_ref))],
            &config,
        ).unwrap();
        let int_window: Vec<f64> = window.iter().map(|x| if x.is_finite() { x.round() % 4.0 } else { *x }).collect();
        let mut one_by_one = WindowCounts::new(&profile);
        for &x in &window {
            one_by_one.observe("x", Value::Float(x)).unwrap();
        }
        for &x in &int_window {
            let v = if x.is_finite() && x.fract() == 0.0 { Value::Int(x as i64) } else { Value::Float(x) };
            let _ = one_by_one.observe("k", v);
        }
        let mut sorted = WindowCounts::new(&profile);
        sorted.add_sorted("x", &SortedValues::new(window.clone())).unwrap();
        let _ = sorted.add_sorted("k", &SortedValues::new(int_window));
        prop_assert_eq!(one_by_one.features(), sorted.features());
    }
}
