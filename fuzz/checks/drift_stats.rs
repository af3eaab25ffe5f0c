// Invariants of the drift statistics behind the SQL aggregates `ks_2samp`,
// `wasserstein`, `wasserstein_normed`, `psi`, `jensenshannon` and `chisquare`
// (crates/feedloop-analytics/src/sql_functions.rs), shared (via `include!`) by
// the fuzz target `fuzz/fuzz_targets/drift_stats.rs` and the regression test
// `crates/feedloop-drift/tests/fuzz_regressions.rs`. No inner attributes or
// `//!` comments, so it can be included anywhere.
//
// Input: text, so regressions can be written by hand. Tokens are separated by
// whitespace or commas; the first `|` separates the reference sample from the
// current one (without `|`, the first half of the tokens is the reference).
// A token `x*n` stands for `n` copies of `x` (at most `MAX_SIDE` values per
// side). The numeric samples are the tokens that parse as `f64` (`nan`, `inf`,
// `-0`, `1e308`, … included); the categorical samples are all tokens as strings.
//
// Checked, never panicking:
// * the SQL path: finite values only, sorted, as the accumulators do; on two
//   non-empty samples every statistic is `Ok` and in range (KS statistic and
//   p-value in [0, 1], Wasserstein ≥ 0 and at most the pooled range (+inf or
//   NaN, as in scipy, only when that range overflows f64), PSI ≥ 0,
//   Jensen–Shannon in [0, √ln 2], χ² ≥ 0 with p in [0, 1]); the bins count every
//   value once; KS is symmetric and 0 between a sample and itself, and so is
//   Wasserstein (checked on samples of up to 4096 values);
// * the categorical path (strings binned by value) likewise;
// * the low-level functions on the raw samples (NaN, ±inf, empty): `Err` exactly
//   when a sample is empty or holds a non-finite value, else the same ranges;
//   the binned divergences on the raw values read as proportions: `Err` unless
//   aligned, non-empty, finite, non-negative and not all zero, else in range;
//   `histogram_counts` with the current sample as (arbitrary) edges: one count
//   per bin, never more counts than values.

use feedloop_drift as drift;

/// Largest sample per side an input can expand to (above `KS_MAX_AUTO_N`, so
/// the asymptotic KS branch is reachable).
pub const MAX_SIDE: usize = 12_000;

/// √ln 2, the largest Jensen–Shannon distance (natural log).
const JS_MAX: f64 = 0.832_554_611_157_697_8;

/// The two samples an input describes.
#[derive(Debug, Default)]
pub struct Samples<'a> {
    pub reference: Vec<f64>,
    pub current: Vec<f64>,
    pub reference_categories: Vec<&'a str>,
    pub current_categories: Vec<&'a str>,
}

fn expand<'a>(tokens: &[&'a str], numbers: &mut Vec<f64>, categories: &mut Vec<&'a str>) {
    for &tok in tokens {
        let (value, copies) = match tok.rsplit_once('*') {
            Some((v, n)) => match n.parse::<usize>() {
                Ok(n) => (v, n),
                Err(_) => (tok, 1),
            },
            None => (tok, 1),
        };
        let copies = copies.min(MAX_SIDE - categories.len());
        let parsed = value.parse::<f64>().ok();
        categories.extend(std::iter::repeat_n(value, copies));
        if let Some(x) = parsed {
            numbers.extend(std::iter::repeat_n(x, copies));
        }
        if categories.len() >= MAX_SIDE {
            break;
        }
    }
}

/// Parses an input (see the top of this file).
pub fn parse_samples(text: &str) -> Samples<'_> {
    fn split(s: &str) -> Vec<&str> {
        s.split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .collect()
    }
    let (r, c) = match text.split_once('|') {
        Some((r, c)) => (split(r), split(c)),
        None => {
            let mut all = split(text);
            let c = all.split_off(all.len() / 2);
            (all, c)
        }
    };
    let mut s = Samples::default();
    expand(&r, &mut s.reference, &mut s.reference_categories);
    expand(&c, &mut s.current, &mut s.current_categories);
    s
}

/// Checks every invariant for one input; panics (with the reason) when one breaks.
pub fn check_drift(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let s = parse_samples(&text);
    check_raw(&s.reference, &s.current);
    // What the SQL accumulators hand to the statistics: finite values, sorted.
    let clean = |x: &[f64]| {
        let mut v: Vec<f64> = x.iter().copied().filter(|v| v.is_finite()).collect();
        v.sort_unstable_by(f64::total_cmp);
        v
    };
    let (r, c) = (clean(&s.reference), clean(&s.current));
    if !r.is_empty() && !c.is_empty() {
        check_numeric_sql(&r, &c);
    }
    if !s.reference_categories.is_empty() && !s.current_categories.is_empty() {
        let bins = drift::bin_by_value(&s.reference_categories, &s.current_categories)
            .unwrap_or_else(|e| panic!("bin_by_value: {e}"));
        check_bins(
            "categorical",
            &bins,
            s.reference_categories.len(),
            s.current_categories.len(),
        );
    } else {
        assert!(drift::bin_by_value(&s.reference_categories, &s.current_categories).is_err());
    }
}

fn in_range(x: f64, lo: f64, hi: f64) -> bool {
    (lo..=hi).contains(&x)
}

/// max − min of the two samples (infinite when it overflows; NaN if a value is).
fn pooled_range(a: &[f64], b: &[f64]) -> f64 {
    let all = || a.iter().chain(b).copied();
    all().fold(f64::NEG_INFINITY, f64::max) - all().fold(f64::INFINITY, f64::min)
}

/// A normed Wasserstein distance: divided by max(std, 0.001), it may overflow
/// to +inf; NaN only when the pooled range overflows.
fn check_wasserstein_normed(w: f64, range: f64) {
    assert!(
        w >= 0.0 || (w.is_nan() && range.is_infinite()),
        "wasserstein_normed = {w} (pooled range {range})"
    );
}

/// A Wasserstein distance: finite and ≥ 0; +inf or NaN (as scipy: NaN where a
/// zero weight meets the infinite gap) only when the pooled range overflows.
fn check_wasserstein(w: f64, range: f64) {
    assert!(
        (w.is_finite() && w >= 0.0) || (range.is_infinite() && (w == f64::INFINITY || w.is_nan())),
        "wasserstein = {w} (pooled range {range})"
    );
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// The statistics the numeric SQL aggregates compute, on clean non-empty samples.
fn check_numeric_sql(r: &[f64], c: &[f64]) {
    let ks = drift::ks_2samp(r, c).unwrap_or_else(|e| panic!("ks_2samp: {e}"));
    assert!(in_range(ks.statistic, 0.0, 1.0), "ks statistic {ks:?}");
    assert!(in_range(ks.p_value, 0.0, 1.0), "ks p-value {ks:?}");
    let back = drift::ks_2samp(c, r).unwrap_or_else(|e| panic!("ks_2samp: {e}"));
    assert!(
        same(ks.statistic, back.statistic) && same(ks.p_value, back.p_value),
        "ks_2samp is not symmetric: {ks:?} vs {back:?}"
    );
    let own = drift::ks_2samp(r, r).unwrap_or_else(|e| panic!("ks_2samp: {e}"));
    assert!(
        own.statistic == 0.0 && own.p_value == 1.0,
        "ks_2samp(x, x) = {own:?}"
    );

    // Wasserstein sums |F_r − F_c| · (gap between pooled values); like scipy, it
    // is NaN when a gap overflows f64 (a pooled range above f64::MAX).
    let range = pooled_range(r, c);
    let w = drift::wasserstein_distance(r, c).unwrap_or_else(|e| panic!("wasserstein: {e}"));
    check_wasserstein(w, range);
    if range.is_finite() {
        assert!(
            w <= range * (1.0 + 1e-9),
            "wasserstein {w} above the pooled range {range}"
        );
    }
    // Symmetry and W(x, x) = 0 on small samples only (they cost two more passes).
    if r.len() + c.len() <= 4096 {
        let wb = drift::wasserstein_distance(c, r).unwrap_or_else(|e| panic!("wasserstein: {e}"));
        assert!(same(w, wb), "wasserstein is not symmetric: {w} vs {wb}");
        let w0 = drift::wasserstein_distance(r, r).unwrap_or_else(|e| panic!("wasserstein: {e}"));
        assert!(
            w0 == 0.0 || (w0.is_nan() && pooled_range(r, r).is_infinite()),
            "wasserstein(x, x) = {w0}"
        );
    }
    let wn = drift::wasserstein_normed(r, c).unwrap_or_else(|e| panic!("wasserstein_normed: {e}"));
    check_wasserstein_normed(wn, range);

    let bins = drift::bin_numeric(r, c).unwrap_or_else(|e| panic!("bin_numeric: {e}"));
    check_bins("numeric", &bins, r.len(), c.len());
}

/// PSI, Jensen–Shannon and χ² on bins, as `sql_functions::binned` computes them.
fn check_bins(what: &str, bins: &drift::BinnedCounts, nr: usize, nc: usize) {
    assert_eq!(
        bins.reference.len(),
        bins.current.len(),
        "{what}: bins not aligned"
    );
    assert!(!bins.reference.is_empty(), "{what}: no bins");
    let sr: u64 = bins.reference.iter().sum();
    let sc: u64 = bins.current.iter().sum();
    assert_eq!(
        (sr, sc),
        (nr as u64, nc as u64),
        "{what}: the bins do not count every value once"
    );
    let (rp, cp) = bins.proportions();
    let psi = drift::psi(&drift::fill_zeroes(&rp), &drift::fill_zeroes(&cp))
        .unwrap_or_else(|e| panic!("{what}: psi: {e}"));
    assert!(psi.is_finite() && psi >= 0.0, "{what}: psi = {psi}");
    let js =
        drift::jensenshannon(&rp, &cp).unwrap_or_else(|e| panic!("{what}: jensenshannon: {e}"));
    assert!(in_range(js, 0.0, JS_MAX), "{what}: jensenshannon = {js}");
    let chi = drift::chisquare_counts(bins).unwrap_or_else(|e| panic!("{what}: chisquare: {e}"));
    assert!(chi.statistic >= 0.0, "{what}: chisquare {chi:?}");
    assert!(in_range(chi.p_value, 0.0, 1.0), "{what}: chisquare {chi:?}");
}

/// The low-level functions on unfiltered samples.
fn check_raw(a: &[f64], b: &[f64]) {
    let usable = |x: &[f64]| !x.is_empty() && x.iter().all(|v| v.is_finite());
    let ok = usable(a) && usable(b);
    // Large clean samples are checked (sorted) on the SQL path already: skip a
    // second slow exact KS on them.
    if !ok || a.len() + b.len() <= 1024 {
        check_raw_samples(a, b, ok);
    }

    // `b` read as histogram edges (any order, NaN included): one count per bin,
    // each value counted at most once.
    let counts = drift::histogram_counts(a, b);
    assert_eq!(
        counts.len(),
        b.len().saturating_sub(1),
        "histogram_counts bins"
    );
    assert!(
        counts.iter().sum::<u64>() <= a.len() as u64,
        "histogram_counts total"
    );

    // The same values read as (unnormalised) proportions.
    let proper =
        |x: &[f64]| x.iter().all(|v| v.is_finite() && *v >= 0.0) && x.iter().sum::<f64>() > 0.0;
    let ok = a.len() == b.len() && !a.is_empty() && proper(a) && proper(b);
    let psi = drift::psi(a, b);
    assert_eq!(psi.is_ok(), ok, "psi on raw proportions: {psi:?}");
    if let Ok(p) = psi {
        // Every term (r − c)·ln(r/c) is ≥ 0 (+inf when it overflows or one
        // proportion is 0); NaN only where both proportions are 0 (0 · ln(0/0)).
        assert!(
            p >= 0.0 || (p.is_nan() && a.iter().zip(b).any(|(x, y)| *x == 0.0 && *y == 0.0)),
            "psi = {p}"
        );
    }
    let js = drift::jensenshannon(a, b);
    assert_eq!(js.is_ok(), ok, "jensenshannon on raw proportions: {js:?}");
    if let Ok(js) = js {
        assert!(in_range(js, 0.0, JS_MAX), "jensenshannon = {js}");
    }
    let chi = drift::chisquare(a, b);
    assert_eq!(chi.is_ok(), ok, "chisquare on raw frequencies: {chi:?}");
    if let Ok(chi) = chi {
        // An expected frequency of 0 makes the statistic +inf or NaN.
        assert!(chi.statistic >= 0.0 || chi.statistic.is_nan(), "{chi:?}");
        assert!(
            in_range(chi.p_value, 0.0, 1.0) || chi.p_value.is_nan(),
            "{chi:?}"
        );
    }
}

/// The sample statistics on unfiltered, unsorted samples: `Err` exactly when
/// not `ok` (a sample is empty or holds NaN or ±inf).
fn check_raw_samples(a: &[f64], b: &[f64], ok: bool) {
    let ks = drift::ks_2samp(a, b);
    assert_eq!(ks.is_ok(), ok, "ks_2samp on raw samples: {ks:?}");
    if let Ok(k) = ks {
        assert!(
            in_range(k.statistic, 0.0, 1.0) && in_range(k.p_value, 0.0, 1.0),
            "{k:?}"
        );
    }
    let w = drift::wasserstein_distance(a, b);
    assert_eq!(w.is_ok(), ok, "wasserstein on raw samples: {w:?}");
    if let Ok(w) = w {
        check_wasserstein(w, pooled_range(a, b));
    }
    let wn = drift::wasserstein_normed(a, b);
    assert_eq!(wn.is_ok(), ok, "wasserstein_normed on raw samples: {wn:?}");
    if let Ok(w) = wn {
        check_wasserstein_normed(w, pooled_range(a, b));
    }
    let bins = drift::bin_numeric(a, b);
    assert_eq!(bins.is_ok(), ok, "bin_numeric on raw samples: {bins:?}");
    if let Ok(bins) = bins {
        let (sr, sc): (u64, u64) = (bins.reference.iter().sum(), bins.current.iter().sum());
        assert_eq!(
            (sr, sc),
            (a.len() as u64, b.len() as u64),
            "bin_numeric counts"
        );
    }
}
