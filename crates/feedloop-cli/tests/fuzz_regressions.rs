//! Replays the committed corpus and crash regressions of the `config_load`
//! fuzz target (`fuzz/corpus/config_load`, `fuzz/regressions/config_load`)
//! through the same invariants as the fuzzer, without a fuzzer: see
//! `fuzz/README.md`.

mod checks {
    include!("../../../fuzz/checks/config_load.rs");
}

mod replay {
    include!("../../../fuzz/checks/replay.rs");
}

const TARGET: &str = "config_load";

#[test]
fn corpus_and_crash_regressions_keep_their_invariants() {
    replay::replay_corpus(env!("CARGO_MANIFEST_DIR"), TARGET, checks::check_config);
    replay::replay_regressions(env!("CARGO_MANIFEST_DIR"), TARGET, checks::check_config);
}
