//! Two-sample Kolmogorov–Smirnov test, identical to
//! `scipy.stats.ks_2samp(a, b)` with `alternative='two-sided', method='auto'`.

use crate::error::{DriftError, Side, non_empty};
use crate::sorted::{SortedSample, merge_runs, sorted};
use crate::special::kstwo_sf;

/// scipy's `MAX_AUTO_N`: `method='auto'` is exact when `max(n1, n2) ≤ 10000`.
pub const KS_MAX_AUTO_N: usize = 10_000;

/// Result of [`ks_2samp`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    /// The KS statistic `D = sup |F1 − F2|` (in exact mode scipy reports
    /// `round(D·lcm)/lcm`, and so does this crate).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Whether the exact distribution was used (otherwise `kstwo` asymptotics).
    pub exact: bool,
}

pub(crate) fn check_finite(x: &[f64], side: Side) -> Result<(), DriftError> {
    non_empty(x, side)?;
    if x.iter().any(|v| !v.is_finite()) {
        return Err(DriftError::NonFinite { side });
    }
    Ok(())
}

/// `D = max(max(cdf1 − cdf2), clip(−min(cdf1 − cdf2), 0, 1))` evaluated
/// at every pooled observation with `searchsorted(side='right')`, i.e.
/// `cdf_i(t) = #{x_i ≤ t} / n_i` — scipy's tie handling.
pub(crate) fn ks_statistic_sorted<A, B>(a: &A, b: &B) -> f64
where
    A: SortedSample + ?Sized,
    B: SortedSample + ?Sized,
{
    let (n1, n2) = (a.count() as f64, b.count() as f64);
    let (mut i, mut j) = (0u64, 0u64);
    let mut max_s = f64::NEG_INFINITY;
    let mut min_s = f64::INFINITY;
    // At each distinct pooled value: both ECDFs after every value ≤ it.
    for (_, ci, cj) in merge_runs(a.runs(), b.runs()) {
        i += ci;
        j += cj;
        let diff = i as f64 / n1 - j as f64 / n2;
        max_s = max_s.max(diff);
        min_s = min_s.min(diff);
    }
    let min_s = (-min_s).clamp(0.0, 1.0);
    if min_s > max_s { min_s } else { max_s }
}

/// Greatest common divisor (Euclid).
pub(crate) fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// scipy `_compute_prob_outside_square(n, h)`: `P(D_{n,n} ≥ h/n)` as
/// `2·A0·(1 − A1·(1 − A2·(…)))` with `A_k = binom(2n, n−kh)/binom(2n, n−(k−1)h)`.
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let nf = n as f64;
    let mut p = 0.0_f64;
    let mut k = (n / h) as i64;
    let hf = h as f64;
    while k >= 0 {
        let kf = k as f64;
        let mut p1 = 1.0_f64;
        for j in 0..h {
            let jf = j as f64;
            p1 = (nf - kf * hf - jf) * p1 / (nf + kf * hf + jf + 1.0);
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// scipy `_compute_outer_prob_inside_method(m, n, g, h)` (Hodges' inside
/// method with Viehmann's recursion for `1 − p`), the two-sided exact
/// p-value for `n1 ≠ n2`.
fn outer_prob_inside_method(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (m, n, g, h) = (m as i64, n as i64, g as i64, h as i64);
    let mg = m / g;
    let ng = n / g;
    let (mgf, ngf, hf) = (mg as f64, ng as f64, h as f64);
    let mut minj: i64 = 0;
    let mut maxj: i64 = ((hf / mgf).ceil() as i64).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0_f64; len_a];
    for v in a.iter_mut().take(maxj as usize).skip(minj as usize) {
        *v = 0.0;
    }
    for i in 1..=m {
        let lastminj = minj;
        let lastlen = curlen;
        let fi = i as f64;
        minj = (((ngf * fi - hf) / mgf).floor() as i64 + 1).max(0);
        minj = minj.min(n);
        maxj = (((ngf * fi + hf) / mgf).ceil() as i64).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = (jj + minj) as f64;
            let src = (jj + minj - lastminj) as usize;
            let prev = a.get(src).copied().unwrap_or(1.0);
            val = (prev * fi + val * j) / (fi + j);
            if let Some(slot) = a.get_mut(jj as usize) {
                *slot = val;
            }
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let from = (maxj - minj) as usize;
            let to = ((maxj - minj) + (lastlen - curlen)) as usize;
            for idx in from..to.min(a.len()) {
                a[idx] = 1.0;
            }
        }
    }
    a.get((maxj - minj - 1) as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

/// Two-sample two-sided Kolmogorov–Smirnov test.
///
/// Source of truth: `scipy.stats.ks_2samp(a, b)` (scipy 1.17,
/// `_stats_py.py`), default `alternative='two-sided', method='auto'`:
///
/// * `D = sup_t |F_a(t) − F_b(t)|` with right-continuous ECDFs evaluated at
///   every pooled observation (ties handled as scipy's `searchsorted(side='right')`).
/// * If `max(n1, n2) ≤ 10000` the exact null distribution is used:
///   `h = round(D·lcm(n1,n2))`, `D ← h/lcm`, `p = _compute_prob_outside_square(n, h)`
///   when `n1 = n2`, else `_compute_outer_prob_inside_method(n1, n2, g, h)`;
///   `h = 0` gives `p = 1`. If the exact value is not a probability, scipy
///   falls back to the asymptotic formula and so does this function.
/// * Otherwise `p = kstwo.sf(D, round(n1·n2/(n1+n2)))` ([`crate::special::kstwo_sf`]).
/// * `p` is clipped to `[0, 1]`.
///
/// Errors on an empty sample or a non-finite value.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Result<KsResult, DriftError> {
    check_finite(a, Side::Reference)?;
    check_finite(b, Side::Current)?;
    let sa = sorted(a);
    let sb = sorted(b);
    let d = ks_statistic_sorted(&sa, &sb);
    Ok(ks_from_statistic(d, a.len() as u64, b.len() as u64))
}

/// scipy's p-value step of `ks_2samp` for a statistic `d` of samples of
/// sizes `n1`, `n2` (exact mode with its `round(D·lcm)/lcm`, else asymptotic).
pub(crate) fn ks_from_statistic(d: f64, n1: u64, n2: u64) -> KsResult {
    let g = gcd(n1, n2);
    if n1.max(n2) as usize <= KS_MAX_AUTO_N {
        let lcm = (n1 / g) * n2;
        let h = (d * lcm as f64).round_ties_even() as u64;
        let d_exact = h as f64 / lcm as f64;
        if h == 0 {
            return KsResult {
                statistic: d_exact,
                p_value: 1.0,
                exact: true,
            };
        }
        let prob = if n1 == n2 {
            prob_outside_square(n1, h)
        } else {
            outer_prob_inside_method(n1, n2, g, h)
        };
        if (0.0..=1.0).contains(&prob) {
            return KsResult {
                statistic: d_exact,
                p_value: prob,
                exact: true,
            };
        }
        // scipy keeps the rounded statistic when falling back.
        let p = asymptotic_p(n1, n2, d_exact);
        return KsResult {
            statistic: d_exact,
            p_value: p,
            exact: false,
        };
    }
    KsResult {
        statistic: d,
        p_value: asymptotic_p(n1, n2, d),
        exact: false,
    }
}

fn asymptotic_p(n1: u64, n2: u64, d: f64) -> f64 {
    let (m, n) = if n1 >= n2 {
        (n1 as f64, n2 as f64)
    } else {
        (n2 as f64, n1 as f64)
    };
    let en = m * n / (m + n);
    let en = en.round_ties_even();
    let p = kstwo_sf(en as u64, d);
    if p.is_nan() { p } else { p.clamp(0.0, 1.0) }
}
