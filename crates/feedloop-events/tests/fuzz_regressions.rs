//! Replays the committed corpus and crash regressions of the `events_decode`
//! fuzz target (`fuzz/corpus/events_decode`, `fuzz/regressions/events_decode`)
//! through the same invariants as the fuzzer, without a fuzzer: see
//! `fuzz/README.md`.

mod checks {
    include!("../../../fuzz/checks/events_decode.rs");
}

use std::path::{Path, PathBuf};

const TARGET: &str = "events_decode";

/// Every file of `fuzz/<kind>/<TARGET>` (none when the folder does not exist).
fn inputs(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../fuzz/{kind}/{TARGET}"));
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| e.expect("read the fuzz folder").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

fn replay(files: &[PathBuf]) {
    let failed: Vec<_> = files
        .iter()
        .filter(|f| {
            let data = std::fs::read(f).expect("read a fuzz input");
            std::panic::catch_unwind(|| checks::check_decode(&data)).is_err()
        })
        .collect();
    assert!(failed.is_empty(), "invariants broken by {failed:#?}");
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
