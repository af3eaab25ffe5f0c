//! `DriftRequest::sketch`: numeric columns summarised batch by batch into
//! quantile sketches, estimated within their bounds; booleans, strings and
//! low-cardinality numbers identical to exact mode; exact mode unchanged.

mod fixture_columns;

#[path = "../../../tests/support/json_schema.rs"]
mod json_schema;

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use feedloop_drift::ColumnDriftResult;
use feedloop_report::{DriftReport, DriftRequest, run_drift_report};
use fixture_columns::write_parquet_arrays;

/// SplitMix64 with a Box–Muller normal: seeded, reproducible data.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self, mu: f64) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        mu + (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// The columns of one side: `shift` moves the numeric ones, `null_every`
/// puts a NULL in the integer column `xi` every so many rows.
fn side(
    rng: &mut Rng,
    rows: std::ops::Range<usize>,
    shift: f64,
    null_every: usize,
) -> Vec<(&'static str, ArrayRef)> {
    let n = rows.len();
    let x: Vec<f64> = (0..n).map(|_| rng.normal(shift)).collect();
    let xi: Vec<Option<i64>> = rows
        .clone()
        .map(|i| {
            (i % null_every != 7).then(|| (rng.next_u64() % 5000) as i64 + (shift * 500.0) as i64)
        })
        .collect();
    let few: Vec<f64> = (0..n)
        .map(|_| (rng.next_u64() % 12) as f64 * 0.5 + shift)
        .collect();
    vec![
        ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
        ("xi", Arc::new(Int64Array::from(xi))),
        (
            "code",
            Arc::new(Int64Array::from_iter_values(
                rows.clone().map(|i| (i % 5) as i64),
            )),
        ),
        ("few", Arc::new(Float64Array::from(few))),
        (
            "color",
            Arc::new(StringArray::from_iter_values(rows.clone().map(|i| {
                ["red", "green", "blue"][(i * 7 + (shift > 0.0) as usize) % 3]
            }))),
        ),
        (
            "flag",
            Arc::new(BooleanArray::from_iter(rows.map(|i| Some(i % 3 == 0)))),
        ),
    ]
}

/// The estimate is within twice its bounds of the exact result (the bounds
/// hold per query at 99 % confidence; see feedloop-drift's tests/sketch.rs).
#[track_caller]
fn assert_estimated(name: &str, est: &ColumnDriftResult, exact: &ColumnDriftResult, k: u16) {
    let e = est
        .estimate
        .unwrap_or_else(|| panic!("{name}: not estimated"));
    assert_eq!(e.k, k, "{name}");
    assert!(
        e.rank_error_reference > 0.0 && e.rank_error_current > 0.0,
        "{name}: {e:?}"
    );
    assert_eq!(exact.estimate, None, "{name}");
    assert_eq!((est.kind, est.test), (exact.kind, exact.test), "{name}");
    assert_eq!(
        (est.n_reference, est.n_current),
        (exact.n_reference, exact.n_current),
        "{name}"
    );
    let (d, d_exact) = (
        est.stats.ks.unwrap().statistic,
        exact.stats.ks.unwrap().statistic,
    );
    let bound = e.ks_statistic_bound.unwrap();
    assert!(
        (d - d_exact).abs() <= 2.0 * bound,
        "{name}: D {d} vs {d_exact} (bound {bound})"
    );
    let (w, w_exact) = (
        est.stats.wasserstein.unwrap(),
        exact.stats.wasserstein.unwrap(),
    );
    let bound = e.wasserstein_bound.unwrap();
    assert!(
        (w - w_exact).abs() <= 2.0 * bound,
        "{name}: W {w} vs {w_exact} (bound {bound})"
    );
}

fn estimate_keys(report: &DriftReport, name: &str) -> Option<Vec<String>> {
    let j = report.to_json();
    j["columns"][name]
        .get("estimate")
        .map(|e| e.as_object().unwrap().keys().cloned().collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sketch_mode_estimates_large_numeric_columns_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(17);
    // The reference is a folder of two files (several batches each), the
    // current a single file with NULLs in its integer column `xi`.
    let (n_ref, n_cur) = (150_000, 120_000);
    let folder = dir.path().join("reference");
    std::fs::create_dir_all(&folder).unwrap();
    write_parquet_arrays(
        &folder.join("part-0.parquet"),
        &side(&mut rng, 0..100_000, 0.0, usize::MAX),
    );
    write_parquet_arrays(
        &folder.join("part-1.parquet"),
        &side(&mut rng, 100_000..n_ref, 0.0, usize::MAX),
    );
    let cur = dir.path().join("current.parquet");
    write_parquet_arrays(&cur, &side(&mut rng, 0..n_cur, 0.3, 1000));
    let (rs, cs) = (folder.to_str().unwrap(), cur.to_str().unwrap());

    let exact = run_drift_report(&DriftRequest::new(rs, cs)).await.unwrap();
    let k = 200;
    let req = DriftRequest {
        sketch: Some(k),
        ..DriftRequest::new(rs, cs)
    };
    let sketched = run_drift_report(&req).await.unwrap();

    // The same columns, compared the same way.
    assert_eq!(
        sketched.drift.columns.keys().collect::<Vec<_>>(),
        exact.drift.columns.keys().collect::<Vec<_>>()
    );
    assert_eq!(sketched.drift.columns.len(), 6);
    assert_eq!(sketched.skipped, exact.skipped);
    assert_eq!(
        (sketched.drift.n_reference, sketched.drift.n_current),
        (n_ref, n_cur)
    );
    // Exact mode has no estimate anywhere.
    assert!(exact.drift.columns.values().all(|c| c.estimate.is_none()));
    assert!(
        !serde_json::to_string(&exact.to_json())
            .unwrap()
            .contains("estimate")
    );

    // High-cardinality numbers are estimated (`xi` as floats: its current
    // data has NULLs), within the bounds of the exact statistics.
    for name in ["x", "xi"] {
        assert_estimated(
            name,
            &sketched.drift.columns[name],
            &exact.drift.columns[name],
            k,
        );
        assert_eq!(
            sketched.drift.columns[name].drift, exact.drift.columns[name].drift,
            "{name}: a clear shift"
        );
    }
    assert!(exact.drift.columns["x"].drift);
    // Few distinct values, strings and booleans: identical to exact mode.
    for name in ["code", "few", "color", "flag"] {
        assert_eq!(
            sketched.drift.columns[name], exact.drift.columns[name],
            "{name}"
        );
    }
    assert_eq!(sketched.drift.dataset_drift, exact.drift.dataset_drift);

    // JSON: an `estimate` object on estimated columns only, schema-valid.
    let j = sketched.to_json();
    json_schema::Schema::load("drift-report.v1.schema.json")
        .assert_valid(&j, "the sketched report");
    let mut keys = estimate_keys(&sketched, "x").expect("x has an estimate");
    keys.sort();
    assert_eq!(
        keys,
        [
            "bin_share_bound",
            "k",
            "ks_statistic_bound",
            "pooled_bin",
            "rank_error",
            "wasserstein_bound",
            "wasserstein_normed_bound"
        ]
    );
    assert_eq!(j["columns"]["x"]["estimate"]["k"], 200);
    assert!(estimate_keys(&sketched, "color").is_none());
    // The table marks the estimated scores.
    let table = sketched.to_table();
    assert!(table.contains('≈') && table.contains("k = 200"), "{table}");
    assert!(!exact.to_table().contains('≈'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sketch_mode_streams_csv_and_rejects_a_bad_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(23);
    let (r, c) = (dir.path().join("r.csv"), dir.path().join("c.csv"));
    let mut rb = String::from("x,color\n");
    let mut cb = String::from("x,color\n");
    for i in 0..20_000 {
        rb.push_str(&format!("{},{}\n", rng.normal(0.0), ["a", "b"][i % 2]));
        cb.push_str(&format!("{},{}\n", rng.normal(1.0), ["a", "b"][i % 2]));
    }
    std::fs::write(&r, rb).unwrap();
    std::fs::write(&c, cb).unwrap();
    let (rs, cs) = (r.to_str().unwrap(), c.to_str().unwrap());
    let exact = run_drift_report(&DriftRequest::new(rs, cs)).await.unwrap();
    let req = DriftRequest {
        sketch: Some(64),
        ..DriftRequest::new(rs, cs)
    };
    let sketched = run_drift_report(&req).await.unwrap();
    assert_estimated(
        "x",
        &sketched.drift.columns["x"],
        &exact.drift.columns["x"],
        64,
    );
    assert!(sketched.drift.columns["x"].drift);
    assert_eq!(
        sketched.drift.columns["color"],
        exact.drift.columns["color"]
    );

    let bad = DriftRequest {
        sketch: Some(3),
        ..DriftRequest::new(rs, cs)
    };
    let e = run_drift_report(&bad).await.unwrap_err().to_string();
    assert!(e.contains("sketch size k") && e.contains('3'), "{e}");
}
