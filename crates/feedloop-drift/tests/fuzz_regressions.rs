//! Replays the committed corpus and crash regressions of the `drift_stats`
//! fuzz target (`fuzz/corpus/drift_stats`, `fuzz/regressions/drift_stats`)
//! through the same invariants as the fuzzer, without a fuzzer: see
//! `fuzz/README.md`.

mod checks {
    include!("../../../fuzz/checks/drift_stats.rs");
}

mod replay {
    include!("../../../fuzz/checks/replay.rs");
}

const TARGET: &str = "drift_stats";

#[test]
fn corpus_keeps_its_invariants() {
    replay::replay_corpus(env!("CARGO_MANIFEST_DIR"), TARGET, checks::check_drift);
}

#[test]
fn crash_regressions_stay_fixed() {
    replay::replay_regressions(env!("CARGO_MANIFEST_DIR"), TARGET, checks::check_drift);
}
