//! Compensated (Neumaier) summation: the one summation rule shared by the
//! statistics (`distance`, `profile`) and the special functions (`special`).

/// Compensated (Neumaier) sum; numpy's pairwise sum is within a few ulps of it.
///
/// Once the running sum is not finite (a term is ±inf or NaN, or the sum
/// overflows) the compensation is meaningless (`inf − inf`): the plain sum is
/// returned, so an overflow gives ±inf as in numpy, and NaN only where numpy
/// has NaN too (a NaN term, or +inf meeting −inf).
pub(crate) fn fsum(it: impl IntoIterator<Item = f64>) -> f64 {
    let mut sum = 0.0_f64;
    let mut comp = 0.0_f64;
    for t in it {
        let s = sum + t;
        if sum.abs() >= t.abs() {
            comp += (sum - s) + t;
        } else {
            comp += (t - s) + sum;
        }
        sum = s;
    }
    if sum.is_finite() { sum + comp } else { sum }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsum_overflows_to_infinity_like_numpy() {
        assert_eq!(fsum([1e308, 1e308]), f64::INFINITY);
        assert_eq!(fsum([-1e308, -1e308, 1.0]), f64::NEG_INFINITY);
        assert_eq!(fsum([1.0, f64::INFINITY, 2.0]), f64::INFINITY);
        assert!(fsum([f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        assert!(fsum([1.0, f64::NAN]).is_nan());
        // Finite sums keep their compensation.
        assert_eq!(fsum([1e16, 1.0, -1e16]), 1.0);
        assert_eq!(fsum([0.1; 10]), 1.0);
    }
}
