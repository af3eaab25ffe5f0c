// Replays fuzz inputs without a fuzzer: shared by the `fuzz_regressions.rs`
// tests of the crates the targets fuzz (included with `include!`, like the
// checks themselves).

/// Every file of `fuzz/<kind>/<target>` (none when the folder does not exist),
/// from a crate folder two levels below the repository root.
pub fn inputs(manifest_dir: &str, kind: &str, target: &str) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(manifest_dir).join(format!("../../fuzz/{kind}/{target}"));
    let mut files: Vec<std::path::PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| e.expect("read the fuzz folder").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Runs `check` on every file; fails naming the files whose check panicked.
pub fn replay(files: &[std::path::PathBuf], check: fn(&[u8])) {
    let failed: Vec<_> = files
        .iter()
        .filter(|f| {
            let data = std::fs::read(f).expect("read a fuzz input");
            std::panic::catch_unwind(|| check(&data)).is_err()
        })
        .collect();
    assert!(failed.is_empty(), "invariants broken by {failed:#?}");
}

/// The committed corpus of `target`, which must not be empty, through `check`.
pub fn replay_corpus(manifest_dir: &str, target: &str, check: fn(&[u8])) {
    let corpus = inputs(manifest_dir, "corpus", target);
    assert!(
        !corpus.is_empty(),
        "fuzz/corpus/{target} is missing or empty"
    );
    replay(&corpus, check);
}

/// The crash regressions of `target` (`fuzz/regressions/<target>`) through `check`.
pub fn replay_regressions(manifest_dir: &str, target: &str, check: fn(&[u8])) {
    replay(&inputs(manifest_dir, "regressions", target), check);
}
