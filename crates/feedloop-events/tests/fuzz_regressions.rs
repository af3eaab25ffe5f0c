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

fn inputs(kind: &str) -> Vec<std::path::PathBuf> {
    replay::inputs(env!("CARGO_MANIFEST_DIR"), kind, TARGET)
}

fn replay(files: &[std::path::PathBuf]) {
    replay::replay(files, checks::check_decode);
}

#[test]
fn corpus_keeps_its_invariants() {
    let corpus = inputs("corpus");
    assert!(
        !corpus.is_empty(),
        "fuzz/corpus/{TARGET} is missing or empty"
    );
    replay(&corpus);
}

#[test]
fn crash_regressions_stay_fixed() {
    replay(&inputs("regressions"));
}
