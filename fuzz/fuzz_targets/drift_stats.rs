//! The statistics behind the drift SQL aggregates (KS, Wasserstein, PSI,
//! Jensen–Shannon, χ²) on arbitrary samples: NaN, ±inf, empty, huge, ties,
//! categories. The invariants live in `fuzz/checks/drift_stats.rs`, which the
//! regression test `crates/feedloop-drift/tests/fuzz_regressions.rs` runs as well.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../checks/drift_stats.rs");

fuzz_target!(|data: &[u8]| check_drift(data));
