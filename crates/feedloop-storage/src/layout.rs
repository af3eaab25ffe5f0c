//! The layout of a storage root: every top-level folder and file feedloop
//! writes under it, each named once here. Other modules (and crates) ask this
//! module for their paths instead of spelling them.
//!
//! ```text
//! <root>/landing/<table>/topic=<t>/partition=<p>/<first offset>.parquet   ingest (landing)
//!        _tmp/                                  in-progress local writes (store)
//!        metrics/<window start>.parquet         window jobs' history (history)
//!        alerts/<window start>.parquet          alert transitions (history)
//!        profiles/<model>/<version>/reference.json   reference profiles
//!        state/windows.json                     the window job's state
//!        state/alerts-delivered/<window start>  a window's alerts were delivered
//!        leases/<name>/<epoch>.claim|.beat      singleton duties (lease)
//!        datasets/<model>/<name>/<version>/…    retraining datasets (datasets)
//!        datasets/<model>/<name>/_schedule.json scheduled exports' bookkeeping
//! ```
//!
//! Folders whose name starts with `_` are skipped by pandas/pyarrow, Spark and
//! DuckDB globs; feedloop's own listings skip them too.

use object_store::path::Path;

/// The landing zone: one folder per table (`landing/<table>/…`).
pub const LANDING_DIR: &str = "landing";
/// In-progress local writes; its leading `_` makes dataframe globs skip it.
pub const TMP_DIR: &str = "_tmp";
/// The `metrics` history table: one Parquet file per closed window.
pub const METRICS_DIR: &str = "metrics";
/// The `alerts` history table: one Parquet file per window that raised or resolved alerts.
pub const ALERTS_DIR: &str = "alerts";
/// Reference profiles, `profiles/<model>/<version>/reference.json`.
pub const PROFILES_DIR: &str = "profiles";
/// Job state (the window job's cursor and index, delivery markers).
pub const STATE_DIR: &str = "state";
/// Leases of the singleton duties, `leases/<name>/…`.
pub const LEASES_DIR: &str = "leases";
/// Retraining datasets, `datasets/<model>/<name>/<version>/…`.
pub const DATASETS_DIR: &str = "datasets";
/// The manifest of a dataset version (written last: the version exists once it does).
pub const MANIFEST_FILE: &str = "_manifest.json";
/// Per dataset, beside its versions: when its schedule last ran.
pub const SCHEDULE_FILE: &str = "_schedule.json";
/// The file name of a reference profile in its version's folder.
pub const PROFILE_FILE: &str = "reference.json";

/// Every top-level entry of a storage root, in the order of the module docs.
pub const TOP_LEVEL: [&str; 8] = [
    LANDING_DIR,
    TMP_DIR,
    METRICS_DIR,
    ALERTS_DIR,
    PROFILES_DIR,
    STATE_DIR,
    LEASES_DIR,
    DATASETS_DIR,
];

/// `state/windows.json`: the window job's persisted state.
pub fn windows_state() -> Path {
    Path::from_iter([STATE_DIR, "windows.json"])
}

/// `state/alerts-delivered/<window start, 20 digits>`: recorded once a window's
/// alerts are handed to the sinks, so a recomputed window is not delivered twice.
pub fn alerts_delivered(window_start: i64) -> Path {
    Path::from_iter([
        STATE_DIR.to_string(),
        "alerts-delivered".to_string(),
        format!("{:020}", window_start.max(0)),
    ])
}

/// `<table dir>/<window start, epoch ms, 20 digits>.parquet`: the file of one
/// window in a history table ([`METRICS_DIR`] or [`ALERTS_DIR`]).
pub fn window_file(table_dir: &str, window_start: i64) -> Path {
    Path::from_iter([
        table_dir.to_string(),
        format!("{:020}.parquet", window_start.max(0)),
    ])
}

/// `profiles/<model>/<version>/reference.json`, one folder level per name.
///
/// Ingest only lands models and versions named `[A-Za-z0-9._-]{1,128}` (not `.`
/// or `..`), which are safe path segments as they are. A name outside that
/// alphabet can only come from a landing file written by something else; it
/// becomes `@` + 16 hex digits of its SHA-256 (no valid name contains `@`), so
/// it can neither collapse a level (an empty name), nor add one (`a/b`), nor
/// exceed file-name limits, and still has a stable, distinct folder.
pub fn profile_file(model: &str, version: &str) -> Path {
    Path::from_iter([
        PROFILES_DIR.to_string(),
        name_segment(model),
        name_segment(version),
        PROFILE_FILE.to_string(),
    ])
}

fn name_segment(name: &str) -> String {
    if feedloop_events::validate::is_valid_model_name(name) {
        name.to_string()
    } else {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(name.as_bytes());
        format!("@{}", &hex::encode(digest)[..16])
    }
}

/// `leases/<name>`: the folder of one lease's claims and heartbeats.
pub fn lease_dir(name: &str) -> String {
    format!("{LEASES_DIR}/{name}")
}

/// `datasets/<model>/<name>`: every version of one dataset.
pub fn dataset_dir(model: &str, name: &str) -> Path {
    Path::from_iter([DATASETS_DIR, model, name])
}

/// `datasets/<model>/<name>/_schedule.json`: when the dataset's schedule last ran.
pub fn dataset_schedule(model: &str, name: &str) -> Path {
    dataset_dir(model, name).join(SCHEDULE_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn top_level_names_are_distinct_single_segments() {
        let names: BTreeSet<_> = TOP_LEVEL.iter().collect();
        assert_eq!(names.len(), TOP_LEVEL.len());
        for n in TOP_LEVEL {
            assert_eq!(Path::from(n).parts().count(), 1, "{n}");
        }
    }

    #[test]
    fn paths_are_where_the_docs_say() {
        assert_eq!(windows_state().as_ref(), "state/windows.json");
        assert_eq!(
            alerts_delivered(42).as_ref(),
            "state/alerts-delivered/00000000000000000042"
        );
        assert_eq!(
            window_file(ALERTS_DIR, -5).as_ref(),
            "alerts/00000000000000000000.parquet"
        );
        assert_eq!(
            profile_file("m", "v1").as_ref(),
            "profiles/m/v1/reference.json"
        );
        assert!(profile_file("../x", "v").as_ref().starts_with("profiles/@"));
        assert_eq!(lease_dir("jobs"), "leases/jobs");
        assert_eq!(
            dataset_schedule("m", "d").as_ref(),
            "datasets/m/d/_schedule.json"
        );
    }
}
