//! `feedloop drift` against Evidently itself: the datasets and expectations in
//! `tests/fixtures/evidently/` were made by Evidently 0.7.23 (`Report([
//! DataDriftPreset()])` and its registered stattests), see
//! `scripts/drift_fixtures/evidently_fixtures.py` (`--check` proves the
//! committed files are what it generates).
//!
//! For each dataset pair, [`run_drift_report`] (what `feedloop drift` runs)
//! must give, per column: Evidently's kind, default test, score, threshold
//! and drift decision, and every statistic the report prints (its JSON
//! `stats`: the same set of statistics, each equal to Evidently's); and the
//! dataset verdict, drifted count and share. With each test forced on every
//! column whose kind Evidently accepts it for (`per_column_method`), the
//! score, threshold and decision must again be Evidently's.
//!
//! Tolerance: `|feedloop − evidently| ≤ 1e-9·|evidently|` ([`RTOL`], no
//! absolute slack: a p-value of 0 must be 0); thresholds, decisions, tests,
//! kinds and counts are exact; infinities and NaN must match. Measured with
//! the tolerance at 0, the largest relative difference is 1.7e-11 (a KL
//! divergence of 2.6e-6, a small sum of terms of both signs summed in another
//! order than numpy's), then 5e-12 (asymptotic KS p-values); most values
//! agree to a few ulps or exactly.
//!
//! Every expected file must exist and every expectation must be checked: a
//! missing fixture, dataset, column or statistic is a failure, never a skip.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use feedloop_drift::StatTest;
use feedloop_report::{DriftRequest, run_drift_report};
use serde_json::Value;

/// Relative tolerance on every score and statistic (see the module docs).
const RTOL: f64 = 1e-9;

/// The datasets the generator writes; the fixture must hold exactly these.
const DATASETS: [&str; 4] = ["n200", "n1000", "n1001", "n12000"];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/evidently")
}

fn fixtures() -> Value {
    let path = dir().join("evidently.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "missing Evidently fixture {}: {e} (generate it with scripts/drift_fixtures/evidently_fixtures.py)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn dataset(name: &str) -> Value {
    let all = fixtures();
    all["datasets"]
        .get(name)
        .unwrap_or_else(|| panic!("dataset {name} missing from evidently.json"))
        .clone()
}

/// A float as the fixtures (and `feedloop drift --format json`) write it.
fn num(v: &Value, what: &str) -> f64 {
    match v {
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        Value::String(s) if s == "nan" => f64::NAN,
        v => v
            .as_f64()
            .unwrap_or_else(|| panic!("{what}: not a number: {v}")),
    }
}

fn close(got: f64, want: f64) -> bool {
    if got.is_nan() || want.is_nan() {
        return got.is_nan() && want.is_nan();
    }
    if got.is_infinite() || want.is_infinite() {
        return got == want;
    }
    (got - want).abs() <= RTOL * want.abs()
}

/// Collects every mismatch of a dataset, so one run shows them all.
#[derive(Default)]
struct Mismatches(Vec<String>);

impl Mismatches {
    fn float(&mut self, what: String, got: &Value, want: &Value) {
        let (g, w) = (num(got, &what), num(want, &what));
        if !close(g, w) {
            let rel = if w != 0.0 {
                ((g - w) / w).abs()
            } else {
                f64::INFINITY
            };
            self.0.push(format!(
                "{what}: feedloop {g:e}, Evidently {w:e} (relative difference {rel:.3e})"
            ));
        }
    }

    fn exact(&mut self, what: String, got: &Value, want: &Value) {
        if got != want {
            self.0
                .push(format!("{what}: feedloop {got}, Evidently {want}"));
        }
    }

    /// `stats` of one column: same statistics, each close (objects: statistic and p-value).
    fn stats(&mut self, what: &str, got: &Value, want: &Value) {
        let keys = |v: &Value| -> BTreeSet<String> {
            v.as_object()
                .unwrap_or_else(|| panic!("{what}: stats is not an object: {v}"))
                .keys()
                .cloned()
                .collect()
        };
        let (gk, wk) = (keys(got), keys(want));
        if gk != wk {
            self.0.push(format!(
                "{what}: feedloop prints statistics {gk:?}, Evidently has {wk:?}"
            ));
        }
        for k in gk.intersection(&wk) {
            match &want[k] {
                Value::Object(parts) => {
                    let expected: BTreeSet<&String> = parts.keys().collect();
                    let printed: BTreeSet<&String> = got[k]
                        .as_object()
                        .map(|o| o.keys().collect())
                        .unwrap_or_default();
                    if expected != printed {
                        self.0.push(format!(
                            "{what}.{k}: feedloop prints {printed:?}, Evidently has {expected:?}"
                        ));
                    }
                    for p in parts.keys() {
                        self.float(format!("{what}.{k}.{p}"), &got[k][p], &want[k][p]);
                    }
                }
                w => self.float(format!("{what}.{k}"), &got[k], w),
            }
        }
    }

    fn finish(self, name: &str) {
        assert!(
            self.0.is_empty(),
            "{name}: feedloop differs from Evidently in {} place(s):\n  {}",
            self.0.len(),
            self.0.join("\n  ")
        );
    }
}

fn request(ds: &Value) -> DriftRequest {
    let path = |side: &str| {
        let file = ds[side]
            .as_str()
            .unwrap_or_else(|| panic!("no {side} file in the fixture"));
        let p = dir().join(file);
        assert!(p.is_file(), "missing fixture file {}", p.display());
        p.to_string_lossy().into_owned()
    };
    let mut req = DriftRequest::new(path("reference"), path("current"));
    req.drift_share = num(&ds["drift_share"], "drift_share");
    req
}

fn columns(ds: &Value) -> &serde_json::Map<String, Value> {
    let cols = ds["columns"].as_object().expect("columns");
    assert!(!cols.is_empty(), "no columns in the fixture");
    cols
}

/// Evidently's default report (`DataDriftPreset()`) on one dataset pair.
async fn check_default(name: &str) {
    let ds = dataset(name);
    let report = run_drift_report(&request(&ds))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let json = report.to_json();
    let want_cols = columns(&ds);
    let mut m = Mismatches::default();

    let got_names: BTreeSet<&String> = json["columns"].as_object().unwrap().keys().collect();
    let want_names: BTreeSet<&String> = want_cols.keys().collect();
    assert_eq!(
        got_names, want_names,
        "{name}: compared columns (skipped: {:?})",
        report.skipped
    );
    assert!(
        report.skipped.is_empty(),
        "{name}: skipped {:?}",
        report.skipped
    );
    for key in ["n_reference", "n_current", "dataset_drift"] {
        m.exact(format!("{name}.{key}"), &json[key], &ds[key]);
    }
    m.exact(
        format!("{name}.n_drifted"),
        &Value::from(report.drift.n_drifted),
        &ds["n_drifted"],
    );
    m.float(
        format!("{name}.share_drifted"),
        &json["share_drifted"],
        &ds["share_drifted"],
    );

    for (col, want) in want_cols {
        let got = &json["columns"][col];
        let what = format!("{name}.{col}");
        for key in ["kind", "test", "drift"] {
            m.exact(format!("{what}.{key}"), &got[key], &want[key]);
        }
        m.float(format!("{what}.score"), &got["score"], &want["score"]);
        m.exact(
            format!("{what}.threshold"),
            &got["threshold"],
            &want["threshold"],
        );
        m.stats(&format!("{what}.stats"), &got["stats"], &want["stats"]);
        // The non-null counts the default test depended on (n ≤ 1000).
        let res = &report.drift.columns[col];
        m.exact(
            format!("{what}.n_reference_values"),
            &Value::from(res.n_reference),
            &want["n_reference_values"],
        );
        m.exact(
            format!("{what}.n_current_values"),
            &Value::from(res.n_current),
            &want["n_current_values"],
        );
    }
    m.finish(name);
}

/// Each test forced on every column Evidently accepts it for
/// (`DataDriftPreset(per_column_method={column: test})`).
async fn check_forced(name: &str) {
    let ds = dataset(name);
    let want_cols = columns(&ds);
    let mut by_test: BTreeMap<String, Vec<(&String, &Value)>> = BTreeMap::new();
    for (col, want) in want_cols {
        let forced = want["forced"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}.{col}: no forced tests"));
        assert!(!forced.is_empty(), "{name}.{col}: no forced tests");
        for (test, res) in forced {
            by_test.entry(test.clone()).or_default().push((col, res));
        }
    }
    // Evidently accepts 6 tests by name per kind; both kinds are present.
    let all: BTreeSet<&str> = StatTest::ALL.iter().map(|t| t.name()).collect();
    let forced: BTreeSet<&str> = by_test.keys().map(String::as_str).collect();
    assert_eq!(forced, all, "{name}: tests forced in the fixture");

    let mut m = Mismatches::default();
    for (test, cols) in &by_test {
        let t: StatTest = test.parse().unwrap();
        let mut req = request(&ds);
        req.columns = Some(cols.iter().map(|(c, _)| (*c).clone()).collect());
        req.stattest = cols.iter().map(|(c, _)| ((*c).clone(), t)).collect();
        let report = run_drift_report(&req)
            .await
            .unwrap_or_else(|e| panic!("{name}, {test} forced: {e}"));
        let json = report.to_json();
        for (col, want) in cols {
            let got = &json["columns"][col.as_str()];
            let what = format!("{name}.{col} ({test} forced)");
            m.exact(
                format!("{what}.test"),
                &got["test"],
                &Value::from(test.as_str()),
            );
            m.float(format!("{what}.score"), &got["score"], &want["score"]);
            m.exact(
                format!("{what}.threshold"),
                &got["threshold"],
                &want["threshold"],
            );
            m.exact(format!("{what}.drift"), &got["drift"], &want["drift"]);
        }
    }
    m.finish(name);
}

#[test]
fn the_fixture_is_complete_and_pinned() {
    let all = fixtures();
    assert_eq!(
        all["generator"], "scripts/drift_fixtures/evidently_fixtures.py",
        "generator"
    );
    assert_eq!(all["versions"]["evidently"], "0.7.23", "Evidently version");
    let names: BTreeSet<&str> = all["datasets"]
        .as_object()
        .expect("datasets")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names, DATASETS.into_iter().collect(), "datasets");
    let mut tests = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    for name in DATASETS {
        let ds = &all["datasets"][name];
        for side in ["reference", "current"] {
            let f = dir().join(ds[side].as_str().expect("file name"));
            assert!(f.is_file(), "missing fixture file {}", f.display());
        }
        for c in columns(ds).values() {
            tests.insert(c["test"].as_str().unwrap().to_string());
            kinds.insert(c["kind"].as_str().unwrap().to_string());
        }
    }
    // Every default Evidently can choose for these kinds is exercised.
    let expected: BTreeSet<String> = ["ks", "wasserstein", "chisquare", "z", "jensenshannon"]
        .map(String::from)
        .into();
    assert_eq!(tests, expected, "default tests covered");
    assert_eq!(
        kinds,
        ["categorical", "numeric"].map(String::from).into(),
        "kinds covered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n200_default_report_matches_evidently() {
    check_default("n200").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n1000_default_report_matches_evidently() {
    check_default("n1000").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n1001_default_report_matches_evidently() {
    check_default("n1001").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n12000_default_report_matches_evidently() {
    check_default("n12000").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n200_forced_tests_match_evidently() {
    check_forced("n200").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n1000_forced_tests_match_evidently() {
    check_forced("n1000").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n1001_forced_tests_match_evidently() {
    check_forced("n1001").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n12000_forced_tests_match_evidently() {
    check_forced("n12000").await;
}
