//! Replays the committed corpus and crash regressions of the `events_decode`
//! fuzz target (`fuzz/corpus/events_decode`, `fuzz/regressions/events_decode`)
//! through the same invariants as the fuzzer, without a fuzzer: see
//! `fuzz/README.md`.

mod checks {
    include!("../../../fuzz/checks/events_decode.rs");
}

mod replay {
    include!("../../../fuzz/checks/replay.rs");
}

const TARGET: &str = "events_decode";

#[test]
fn corpus_keeps_its_invariants() {
    replay::replay_corpus(env!("CARGO_MANIFEST_DIR"), TARGET, checks::check_decode);
}

#[test]
fn crash_regressions_stay_fixed() {
    replay::replay_regressions(env!("CARGO_MANIFEST_DIR"), TARGET, checks::check_decode);
}
