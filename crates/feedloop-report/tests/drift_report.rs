//! `run_drift_report` end to end: fixture columns written as Parquet and CSV
//! must give the drift crate's (scipy/Evidently) expectations; JSON shape and
//! schema; table; column selection, skips and errors.

mod fixture_columns;

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, StringArray, TimestampMillisecondArray,
};
use feedloop_drift::{ColumnData, ColumnKind, ColumnOptions, StatTest, column_drift};
use feedloop_report::{AnalyticsError, DriftReport, DriftRequest, run_drift_report};
use fixture_columns::{
    Case, Col, close, fixture_cases, jf, write_csv, write_parquet, write_parquet_arrays,
};
use serde_json::Value;

fn direct(case: &Case) -> feedloop_drift::ColumnDriftResult {
    let (rs, cs): (Vec<Option<&str>>, Vec<Option<&str>>);
    let (r, c) = match (&case.reference, &case.current) {
        (Col::Float(r), Col::Float(c)) => (ColumnData::Float(r), ColumnData::Float(c)),
        (Col::Int(r), Col::Int(c)) => (ColumnData::Int(r), ColumnData::Int(c)),
        (Col::Bool(r), Col::Bool(c)) => (ColumnData::Bool(r), ColumnData::Bool(c)),
        (Col::Str(r), Col::Str(c)) => {
            rs = r.iter().map(|s| s.as_deref()).collect();
            cs = c.iter().map(|s| s.as_deref()).collect();
            (ColumnData::Str(&rs), ColumnData::Str(&cs))
        }
        _ => unreachable!(),
    };
    column_drift(r, c, &ColumnOptions::default()).unwrap()
}

/// Each case's column in `report` matches the fixture (1e-9 relative; 1e-6
/// for asymptotic KS p-values, as the drift crate's own fixture test) and is
/// exactly what `column_drift` gives on the in-memory fixture data.
fn check_fixture_columns(report: &DriftReport, cases: &[&Case], what: &str) {
    for case in cases {
        let name = &case.name;
        let ex = &case.expected;
        let res = report
            .drift
            .columns
            .get(name)
            .unwrap_or_else(|| panic!("{what}: {name} missing ({:?})", report.skipped));
        let kind = match res.kind {
            ColumnKind::Numeric => "numeric",
            ColumnKind::Categorical => "categorical",
        };
        assert_eq!(kind, ex["kind"].as_str().unwrap(), "{what} {name}: kind");
        assert_eq!(
            res.test.name(),
            ex["test"].as_str().unwrap(),
            "{what} {name}: test"
        );
        let asymptotic_ks = res.test == StatTest::Ks && !res.stats.ks.unwrap().exact;
        let rtol = if asymptotic_ks { 1e-6 } else { 1e-9 };
        let want = jf(&ex["score"]);
        assert!(
            close(res.score, want, rtol, 1e-14),
            "{what} {name}: score {} vs {want}",
            res.score
        );
        assert_eq!(
            res.threshold,
            jf(&ex["threshold"]),
            "{what} {name}: threshold"
        );
        assert_eq!(
            res.drift,
            ex["drift"].as_bool().unwrap(),
            "{what} {name}: drift"
        );
        assert_eq!(
            res.n_reference as u64,
            ex["n_reference"].as_u64().unwrap(),
            "{what} {name}"
        );
        assert_eq!(
            res.n_current as u64,
            ex["n_current"].as_u64().unwrap(),
            "{what} {name}"
        );
        let chi = jf(&ex["chisquare_statistic"]);
        assert!(
            close(res.stats.chisquare.statistic, chi, 1e-9, 1e-12),
            "{what} {name}: chi-squared"
        );
        assert_eq!(
            res,
            &direct(case),
            "{what} {name}: differs from column_drift on the same data"
        );
    }
}

fn named(cases: &[Case], side: impl Fn(&Case) -> &Col) -> Vec<(&str, &Col)> {
    cases.iter().map(|c| (c.name.as_str(), side(c))).collect()
}

/// The fixture cases grouped by their longest side, so that each group's file
/// pair holds columns of one length.
fn by_row_count(cases: &[Case]) -> BTreeMap<usize, Vec<Case>> {
    let mut groups: BTreeMap<usize, Vec<Case>> = BTreeMap::new();
    for c in cases {
        groups
            .entry(c.reference.len().max(c.current.len()))
            .or_default()
            .push(c.clone());
    }
    groups
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_columns_from_parquet() {
    let cases = fixture_cases();
    assert!(cases.len() >= 25);
    // One file pair per row count: padding short columns with nulls would turn
    // integer columns into integers with nulls, which Evidently (and so
    // feedloop) compares as numerical, not as the fixture's categories.
    let groups = by_row_count(&cases);
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (n, group) in &groups {
        let (r, c) = (
            dir.path().join(format!("ref{n}.parquet")),
            dir.path().join(format!("cur{n}.parquet")),
        );
        write_parquet(&r, &named(group, |c| &c.reference));
        write_parquet(&c, &named(group, |c| &c.current));
        let req = DriftRequest::new(r.to_str().unwrap(), c.to_str().unwrap());
        let report = run_drift_report(&req).await.unwrap();
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        assert_eq!(report.drift.columns.len(), group.len());
        check_fixture_columns(&report, &group.iter().collect::<Vec<_>>(), "parquet");
        // Dataset summary: rows are the file lengths; verdict from the fixture verdicts.
        let rows = |side: fn(&Case) -> usize| group.iter().map(side).max().unwrap();
        assert_eq!(
            (report.drift.n_reference, report.drift.n_current),
            (rows(|c| c.reference.len()), rows(|c| c.current.len()))
        );
        let n_drifted = group
            .iter()
            .filter(|c| c.expected["drift"].as_bool().unwrap())
            .count();
        assert_eq!(report.drift.n_drifted, n_drifted);
        assert_eq!(
            report.drift.share_drifted,
            n_drifted as f64 / group.len() as f64
        );
        assert_eq!(
            report.drift.dataset_drift,
            report.drift.share_drifted >= 0.5
        );
        // Same data, a drift share at or below the observed one: the verdict follows it.
        if n_drifted > 0 {
            let low = DriftRequest {
                drift_share: report.drift.share_drifted,
                ..req
            };
            assert!(run_drift_report(&low).await.unwrap().drift.dataset_drift);
        }
        checked += group.len();
    }
    assert_eq!(checked, cases.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_columns_from_csv() {
    let cases = fixture_cases();
    // One CSV per row count, so that short columns are not padded with thousands of empty fields.
    let groups = by_row_count(&cases);
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (n, group) in &groups {
        let (r, c) = (
            dir.path().join(format!("ref{n}.csv")),
            dir.path().join(format!("cur{n}.CSV")),
        );
        write_csv(&r, &named(group, |c| &c.reference));
        write_csv(&c, &named(group, |c| &c.current));
        let report = run_drift_report(&DriftRequest::new(r.to_str().unwrap(), c.to_str().unwrap()))
            .await
            .unwrap();
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        assert_eq!(report.drift.columns.len(), group.len());
        assert_eq!(report.drift.n_reference, *n);
        check_fixture_columns(&report, &group.iter().collect::<Vec<_>>(), "csv");
        checked += group.len();
    }
    assert_eq!(checked, cases.len());
}

// ---------------------------------------------------------------------------
// JSON shape and schema

#[path = "../../../tests/support/json_schema.rs"]
mod json_schema;

/// `schemas/drift-report.v1.schema.json`, checked against the 2020-12
/// meta-schema and compiled with formats asserted (the `jsonschema` crate).
fn schema() -> json_schema::Schema {
    json_schema::Schema::load("drift-report.v1.schema.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_shape_and_schema() {
    let cases: Vec<Case> = fixture_cases()
        .into_iter()
        .filter(|c| c.name.starts_with("n500_"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (r, c) = (
        dir.path().join("ref.parquet"),
        dir.path().join("cur.parquet"),
    );
    let mut rcols = named(&cases, |c| &c.reference);
    let mut ccols = named(&cases, |c| &c.current);
    let only_ref = Col::Float(vec![1.0; 500]);
    let only_cur = Col::Str(vec![Some("x".into()); 500]);
    rcols.push(("only_ref", &only_ref));
    ccols.push(("only_cur", &only_cur));
    write_parquet(&r, &rcols);
    write_parquet(&c, &ccols);
    let report = run_drift_report(&DriftRequest::new(r.to_str().unwrap(), c.to_str().unwrap()))
        .await
        .unwrap();
    let j = report.to_json();
    // The document survives a text round trip (no NaN/inf numbers, which JSON cannot hold).
    let text = serde_json::to_string(&j).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), j);

    let top: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want_top = vec![
        "dataset_drift",
        "share_drifted",
        "n_reference",
        "n_current",
        "columns",
        "skipped",
    ];
    want_top.sort();
    let mut top_sorted = top.clone();
    top_sorted.sort();
    assert_eq!(top_sorted, want_top);
    assert!(j["dataset_drift"].is_boolean());
    assert!(j["share_drifted"].is_f64());
    assert_eq!(j["n_reference"].as_u64(), Some(500));
    assert_eq!(j["n_current"].as_u64(), Some(500));
    assert_eq!(j["skipped"]["only_ref"], "only in the reference data");
    assert_eq!(j["skipped"]["only_cur"], "only in the current data");

    let cols = j["columns"].as_object().unwrap();
    assert_eq!(cols.len(), cases.len());
    for case in &cases {
        let col = &cols[&case.name];
        let ex = &case.expected;
        let mut keys: Vec<&str> = col
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            ["drift", "kind", "score", "stats", "test", "threshold"],
            "{}",
            case.name
        );
        assert_eq!(col["kind"], ex["kind"]);
        assert_eq!(col["test"], ex["test"]);
        assert_eq!(col["drift"], ex["drift"]);
        assert_eq!(jf(&col["threshold"]), jf(&ex["threshold"]));
        assert_eq!(jf(&col["score"]), report.drift.columns[&case.name].score);
        let stats = col["stats"].as_object().unwrap();
        let numeric = ex["kind"] == "numeric";
        let mut want: Vec<&str> = vec!["psi", "jensenshannon", "kl_div", "hellinger", "chisquare"];
        if numeric {
            want.extend(["ks", "wasserstein", "wasserstein_normed"]);
        }
        if ex.get("z_p_value").is_some() {
            want.push("z");
        }
        want.sort();
        let mut got: Vec<&str> = stats.keys().map(String::as_str).collect();
        got.sort();
        assert_eq!(got, want, "{}: stats keys", case.name);
        for pair in ["ks", "chisquare", "z"] {
            if let Some(p) = stats.get(pair) {
                let mut k: Vec<&String> = p.as_object().unwrap().keys().collect();
                k.sort();
                assert_eq!(k, ["p_value", "statistic"], "{}: {pair}", case.name);
            }
        }
        assert!(
            close(jf(&stats["psi"]), jf(&ex["psi"]), 1e-9, 1e-15),
            "{}: psi",
            case.name
        );
        // An infinite chi-squared statistic is the string "inf".
        let chi = &stats["chisquare"]["statistic"];
        if ex["chisquare_statistic"] == "inf" {
            assert_eq!(chi, "inf", "{}", case.name);
        } else {
            assert!(chi.is_number(), "{}", case.name);
        }
    }
    assert!(
        cases
            .iter()
            .any(|c| c.expected["chisquare_statistic"] == "inf"),
        "no inf case exercised"
    );

    // Valid against the committed schema…
    let schema = schema();
    schema.assert_valid(&j, "the report");
    // …as are the schema's own examples…
    schema.assert_examples_valid();
    // …and a report broken in one place is rejected there.
    let name = &cases[0].name;
    let col = format!("/columns/{name}");
    let broken = |pointer: &str, to: Option<Value>| json_schema::with_field(&j, pointer, to);
    let broken_cases: [(String, Option<Value>, String); 10] = [
        (format!("{col}/score"), None, col.clone()),
        (
            format!("{col}/kind"),
            Some("weird".into()),
            format!("{col}/kind"),
        ),
        (
            format!("{col}/test"),
            Some("t-test".into()),
            format!("{col}/test"),
        ),
        (
            format!("{col}/stats/psi"),
            Some(Value::Null),
            format!("{col}/stats/psi"),
        ),
        (
            format!("{col}/stats/psi"),
            Some("infinity".into()),
            format!("{col}/stats/psi"),
        ),
        (
            format!("{col}/stats/extra"),
            Some(1.into()),
            format!("{col}/stats"),
        ),
        ("/skipped".into(), None, "".into()),
        (
            "/skipped/only_ref".into(),
            Some("".into()),
            "/skipped/only_ref".into(),
        ),
        (
            "/share_drifted".into(),
            Some(1.5.into()),
            "/share_drifted".into(),
        ),
        ("/n_current".into(), Some(500.5.into()), "/n_current".into()),
    ];
    for (pointer, to, at) in broken_cases {
        schema.assert_rejects(
            &broken(&pointer, to.clone()),
            &at,
            &format!("{pointer} = {to:?}"),
        );
    }

    // Table: header with the verdict, one aligned row per column, DRIFT marks, skipped reasons.
    let table = report.to_table();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with(if report.drift.dataset_drift {
        "Dataset drift: YES"
    } else {
        "Dataset drift: NO"
    }));
    assert!(
        lines[0].contains(&format!("share {:.3}", report.drift.share_drifted)),
        "{}",
        lines[0]
    );
    assert!(lines[1].starts_with("column"));
    let kind_at = lines[1].find("kind").unwrap();
    for case in &cases {
        let row = lines
            .iter()
            .find(|l| l.starts_with(&format!("{} ", case.name)))
            .unwrap();
        assert_eq!(
            &row[kind_at..kind_at + 3],
            &case.expected["kind"].as_str().unwrap()[..3],
            "{row}"
        );
        assert_eq!(
            row.ends_with("DRIFT"),
            case.expected["drift"].as_bool().unwrap(),
            "{row}"
        );
        assert!(
            row.contains(&format!("  {}  ", case.expected["test"].as_str().unwrap())),
            "{row}"
        );
    }
    let width = lines[1].len();
    assert!(lines[2].chars().all(|c| c == '-' || c == ' ') && lines[2].len() == width);
    assert!(table.contains("Skipped columns:\n  only_cur: only in the current data\n"));
}

// ---------------------------------------------------------------------------
// Column selection, options, skips

fn floats(n: usize, f: impl Fn(usize) -> f64) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values((0..n).map(f)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selection_options_and_skips() {
    let dir = tempfile::tempdir().unwrap();
    let n = 300;
    let ts: ArrayRef = Arc::new(TimestampMillisecondArray::from_iter_values(
        (0..n as i64).map(|i| i * 1000),
    ));
    let small_int = |shift: i64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(
            (0..n as i64).map(|i| i % 4 + shift),
        ))
    };
    let nulls: ArrayRef = Arc::new(StringArray::from(vec![None::<&str>; n]));
    let r = dir.path().join("r.parquet");
    let c = dir.path().join("c.parquet");
    write_parquet_arrays(
        &r,
        &[
            ("a", floats(n, |i| (i % 97) as f64)),
            ("codes", small_int(0)),
            ("mixed", small_int(0)),
            ("event_time", Arc::clone(&ts)),
            ("empty", Arc::clone(&nulls)),
            ("only_ref", floats(n, |i| i as f64)),
        ],
    );
    write_parquet_arrays(
        &c,
        &[
            ("a", floats(n, |i| (i % 97) as f64 + 5.0)),
            ("codes", small_int(1)),
            ("mixed", floats(n, |i| (i % 4) as f64 + 0.5)),
            ("event_time", ts),
            (
                "empty",
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("v{}", i % 3)),
                )),
            ),
            ("only_cur", floats(n, |i| i as f64)),
        ],
    );
    let (rs, cs) = (r.to_str().unwrap(), c.to_str().unwrap());

    // All columns: skips with reasons.
    let report = run_drift_report(&DriftRequest::new(rs, cs)).await.unwrap();
    assert_eq!(
        report.drift.columns.keys().collect::<Vec<_>>(),
        ["a", "codes", "mixed"]
    );
    assert!(
        report.skipped["event_time"].contains("timestamp"),
        "{:?}",
        report.skipped
    );
    assert_eq!(report.skipped["only_ref"], "only in the reference data");
    assert_eq!(report.skipped["only_cur"], "only in the current data");
    assert!(
        report.skipped["empty"].contains("no values in the reference"),
        "{:?}",
        report.skipped
    );
    assert_eq!(report.drift.columns["codes"].kind, ColumnKind::Categorical);
    // Integers against floats are compared as floats (numeric).
    assert_eq!(report.drift.columns["mixed"].kind, ColumnKind::Numeric);

    // Requested columns, forced tests and thresholds.
    let mut req = DriftRequest::new(rs, cs);
    req.columns = Some(vec!["codes".into(), "a".into()]);
    req.stattest = BTreeMap::from([
        ("a".to_string(), StatTest::Psi),
        ("codes".to_string(), StatTest::Ks),
    ]);
    req.threshold = BTreeMap::from([("a".to_string(), 0.95)]);
    let report = run_drift_report(&req).await.unwrap();
    assert_eq!(
        report.drift.columns.keys().collect::<Vec<_>>(),
        ["a", "codes"]
    );
    assert!(
        report.skipped.is_empty(),
        "requested columns only: {:?}",
        report.skipped
    );
    let a = &report.drift.columns["a"];
    assert_eq!((a.test, a.threshold), (StatTest::Psi, 0.95));
    assert_eq!(a.score, a.stats.psi);
    assert_eq!(a.drift, a.score >= 0.95);
    // ks forced on a small-cardinality integer column: treated as numeric.
    let codes = &report.drift.columns["codes"];
    assert_eq!(
        (codes.test, codes.kind),
        (StatTest::Ks, ColumnKind::Numeric)
    );
    assert_eq!(codes.score, codes.stats.ks.unwrap().p_value);
    assert!(codes.drift);

    // A folder of Parquet files and a file:// URL read the same data as the single files.
    let folder = dir.path().join("ref_parts");
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    let half = n / 2;
    write_parquet_arrays(
        &folder.join("part-0.parquet"),
        &[("a", floats(half, |i| (i % 97) as f64))],
    );
    write_parquet_arrays(
        &folder.join("sub/part-1.parquet"),
        &[("a", floats(n - half, |i| ((i + half) % 97) as f64))],
    );
    std::fs::write(folder.join("_SUCCESS"), b"").unwrap();
    let url = url::Url::from_file_path(&c).unwrap().to_string();
    let mut req = DriftRequest::new(folder.to_str().unwrap(), url);
    req.columns = Some(vec!["a".into()]);
    let parts = run_drift_report(&req).await.unwrap();
    let single = run_drift_report(&DriftRequest {
        reference: rs.into(),
        ..req.clone()
    })
    .await
    .unwrap();
    assert_eq!(parts.drift.n_reference, n);
    let (p, s) = (&parts.drift.columns["a"], &single.drift.columns["a"]);
    assert_eq!(
        (p.test, p.drift, p.n_reference),
        (s.test, s.drift, s.n_reference)
    );
    assert!(
        close(p.score, s.score, 1e-12, 0.0),
        "{} vs {}",
        p.score,
        s.score
    );
}

// ---------------------------------------------------------------------------
// Errors

async fn err(req: &DriftRequest) -> String {
    match run_drift_report(req).await {
        Ok(r) => panic!(
            "expected an error, got a report with {:?}",
            r.drift.columns.keys().collect::<Vec<_>>()
        ),
        Err(e @ AnalyticsError::Input(_)) => e.to_string(),
        Err(e) => panic!("expected an input error, got {e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let n = 100;
    let r = dir.path().join("r.parquet");
    let c = dir.path().join("c.parquet");
    let labels: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("l{}", i % 5)),
    ));
    let nulls: ArrayRef = Arc::new(Float64Array::from(vec![None::<f64>; n]));
    write_parquet_arrays(
        &r,
        &[
            ("x", floats(n, |i| i as f64)),
            ("label", Arc::clone(&labels)),
            ("gone", floats(n, |i| i as f64)),
            ("blank", floats(n, |i| i as f64)),
        ],
    );
    write_parquet_arrays(
        &c,
        &[
            ("x", floats(n, |i| i as f64)),
            ("label", labels),
            ("blank", nulls),
        ],
    );
    let (rs, cs) = (r.to_str().unwrap(), c.to_str().unwrap());

    // Missing inputs name the path and the side.
    let missing = dir.path().join("nope.parquet");
    let e = err(&DriftRequest::new(missing.to_str().unwrap(), cs)).await;
    assert!(
        e.contains("reference") && e.contains(missing.to_str().unwrap()),
        "{e}"
    );
    let e = err(&DriftRequest::new(rs, missing.to_str().unwrap())).await;
    assert!(e.contains("current") && e.contains("nope.parquet"), "{e}");
    let e = err(&DriftRequest::new(rs, "memory:///bucket/cur.parquet")).await;
    assert!(
        e.contains("current input not found: memory:///bucket/cur.parquet"),
        "{e}"
    );
    let empty_dir = dir.path().join("empty");
    std::fs::create_dir(&empty_dir).unwrap();
    let e = err(&DriftRequest::new(empty_dir.to_str().unwrap(), cs)).await;
    assert!(
        e.contains("no .parquet files") && e.contains("reference"),
        "{e}"
    );

    // Empty inputs.
    let header_only = dir.path().join("h.csv");
    std::fs::write(&header_only, "x,label\n").unwrap();
    let e = err(&DriftRequest::new(rs, header_only.to_str().unwrap())).await;
    assert!(e.contains("current data has no rows"), "{e}");
    let zero = dir.path().join("zero.csv");
    std::fs::write(&zero, "").unwrap();
    let e = err(&DriftRequest::new(zero.to_str().unwrap(), cs)).await;
    assert!(e.contains("empty file") && e.contains("zero.csv"), "{e}");

    // A requested column absent on one side: named, with the side.
    let mut req = DriftRequest::new(rs, cs);
    req.columns = Some(vec!["x".into(), "gone".into()]);
    let e = err(&req).await;
    assert!(e.contains("'gone'") && e.contains("current"), "{e}");
    // A requested column with no values on one side.
    req.columns = Some(vec!["blank".into()]);
    let e = err(&req).await;
    assert!(
        e.contains("'blank'") && e.contains("current data has no values"),
        "{e}"
    );

    // A numeric test forced on a string column names the column.
    let mut req = DriftRequest::new(rs, cs);
    req.stattest.insert("label".into(), StatTest::Wasserstein);
    let e = err(&req).await;
    assert!(
        e.contains("'label'") && e.contains("wasserstein") && e.contains("string"),
        "{e}"
    );

    // Options for columns that are not compared; bad options.
    let mut req = DriftRequest::new(rs, cs);
    req.threshold.insert("typo".into(), 0.2);
    let e = err(&req).await;
    assert!(e.contains("'typo'") && e.contains("threshold"), "{e}");
    let mut req = DriftRequest::new(rs, cs);
    req.stattest.insert("gone".into(), StatTest::Ks);
    let e = err(&req).await;
    assert!(
        e.contains("'gone'") && e.contains("only in the reference"),
        "{e}"
    );
    let mut req = DriftRequest::new(rs, cs);
    req.threshold.insert("x".into(), f64::NAN);
    assert!(err(&req).await.contains("'x'"));
    let req = DriftRequest {
        drift_share: 1.5,
        ..DriftRequest::new(rs, cs)
    };
    assert!(err(&req).await.contains("drift_share"));

    // Nothing comparable at all.
    let other = dir.path().join("other.parquet");
    write_parquet_arrays(&other, &[("y", floats(n, |i| i as f64))]);
    let e = err(&DriftRequest::new(rs, other.to_str().unwrap())).await;
    assert!(e.contains("no column to compare"), "{e}");
}
