//! Compares every statistic with the values scipy/numpy (and a numpy port of
//! Evidently) produced in `scripts/drift_fixtures/generate.py`.

use feedloop_drift::special::{chi2_sf, kstwo_sf, ndtr};
use feedloop_drift::*;
use serde_json::Value;

#[path = "../../../tests/support/fixture_values.rs"]
mod fixture_values;
use fixture_values::decode_f64;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture file");
    serde_json::from_str(&text).expect("fixture json")
}

/// `|a − b| ≤ rtol·|b| + atol`; infinities must match exactly.
fn close(a: f64, b: f64, rtol: f64, atol: f64) -> bool {
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= rtol * b.abs() + atol
}

#[track_caller]
fn check(what: &str, got: f64, want: f64, rtol: f64, atol: f64) {
    assert!(
        close(got, want, rtol, atol),
        "{what}: got {got:e}, want {want:e} (diff {:e})",
        (got - want).abs()
    );
}

#[test]
fn special_functions_match_scipy() {
    let f = load("special.json");
    for row in f["kstwo_sf"].as_array().unwrap() {
        let (n, x, want) = (
            row[0].as_u64().unwrap(),
            row[1].as_f64().unwrap(),
            row[2].as_f64().unwrap(),
        );
        // Asymptotic distribution: 1e-6 relative (scipy mixes long double in places).
        check(
            &format!("kstwo.sf({x}, {n})"),
            kstwo_sf(n, x),
            want,
            1e-6,
            1e-15,
        );
    }
    for row in f["chi2_sf"].as_array().unwrap() {
        let (dof, x, want) = (
            row[0].as_f64().unwrap(),
            row[1].as_f64().unwrap(),
            row[2].as_f64().unwrap(),
        );
        check(
            &format!("chi2.sf({x}, {dof})"),
            chi2_sf(x, dof),
            want,
            1e-9,
            1e-300,
        );
    }
    for row in f["ndtr"].as_array().unwrap() {
        let (z, want) = (row[0].as_f64().unwrap(), row[1].as_f64().unwrap());
        check(&format!("ndtr({z})"), ndtr(z), want, 1e-12, 1e-300);
    }
}

#[test]
fn ks_2samp_matches_scipy() {
    for case in load("ks.json").as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let a = decode_f64(&case["a"]);
        let b = decode_f64(&case["b"]);
        let r = ks_2samp(&a, &b).unwrap();
        let exact = case["exact"].as_bool().unwrap();
        assert_eq!(r.exact, exact, "{name}: exact flag");
        check(
            &format!("{name} statistic"),
            r.statistic,
            case["statistic"].as_f64().unwrap(),
            1e-12,
            0.0,
        );
        let prtol = if exact { 1e-9 } else { 1e-6 };
        check(
            &format!("{name} p"),
            r.p_value,
            case["p_value"].as_f64().unwrap(),
            prtol,
            1e-14,
        );
        // Symmetry of the statistic and p-value.
        let s = ks_2samp(&b, &a).unwrap();
        check(
            &format!("{name} symmetric D"),
            s.statistic,
            r.statistic,
            1e-15,
            0.0,
        );
    }
}

fn opt_ints(v: &Value) -> Vec<Option<i64>> {
    v.as_array().unwrap().iter().map(|x| x.as_i64()).collect()
}
fn opt_bools(v: &Value) -> Vec<Option<bool>> {
    v.as_array().unwrap().iter().map(|x| x.as_bool()).collect()
}
fn opt_strs(v: &Value) -> Vec<Option<&str>> {
    v.as_array().unwrap().iter().map(|x| x.as_str()).collect()
}

#[test]
fn columns_match_scipy_and_evidently() {
    let cases = load("columns.json");
    let mut checked = 0;
    for case in cases.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let ex = &case["expected"];
        let (rf, cf);
        let (ri, ci);
        let (rb, cb);
        let (rs, cs);
        let (r, c) = match case["type"].as_str().unwrap() {
            "float" => {
                rf = decode_f64(&case["reference"]);
                cf = decode_f64(&case["current"]);
                (ColumnData::Float(&rf), ColumnData::Float(&cf))
            }
            "int" => {
                ri = opt_ints(&case["reference"]);
                ci = opt_ints(&case["current"]);
                (ColumnData::Int(&ri), ColumnData::Int(&ci))
            }
            "bool" => {
                rb = opt_bools(&case["reference"]);
                cb = opt_bools(&case["current"]);
                (ColumnData::Bool(&rb), ColumnData::Bool(&cb))
            }
            "str" => {
                rs = opt_strs(&case["reference"]);
                cs = opt_strs(&case["current"]);
                (ColumnData::Str(&rs), ColumnData::Str(&cs))
            }
            t => panic!("type {t}"),
        };
        let res = column_drift(r, c, &ColumnOptions::default()).unwrap();
        let f = |k: &str| match &ex[k] {
            Value::String(s) if s == "inf" => f64::INFINITY,
            v => v.as_f64().unwrap_or_else(|| panic!("{name}: missing {k}")),
        };
        let kind = match res.kind {
            ColumnKind::Numeric => "numeric",
            ColumnKind::Categorical => "categorical",
        };
        assert_eq!(kind, ex["kind"].as_str().unwrap(), "{name}: kind");
        assert_eq!(
            res.n_reference as u64,
            ex["n_reference"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            res.n_current as u64,
            ex["n_current"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            res.stats.bins.reference.len() as u64,
            ex["n_bins"].as_u64().unwrap(),
            "{name}: bins"
        );
        let st = &res.stats;
        check(&format!("{name} psi"), st.psi, f("psi"), 1e-9, 1e-15);
        check(&format!("{name} kl"), st.kl_div, f("kl_div"), 1e-9, 1e-15);
        check(
            &format!("{name} js"),
            st.jensenshannon,
            f("jensenshannon"),
            1e-9,
            1e-12,
        );
        check(
            &format!("{name} hellinger"),
            st.hellinger,
            f("hellinger"),
            1e-9,
            1e-7,
        );
        check(
            &format!("{name} chi stat"),
            st.chisquare.statistic,
            f("chisquare_statistic"),
            1e-9,
            1e-12,
        );
        check(
            &format!("{name} chi p"),
            st.chisquare.p_value,
            f("chisquare_p_value"),
            1e-9,
            1e-15,
        );
        match (st.z, ex.get("z_p_value")) {
            (Some(z), Some(_)) => {
                check(
                    &format!("{name} z"),
                    z.statistic,
                    f("z_statistic"),
                    1e-9,
                    1e-15,
                );
                check(
                    &format!("{name} z p"),
                    z.p_value,
                    f("z_p_value"),
                    1e-9,
                    1e-15,
                );
            }
            (None, None) => {}
            (a, b) => panic!("{name}: z presence differs: {a:?} vs {b:?}"),
        }
        if kind == "numeric" {
            let ks = st.ks.unwrap();
            let exact = ex["ks_exact"].as_bool().unwrap();
            assert_eq!(ks.exact, exact, "{name}: ks exact");
            check(
                &format!("{name} ks D"),
                ks.statistic,
                f("ks_statistic"),
                1e-12,
                0.0,
            );
            check(
                &format!("{name} ks p"),
                ks.p_value,
                f("ks_p_value"),
                if exact { 1e-9 } else { 1e-6 },
                1e-14,
            );
            check(
                &format!("{name} wasserstein"),
                st.wasserstein.unwrap(),
                f("wasserstein"),
                1e-9,
                1e-15,
            );
            check(
                &format!("{name} w normed"),
                st.wasserstein_normed.unwrap(),
                f("wasserstein_normed"),
                1e-9,
                1e-15,
            );
        } else {
            assert!(st.ks.is_none() && st.wasserstein.is_none());
        }
        assert_eq!(
            res.test.name(),
            ex["test"].as_str().unwrap(),
            "{name}: test"
        );
        let prtol = if res.test == StatTest::Ks && !st.ks.unwrap().exact {
            1e-6
        } else {
            1e-9
        };
        check(
            &format!("{name} score"),
            res.score,
            f("score"),
            prtol,
            1e-14,
        );
        assert_eq!(res.threshold, f("threshold"), "{name}");
        assert_eq!(res.drift, ex["drift"].as_bool().unwrap(), "{name}: drift");
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} fixture columns");
}
