//! The config loader (`Config::load`: TOML file + `FEEDLOOP_…` environment) on
//! arbitrary text. Built only with `--features config` (feedloop-cli is heavy).
//! The invariants live in `fuzz/checks/config_load.rs`, which the regression
//! test `crates/feedloop-cli/tests/fuzz_regressions.rs` runs as well.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../checks/config_load.rs");

fuzz_target!(|data: &[u8]| check_config(data));
