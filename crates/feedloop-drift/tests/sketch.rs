//! `NumericSketch` and `column_drift_sketched`: equal to the exact path where
//! the values fit, within the documented bounds beyond, mergeable in any
//! chunking.
//!
//! The bounds are DataSketches' 99 %-confidence rank error *per query*; KS
//! takes a supremum over thousands of points and the bins are several
//! queries, so a single run can exceed the bound with a small probability.
//! The assertions allow twice the bound: the KLL error at one point is close
//! to Gaussian with `ε ≈ 2.58 σ`, so `2ε` is about `5 σ` per point, which
//! the supremum over a KLL sketch's few levels of independent compactions
//! does not reach in practice (and a seed cannot make it reproducible: the
//! sketch's coin is seeded per thread by DataSketches).

use feedloop_drift::*;
use proptest::prelude::*;

/// SplitMix64: seeded, reproducible data.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self, mu: f64, sigma: f64) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        mu + sigma * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

const BATCH: usize = 65_536;

/// A float sketch built as the report builds one: batch by batch, in two
/// halves merged at the end (two files, or two threads).
fn sketch_floats(xs: &[f64], k: u16) -> NumericSketch {
    let (a, b) = xs.split_at(xs.len() / 3);
    let mut left = NumericSketch::new(k).unwrap();
    a.chunks(BATCH).for_each(|c| left.update_slice(c));
    let mut right = NumericSketch::new(k).unwrap();
    b.chunks(BATCH).for_each(|c| right.update_slice(c));
    left.merge(&right).unwrap();
    left
}

fn sketch_ints(xs: &[i64], k: u16) -> NumericSketch {
    let mut s = NumericSketch::integers(k).unwrap();
    xs.chunks(BATCH).for_each(|c| s.update_integers(c));
    s
}

fn exact_floats(r: &[f64], c: &[f64], o: &ColumnOptions) -> ColumnDriftResult {
    column_drift_values(
        ColumnValues::Float(r.to_vec()),
        ColumnValues::Float(c.to_vec()),
        o,
    )
    .unwrap()
}

fn exact_ints(r: &[i64], c: &[i64], o: &ColumnOptions) -> ColumnDriftResult {
    column_drift_values(
        ColumnValues::Int(r.to_vec()),
        ColumnValues::Int(c.to_vec()),
        o,
    )
    .unwrap()
}

/// The estimate is within twice its documented bounds of the exact result
/// (see the file docs for the factor), and agrees on kind, test and bins.
#[track_caller]
fn assert_within_bounds(what: &str, est: &ColumnDriftResult, exact: &ColumnDriftResult) {
    let e = est
        .estimate
        .unwrap_or_else(|| panic!("{what}: no estimate"));
    assert_eq!(exact.estimate, None, "{what}");
    assert_eq!((est.kind, est.test), (exact.kind, exact.test), "{what}");
    assert_eq!(
        (est.n_reference, est.n_current),
        (exact.n_reference, exact.n_current)
    );
    assert!(
        e.rank_error_reference > 0.0 && e.rank_error_current > 0.0,
        "{what}: {e:?}"
    );
    let (ks, ks_exact) = (est.stats.ks.unwrap(), exact.stats.ks.unwrap());
    let d_bound = e.ks_statistic_bound.unwrap();
    assert!(
        (ks.statistic - ks_exact.statistic).abs() <= 2.0 * d_bound,
        "{what}: D {} vs exact {} (bound {d_bound})",
        ks.statistic,
        ks_exact.statistic
    );
    let (w, w_exact) = (
        est.stats.wasserstein.unwrap(),
        exact.stats.wasserstein.unwrap(),
    );
    let w_bound = e.wasserstein_bound.unwrap();
    assert!(
        (w - w_exact).abs() <= 2.0 * w_bound,
        "{what}: W {w} vs exact {w_exact} (bound {w_bound})"
    );
    let (wn, wn_exact) = (
        est.stats.wasserstein_normed.unwrap(),
        exact.stats.wasserstein_normed.unwrap(),
    );
    let wn_bound = e.wasserstein_normed_bound.unwrap();
    assert!(
        (wn - wn_exact).abs() <= 2.0 * wn_bound,
        "{what}: normed W {wn} vs exact {wn_exact} (bound {wn_bound})"
    );
    // Same Sturges edges (exact min, max and n): same bins, shares within 2ε.
    let (bins, bins_exact) = (&est.stats.bins, &exact.stats.bins);
    assert_eq!(bins.reference.len(), bins_exact.reference.len(), "{what}");
    assert!(!e.pooled_bin, "{what}");
    for (side, got, want, n) in [
        (
            "reference",
            &bins.reference,
            &bins_exact.reference,
            est.n_reference,
        ),
        ("current", &bins.current, &bins_exact.current, est.n_current),
    ] {
        assert_eq!(
            got.iter().sum::<u64>(),
            n as u64,
            "{what}: {side} bins add up to n"
        );
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let diff = (*g as f64 - *w as f64).abs() / n as f64;
            assert!(
                diff <= 2.0 * e.bin_share_bound,
                "{what}: {side} bin {i}: {g} vs exact {w} (share off by {diff}, bound {})",
                e.bin_share_bound
            );
        }
    }
}

#[test]
fn estimates_are_within_the_documented_bounds_of_the_exact_statistics() {
    let mut rng = Rng(7);
    let n = 300_000;
    let o = ColumnOptions::default();
    // Normal against a slightly shifted normal (no drift) and a clearly
    // shifted one (drift): the verdicts agree with the exact ones.
    let r: Vec<f64> = (0..n).map(|_| rng.normal(0.0, 1.0)).collect();
    let near: Vec<f64> = (0..n).map(|_| rng.normal(0.02, 1.0)).collect();
    let far: Vec<f64> = (0..n).map(|_| rng.normal(0.5, 1.2)).collect();
    let rs = sketch_floats(&r, DEFAULT_SKETCH_K);
    for (name, c, drift) in [("near", &near, false), ("far", &far, true)] {
        let exact = exact_floats(&r, c, &o);
        let est = column_drift_sketched(&rs, &sketch_floats(c, DEFAULT_SKETCH_K), &o).unwrap();
        assert_within_bounds(name, &est, &exact);
        assert_eq!(est.test, StatTest::Wasserstein);
        assert_eq!((est.drift, exact.drift), (drift, drift), "{name}");
        // Forced KS: the p-value from the true sizes, the same clear verdict.
        let ks = ColumnOptions {
            test: Some(StatTest::Ks),
            ..Default::default()
        };
        let est = column_drift_sketched(&rs, &sketch_floats(c, DEFAULT_SKETCH_K), &ks).unwrap();
        assert_eq!(est.drift, exact_floats(&r, c, &ks).drift, "{name}");
    }

    // Heavy ties: a normal rounded to 0.01 (about 900 distinct values).
    let tie = |x: f64| (x * 100.0).round() / 100.0;
    let r: Vec<f64> = (0..n).map(|_| tie(rng.normal(0.0, 1.0))).collect();
    let c: Vec<f64> = (0..n).map(|_| tie(rng.normal(0.1, 1.0))).collect();
    let est = column_drift_sketched(
        &sketch_floats(&r, DEFAULT_SKETCH_K),
        &sketch_floats(&c, DEFAULT_SKETCH_K),
        &o,
    )
    .unwrap();
    assert_within_bounds("ties", &est, &exact_floats(&r, &c, &o));

    // Uniform against a slightly wider uniform.
    let r: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
    let c: Vec<f64> = (0..n).map(|_| 1.02 * rng.uniform()).collect();
    let est = column_drift_sketched(
        &sketch_floats(&r, DEFAULT_SKETCH_K),
        &sketch_floats(&c, DEFAULT_SKETCH_K),
        &o,
    )
    .unwrap();
    assert_within_bounds("uniform", &est, &exact_floats(&r, &c, &o));

    // A smaller k: larger bounds, still held.
    let est = column_drift_sketched(&sketch_floats(&r, 200), &sketch_floats(&c, 200), &o).unwrap();
    assert_eq!(est.estimate.unwrap().k, 200);
    assert_within_bounds("uniform, k = 200", &est, &exact_floats(&r, &c, &o));
}

#[test]
fn integer_coded_column_with_many_values_at_a_million_rows() {
    let mut rng = Rng(11);
    let n = 1_000_000;
    // Integer codes 0..2000, skewed (the square of a uniform), 1M rows a side.
    let code = |rng: &mut Rng, shift: f64| (rng.uniform().powf(2.0 - shift) * 2000.0) as i64;
    let r: Vec<i64> = (0..n).map(|_| code(&mut rng, 0.0)).collect();
    let c: Vec<i64> = (0..n).map(|_| code(&mut rng, 0.05)).collect();
    let o = ColumnOptions::default();
    let exact = exact_ints(&r, &c, &o);
    let (rs, cs) = (
        sketch_ints(&r, DEFAULT_SKETCH_K),
        sketch_ints(&c, DEFAULT_SKETCH_K),
    );
    assert!(rs.is_integer() && !rs.is_exact());
    let est = column_drift_sketched(&rs, &cs, &o).unwrap();
    assert_eq!(exact.kind, ColumnKind::Numeric);
    assert_within_bounds("integer codes", &est, &exact);
    // The sketch's exact moments agree with numpy's two-pass ones.
    let rf: Vec<f64> = r.iter().map(|&x| x as f64).collect();
    let mean = rf.iter().sum::<f64>() / n as f64;
    assert!((rs.mean().unwrap() - mean).abs() <= 1e-12 * mean.abs());
    let std = std_ddof0(&rf).unwrap();
    assert!((rs.std().unwrap() - std).abs() <= 1e-12 * std);
    assert_eq!(
        (rs.min(), rs.max()),
        (
            Some(*r.iter().min().unwrap() as f64),
            Some(*r.iter().max().unwrap() as f64)
        )
    );
}

#[test]
fn columns_within_the_value_cap_equal_the_exact_path() {
    let mut rng = Rng(3);
    let n = 200_000;
    let pick =
        |rng: &mut Rng, values: &[f64]| values[(rng.next_u64() % values.len() as u64) as usize];
    let o = ColumnOptions::default();
    let check = |what: &str, r: &[f64], c: &[f64], o: &ColumnOptions| {
        let est = column_drift_sketched(&sketch_floats(r, 64), &sketch_floats(c, 64), o).unwrap();
        assert_eq!(est, exact_floats(r, c, o), "{what}");
    };
    // 30 distinct values (Sturges bins), with NaN, ±inf and -0.0 dropped/merged.
    let mut values: Vec<f64> = (0..29).map(|i| i as f64 * 0.37 - 3.0).collect();
    values.extend([-0.0, f64::NAN, f64::INFINITY]);
    let r: Vec<f64> = (0..n).map(|_| pick(&mut rng, &values)).collect();
    let c: Vec<f64> = (0..n).map(|_| pick(&mut rng, &values[3..])).collect();
    check("30 values", &r, &c, &o);
    // 10 values (one bin per value), a forced test and threshold.
    let few = &values[..10];
    let r: Vec<f64> = (0..n).map(|_| pick(&mut rng, few)).collect();
    let c: Vec<f64> = (0..n).map(|_| pick(&mut rng, &few[2..])).collect();
    check("10 values", &r, &c, &o);
    let forced = ColumnOptions {
        test: Some(StatTest::Psi),
        threshold: Some(0.2),
        ..Default::default()
    };
    check("10 values, psi", &r, &c, &forced);
    let cat = ColumnOptions {
        kind: Some(ColumnKind::Categorical),
        ..Default::default()
    };
    check("10 values as categories", &r, &c, &cat);
    // Two values: the Z-test.
    let r: Vec<f64> = (0..n).map(|_| pick(&mut rng, &[0.0, 1.0])).collect();
    let c: Vec<f64> = (0..n).map(|_| pick(&mut rng, &[0.0, 1.0, 1.0])).collect();
    check("two values", &r, &c, &o);

    // Integers: categorical (≤ 10 current values), and numeric (more).
    let ints = |rng: &mut Rng, m: u64| -> Vec<i64> {
        (0..n).map(|_| (rng.next_u64() % m) as i64 - 3).collect()
    };
    let (r, c) = (ints(&mut rng, 8), ints(&mut rng, 9));
    let est = column_drift_sketched(&sketch_ints(&r, 64), &sketch_ints(&c, 64), &o).unwrap();
    assert_eq!(est, exact_ints(&r, &c, &o));
    assert_eq!(est.kind, ColumnKind::Categorical);
    let (r, c) = (ints(&mut rng, 40), ints(&mut rng, 60));
    let est = column_drift_sketched(&sketch_ints(&r, 64), &sketch_ints(&c, 64), &o).unwrap();
    assert_eq!(est, exact_ints(&r, &c, &o));
    assert_eq!(est.kind, ColumnKind::Numeric);

    // Beyond the cap but few rows: a KLL sketch that has not compacted holds
    // every value, so the result is exact too.
    let r: Vec<f64> = (0..700).map(|_| rng.normal(0.0, 1.0)).collect();
    let c: Vec<f64> = (0..500).map(|_| rng.normal(0.3, 1.0)).collect();
    let (rs, cs) = (
        sketch_floats(&r, DEFAULT_SKETCH_K),
        sketch_floats(&c, DEFAULT_SKETCH_K),
    );
    assert!(rs.is_exact() && rs.distinct_values().is_none());
    let est = column_drift_sketched(&rs, &cs, &o).unwrap();
    assert_eq!(est, exact_floats(&r, &c, &o));
    assert_eq!(est.test, StatTest::Ks);
}

#[test]
fn one_side_beyond_the_cap_pools_the_other_sides_new_values() {
    let mut rng = Rng(5);
    let n = 200_000;
    let o = ColumnOptions::default();
    // The reference has 2000 integer codes, the current only 4: categorical
    // (Evidently asks the current data), one pooled bin for the reference
    // codes the current never has.
    let r: Vec<i64> = (0..n).map(|_| (rng.next_u64() % 2000) as i64).collect();
    let c: Vec<i64> = (0..n).map(|_| (rng.next_u64() % 4) as i64).collect();
    let exact = exact_ints(&r, &c, &o);
    let est = column_drift_sketched(
        &sketch_ints(&r, DEFAULT_SKETCH_K),
        &sketch_ints(&c, DEFAULT_SKETCH_K),
        &o,
    )
    .unwrap();
    let e = est.estimate.unwrap();
    assert!(e.pooled_bin && e.ks_statistic_bound.is_none(), "{e:?}");
    assert_eq!(e.rank_error_current, 0.0);
    assert_eq!((est.kind, est.test), (exact.kind, exact.test));
    assert_eq!(
        (est.kind, est.test),
        (ColumnKind::Categorical, StatTest::JensenShannon)
    );
    assert!(est.drift && exact.drift);
    // Pooling does not change the Jensen–Shannon distance: only the
    // estimated reference mass at the four current codes does.
    assert!(
        (est.stats.jensenshannon - exact.stats.jensenshannon).abs() < 0.02,
        "{} vs {}",
        est.stats.jensenshannon,
        exact.stats.jensenshannon
    );
    assert_eq!(est.stats.bins.reference.len(), 5);

    // A reference with 12 values against a current beyond the cap: per-value
    // bins of the reference, and a pooled bin for the rest of the current.
    let r: Vec<f64> = (0..n).map(|_| (rng.next_u64() % 12) as f64).collect();
    let c: Vec<f64> = (0..n).map(|_| rng.normal(20.0, 3.0)).collect();
    let est = column_drift_sketched(
        &sketch_floats(&r, DEFAULT_SKETCH_K),
        &sketch_floats(&c, DEFAULT_SKETCH_K),
        &o,
    )
    .unwrap();
    let exact = exact_floats(&r, &c, &o);
    assert!(est.estimate.unwrap().pooled_bin);
    assert_eq!(est.stats.bins.reference.len(), 13);
    assert_eq!((est.test, est.drift), (exact.test, exact.drift));
    assert!(est.drift);

    // Both sides beyond the cap cannot be compared as categories.
    let cat = ColumnOptions {
        kind: Some(ColumnKind::Categorical),
        ..Default::default()
    };
    let big = sketch_floats(&c, DEFAULT_SKETCH_K);
    assert_eq!(
        column_drift_sketched(&big, &big, &cat).unwrap_err(),
        DriftError::CategoriesNotKept {
            cap: EXACT_VALUES_CAP
        }
    );
}

#[test]
fn errors_name_the_side_and_the_type() {
    let empty = NumericSketch::new(64).unwrap();
    let mut one = NumericSketch::new(64).unwrap();
    one.update_slice(&[1.0, f64::NAN]);
    assert_eq!(one.dropped(), 1);
    let o = ColumnOptions::default();
    assert_eq!(
        column_drift_sketched(&empty, &one, &o).unwrap_err(),
        DriftError::EmptyInput {
            side: Side::Reference
        }
    );
    assert_eq!(
        column_drift_sketched(&one, &empty, &o).unwrap_err(),
        DriftError::EmptyInput {
            side: Side::Current
        }
    );
    let mut ints = NumericSketch::integers(64).unwrap();
    ints.update_integers(&[1, 2]);
    assert_eq!(
        column_drift_sketched(&ints, &one, &o).unwrap_err(),
        DriftError::TypeMismatch {
            reference: "integer",
            current: "float"
        }
    );
    // Merging a float sketch makes an integer sketch a float sketch.
    ints.merge(&one).unwrap();
    assert!(!ints.is_integer());
    assert_eq!(ints.float_counts(), Some(&[(1.0, 2), (2.0, 1)][..]));
    assert_eq!(
        NumericSketch::new(3).unwrap_err(),
        DriftError::InvalidSketchSize { k: 3 }
    );
    let bad = ColumnOptions {
        threshold: Some(f64::NAN),
        ..Default::default()
    };
    assert!(matches!(
        column_drift_sketched(&one, &one, &bad),
        Err(DriftError::InvalidThreshold(_))
    ));
}

fn sample() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        prop_oneof![
            3 => -100.0..100.0f64,
            1 => (-5i32..5).prop_map(f64::from),
            1 => Just(f64::NAN),
        ],
        1..3000,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Chunked and merged equals sketched at once: the same n, range, mean,
    /// value table; KS against the exact D within the bound.
    #[test]
    fn chunked_and_merged_sketches_agree(
        a in sample(),
        b in sample(),
        cuts in prop::collection::vec(0usize..3000, 0..8),
        k in 8u16..64,
    ) {
        let mut whole = NumericSketch::new(k).unwrap();
        whole.update_slice(&a);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (a.len() + 1)).collect();
        cuts.push(0);
        cuts.push(a.len());
        cuts.sort_unstable();
        // Chunks sketched apart, merged in reverse order.
        let mut merged = NumericSketch::new(k).unwrap();
        for w in cuts.windows(2).rev() {
            let mut part = NumericSketch::new(k).unwrap();
            part.update_slice(&a[w[0]..w[1]]);
            merged.merge(&part).unwrap();
        }
        prop_assert_eq!((merged.n(), merged.dropped()), (whole.n(), whole.dropped()));
        prop_assert_eq!((merged.min(), merged.max()), (whole.min(), whole.max()));
        prop_assert_eq!(merged.float_counts(), whole.float_counts());
        prop_assert_eq!(merged.distinct_values(), whole.distinct_values());
        if let (Some(m), Some(w)) = (merged.mean(), whole.mean()) {
            // Relative to the data's scale: a mean or std near 0 is a
            // difference of large terms, fixed only to their rounding.
            let scale = whole.min().unwrap().abs().max(whole.max().unwrap().abs());
            prop_assert!((m - w).abs() <= 1e-9 * scale, "{} vs {}", m, w);
            let (ms, ws) = (merged.std().unwrap(), whole.std().unwrap());
            prop_assert!((ms - ws).abs() <= 1e-9 * scale, "{} vs {}", ms, ws);
        }
        let mut other = NumericSketch::new(k).unwrap();
        other.update_slice(&b);
        let fa: Vec<f64> = a.iter().copied().filter(|x| x.is_finite()).collect();
        let fb: Vec<f64> = b.iter().copied().filter(|x| x.is_finite()).collect();
        let o = ColumnOptions::default();
        match column_drift_values(ColumnValues::Float(fa), ColumnValues::Float(fb), &o) {
            Ok(exact) => {
                let est = column_drift_sketched(&merged, &other, &o).unwrap();
                match est.estimate {
                    None => prop_assert_eq!(&est, &exact),
                    Some(e) => {
                        let d = est.stats.ks.unwrap().statistic;
                        let d_exact = exact.stats.ks.unwrap().statistic;
                        let bound = e.ks_statistic_bound.unwrap();
                        prop_assert!((d - d_exact).abs() <= 2.0 * bound, "D {} vs {} (bound {})", d, d_exact, bound);
                    }
                }
            }
            Err(e) => prop_assert_eq!(column_drift_sketched(&merged, &other, &o).unwrap_err(), e),
        }
    }
}
