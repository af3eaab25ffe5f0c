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

fn inputs(kind: &str) -> Vec<std::path::PathBuf> {
    replay::inputs(env!("CARGO_MANIFEST_DIR"), kind, TARGET)
}

fn replay(files: &[std::path::PathBuf]) {
    replay::replay(files, checks::check_drift);
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
