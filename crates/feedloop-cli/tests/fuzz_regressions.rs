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

fn inputs(kind: &str) -> Vec<std::path::PathBuf> {
    replay::inputs(env!("CARGO_MANIFEST_DIR"), kind, TARGET)
}

fn replay(files: &[std::path::PathBuf]) {
    replay::replay(files, checks::check_config);
}

#[test]
fn corpus_and_crash_regressions_keep_their_invariants() {
    let corpus = inputs("corpus");
    assert!(
        !corpus.is_empty(),
        "fuzz/corpus/{TARGET} is missing or empty"
    );
    replay(&corpus);
    replay(&inputs("regressions"));
}
