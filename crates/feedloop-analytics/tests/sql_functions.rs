//! SQL drift aggregates equal the drift crate's functions on the same data,
//! ignore NULLs, and give identical results whatever the partitioning.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int32Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use feedloop_analytics::register_drift_functions;
use feedloop_drift as drift;

/// Rows of (feature, value, is_current); `None` value or flag = NULL.
struct Rows {
    feature: Vec<String>,
    value: Vec<Option<f64>>,
    label: Vec<Option<String>>,
    is_current: Vec<Option<bool>>,
}

/// Deterministic pseudo-random numbers (no extra dependency).
fn lcg(seed: &mut u64) -> f64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 11) as f64 / (1u64 << 53) as f64
}

fn data() -> Rows {
    let mut seed = 42;
    let mut rows = Rows {
        feature: vec![],
        value: vec![],
        label: vec![],
        is_current: vec![],
    };
    // f_shift: continuous with a shift; f_same: no drift; f_few: 4 distinct values; f_big: > 1000 rows.
    let specs: [(&str, usize, f64); 4] = [
        ("f_shift", 700, 0.4),
        ("f_same", 500, 0.0),
        ("f_few", 400, 0.0),
        ("f_big", 3000, 0.1),
    ];
    for (name, n, shift) in specs {
        for i in 0..n {
            let current = i % 2 == 1;
            let u = lcg(&mut seed);
            let mut v = (u * 2.0 - 1.0) + if current { shift } else { 0.0 };
            if name == "f_few" {
                v = ((u * 4.0).floor() + if current && i % 5 == 0 { 1.0 } else { 0.0 }).min(3.0);
            }
            let label =
                ["a", "b", "c", "d"][((u * 4.0) as usize + usize::from(current && i % 7 == 0)) % 4];
            rows.feature.push(name.to_string());
            rows.value.push(Some(v));
            rows.label.push(Some(label.to_string()));
            rows.is_current.push(Some(current));
            // NULLs, NaN and infinities everywhere: all ignored.
            if i % 50 == 0 {
                rows.feature.push(name.to_string());
                rows.value.push(None);
                rows.label.push(None);
                rows.is_current.push(Some(current));
                rows.feature.push(name.to_string());
                rows.value.push(Some(1e9));
                rows.label.push(Some("zzz".into()));
                rows.is_current.push(None);
                rows.feature.push(name.to_string());
                rows.value.push(Some(if i % 100 == 0 {
                    f64::NAN
                } else {
                    f64::INFINITY
                }));
                rows.label.push(None);
                rows.is_current.push(Some(current));
            }
        }
    }
    rows
}

/// Per feature: numeric reference and current, categorical reference and current.
type FeatureSamples = (Vec<f64>, Vec<f64>, Vec<String>, Vec<String>);

/// The library's view: per feature, clean (reference, current) samples.
fn samples(rows: &Rows) -> BTreeMap<String, FeatureSamples> {
    let mut m: BTreeMap<String, FeatureSamples> = BTreeMap::new();
    for i in 0..rows.feature.len() {
        let e = m.entry(rows.feature[i].clone()).or_default();
        let Some(cur) = rows.is_current[i] else {
            continue;
        };
        if let Some(v) = rows.value[i].filter(|v| v.is_finite()) {
            if cur { e.1.push(v) } else { e.0.push(v) }
        }
        if let Some(l) = &rows.label[i] {
            if cur {
                e.3.push(l.clone())
            } else {
                e.2.push(l.clone())
            }
        }
    }
    m
}

/// A context whose `obs` table holds the rows split into `parts` partitions (row-interleaved).
fn context(rows: &Rows, target_partitions: usize, parts: usize) -> SessionContext {
    let schema = Arc::new(Schema::new(vec![
        Field::new("feature", DataType::Utf8, false),
        Field::new("value", DataType::Float64, true),
        Field::new("label", DataType::Utf8, true),
        Field::new("is_current", DataType::Boolean, true),
        Field::new("small", DataType::Int32, true),
    ]));
    let mut partitions = Vec::new();
    for p in 0..parts {
        let idx: Vec<usize> = (0..rows.feature.len()).filter(|i| i % parts == p).collect();
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                idx.iter().map(|&i| rows.feature[i].clone()),
            )),
            Arc::new(Float64Array::from_iter(idx.iter().map(|&i| rows.value[i]))),
            Arc::new(StringArray::from_iter(
                idx.iter().map(|&i| rows.label[i].clone()),
            )),
            Arc::new(BooleanArray::from_iter(
                idx.iter().map(|&i| rows.is_current[i]),
            )),
            Arc::new(Int32Array::from_iter(idx.iter().map(|&i| {
                rows.value[i]
                    .filter(|v| v.is_finite())
                    .map(|v| (v * 10.0) as i32)
            }))),
        ];
        partitions.push(vec![
            RecordBatch::try_new(Arc::clone(&schema), cols).unwrap(),
        ]);
    }
    let ctx = SessionContext::new_with_config(
        SessionConfig::new().with_target_partitions(target_partitions),
    );
    ctx.register_table(
        "obs",
        Arc::new(MemTable::try_new(schema, partitions).unwrap()),
    )
    .unwrap();
    register_drift_functions(&ctx);
    ctx
}

const QUERY: &str = "SELECT feature,
        ks_2samp(value, is_current) AS ks,
        wasserstein(value, is_current) AS w,
        wasserstein_normed(value, is_current) AS wn,
        psi(value, is_current) AS psi,
        jensenshannon(value, is_current) AS js,
        chisquare(value, is_current) AS chi,
        psi(label, is_current) AS psi_cat,
        jensenshannon(label, is_current) AS js_cat,
        chisquare(label, is_current) AS chi_cat,
        wasserstein(small, is_current) AS w_int
    FROM obs GROUP BY feature ORDER BY feature";

type Row = (String, Vec<Option<f64>>);

async fn run(ctx: &SessionContext, sql: &str) -> Vec<Row> {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let mut out = Vec::new();
    for b in &batches {
        let feature = b.column(0).as_string::<i32>();
        for r in 0..b.num_rows() {
            let mut vals = Vec::new();
            for c in 1..b.num_columns() {
                let col = b.column(c);
                match col.data_type() {
                    DataType::Float64 => {
                        let a = col.as_primitive::<Float64Type>();
                        vals.push(a.is_valid(r).then(|| a.value(r)));
                    }
                    DataType::Struct(_) => {
                        let s = col.as_struct();
                        for f in 0..2 {
                            let a = s.column(f).as_primitive::<Float64Type>();
                            vals.push((s.is_valid(r) && a.is_valid(r)).then(|| a.value(r)));
                        }
                    }
                    t => panic!("unexpected result type {t}"),
                }
            }
            out.push((feature.value(r).to_string(), vals));
        }
    }
    out
}

fn binned(bins: &drift::BinnedCounts) -> (f64, f64, f64, f64) {
    let (rp, cp) = bins.proportions();
    let psi = drift::psi(&drift::fill_zeroes(&rp), &drift::fill_zeroes(&cp)).unwrap();
    let js = drift::jensenshannon(&rp, &cp).unwrap();
    let chi = drift::chisquare_counts(bins).unwrap();
    (psi, js, chi.statistic, chi.p_value)
}

fn assert_close(what: &str, got: Option<f64>, want: f64) {
    let got = got.unwrap_or_else(|| panic!("{what}: NULL"));
    let ok = if want.is_infinite() {
        got == want
    } else {
        (got - want).abs() <= 1e-12 * want.abs() + 1e-15
    };
    assert!(ok, "{what}: SQL {got:e} vs library {want:e}");
}

#[tokio::test]
async fn sql_equals_library() {
    let rows = data();
    let ctx = context(&rows, 4, 4);
    let got = run(&ctx, QUERY).await;
    let want = samples(&rows);
    assert_eq!(got.len(), want.len());
    for (feature, vals) in &got {
        let (r, c, rl, cl) = &want[feature];
        let ks = drift::ks_2samp(r, c).unwrap();
        let (psi, js, chi_s, chi_p) = binned(&drift::bin_numeric(r, c).unwrap());
        let (psi_c, js_c, chi_sc, chi_pc) = binned(&drift::bin_by_value(rl, cl).unwrap());
        let ri: Vec<f64> = r.iter().map(|v| ((v * 10.0) as i32) as f64).collect();
        let ci: Vec<f64> = c.iter().map(|v| ((v * 10.0) as i32) as f64).collect();
        let expect = [
            ("ks statistic", ks.statistic),
            ("ks p", ks.p_value),
            ("wasserstein", drift::wasserstein_distance(r, c).unwrap()),
            (
                "wasserstein_normed",
                drift::wasserstein_normed(r, c).unwrap(),
            ),
            ("psi", psi),
            ("jensenshannon", js),
            ("chisquare statistic", chi_s),
            ("chisquare p", chi_p),
            ("psi categorical", psi_c),
            ("jensenshannon categorical", js_c),
            ("chisquare categorical statistic", chi_sc),
            ("chisquare categorical p", chi_pc),
            (
                "wasserstein of an INT column",
                drift::wasserstein_distance(&ri, &ci).unwrap(),
            ),
        ];
        assert_eq!(vals.len(), expect.len());
        for (v, (what, w)) in vals.iter().zip(expect) {
            assert_close(&format!("{feature} {what}"), *v, w);
        }
    }
    // The samples really are different per feature (the comparison is not vacuous).
    let shift = &got.iter().find(|(f, _)| f == "f_shift").unwrap().1;
    let same = &got.iter().find(|(f, _)| f == "f_same").unwrap().1;
    assert!(
        shift[1].unwrap() < 1e-6 && same[1].unwrap() > 0.05,
        "{shift:?} {same:?}"
    );
}

#[tokio::test]
async fn identical_across_partitionings() {
    let rows = data();
    let base = run(&context(&rows, 1, 1), QUERY).await;
    for (target, parts) in [(1, 4), (4, 4), (4, 1), (3, 7)] {
        let got = run(&context(&rows, target, parts), QUERY).await;
        // Bit-for-bit: samples are sorted before the statistic is computed.
        let bits = |rows: &[Row]| -> Vec<(String, Vec<Option<u64>>)> {
            rows.iter()
                .map(|(f, v)| (f.clone(), v.iter().map(|x| x.map(f64::to_bits)).collect()))
                .collect()
        };
        assert_eq!(
            bits(&got),
            bits(&base),
            "target_partitions={target}, {parts} input partitions"
        );
    }
    // Partial/final aggregation really ran: the plan has a partial and a final aggregate.
    let ctx = context(&rows, 4, 4);
    let plan = ctx
        .sql(&format!("EXPLAIN {QUERY}"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&plan)
        .unwrap()
        .to_string();
    assert!(
        text.contains("mode=Partial") && text.contains("mode=Final"),
        "{text}"
    );
}

#[tokio::test]
async fn nulls_empty_samples_and_type_errors() {
    let rows = data();
    let ctx = context(&rows, 2, 2);
    // A group whose current sample is empty gives NULL.
    let got = run(
        &ctx,
        "SELECT 'x', ks_2samp(value, false) AS ks, psi(value, false) AS p FROM obs",
    )
    .await;
    assert_eq!(got[0].1, vec![None, None, None]);
    // No categorical form for KS / Wasserstein.
    for f in ["ks_2samp", "wasserstein", "wasserstein_normed"] {
        let e = ctx
            .sql(&format!("SELECT {f}(label, is_current) FROM obs"))
            .await
            .expect_err("error");
        assert!(e.to_string().contains("needs a numeric value"), "{f}: {e}");
    }
    let e = ctx
        .sql("SELECT psi(value, 1) FROM obs")
        .await
        .expect_err("error");
    assert!(e.to_string().contains("is_current must be BOOLEAN"), "{e}");
    let e = ctx
        .sql("SELECT psi(value) FROM obs")
        .await
        .expect_err("error");
    assert!(e.to_string().contains("takes 2 arguments"), "{e}");
}

/// Every ```sql block of docs/sql.md runs (on `obs` and a small `predictions` table).
#[tokio::test]
async fn docs_examples_run() {
    use datafusion::arrow::array::TimestampMillisecondArray;
    let rows = data();
    let ctx = context(&rows, 2, 2);
    // The examples say `now()`; the test runs them at a fixed instant instead
    // (the query engine's `now()` is the wall clock, which no test reads).
    let now_ms: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z
    let now_sql = format!("arrow_cast({now_ms}, 'Timestamp(Millisecond, Some(\"UTC\"))')");
    let n = 400;
    let schema = Arc::new(Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new(
            "ts",
            DataType::Timestamp(
                datafusion::arrow::datatypes::TimeUnit::Millisecond,
                Some("UTC".into()),
            ),
            false,
        ),
        Field::new("output_label", DataType::Utf8, true),
        Field::new("output_score", DataType::Float64, true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| if i % 2 == 0 { "m1" } else { "m2" }),
        )),
        Arc::new(
            TimestampMillisecondArray::from_iter_values(
                (0..n).map(|i| now_ms - (i as i64) * 1_200_000),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| ["cat", "dog", "eel"][i % 3]),
        )),
        Arc::new(Float64Array::from_iter_values(
            (0..n).map(|i| ((i * 37) % 101) as f64 / 101.0),
        )),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), cols).unwrap();
    ctx.register_table(
        "predictions",
        Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap()),
    )
    .unwrap();
    let doc = std::fs::read_to_string(format!("{}/../../docs/sql.md", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    let blocks: Vec<&str> = doc
        .split("```sql")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert!(blocks.len() >= 3);
    for doc_sql in blocks {
        let sql = &doc_sql.replace("now()", &now_sql);
        let batches = ctx
            .sql(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .collect()
            .await
            .unwrap();
        let n_rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert!(n_rows > 0, "{sql}: no rows");
        // No NULL results: both samples were non-empty in every group.
        for b in &batches {
            for c in b.columns() {
                assert_eq!(c.null_count(), 0, "{sql}: NULL in {:?}", c.data_type());
            }
        }
    }
}
