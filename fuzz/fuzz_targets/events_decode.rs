//! JSON bytes → validated event → Arrow batch, for every stream kind.
//! The invariants live in `fuzz/checks/events_decode.rs`, which the regression
//! test `crates/feedloop-events/tests/fuzz_regressions.rs` runs as well.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../checks/events_decode.rs");

fuzz_target!(|data: &[u8]| check_decode(data));
