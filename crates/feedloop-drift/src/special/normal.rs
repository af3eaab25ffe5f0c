//! The standard normal CDF (`scipy.special.ndtr`), through the error
//! function as an incomplete gamma `P(1/2, x²)` / `Q(1/2, x²)`.

use super::gamma::{gamma_p, gamma_q};

/// Error function via `P(1/2, x²)`.
fn erf(x: f64) -> f64 {
    let v = gamma_p(0.5, x * x);
    if x < 0.0 { -v } else { v }
}

/// Complementary error function for `x ≥ 0` via `Q(1/2, x²)`.
fn erfc_pos(x: f64) -> f64 {
    gamma_q(0.5, x * x)
}

/// Standard normal CDF with Cephes `ndtr`'s branch structure
/// (`0.5 + 0.5·erf(x/√2)` near 0, `0.5·erfc(|x|/√2)` in the tails).
pub fn ndtr(a: f64) -> f64 {
    if a.is_nan() {
        return f64::NAN;
    }
    let x = a * std::f64::consts::FRAC_1_SQRT_2;
    let z = x.abs();
    if z < std::f64::consts::FRAC_1_SQRT_2 {
        0.5 + 0.5 * erf(x)
    } else {
        let y = 0.5 * erfc_pos(z);
        if x > 0.0 { 1.0 - y } else { y }
    }
}
