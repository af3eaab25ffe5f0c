//! The report's renderings: JSON in the shape of
//! `schemas/drift-report.v1.schema.json` (non-finite floats as strings) and an
//! aligned text table.

use feedloop_drift::{ColumnDriftResult, ColumnKind, SketchEstimate};
use serde_json::{Map, Value, json};

use crate::request::DriftReport;

/// A float as JSON: a number, or `"inf"`, `"-inf"`, `"nan"` when not finite.
pub fn json_f64(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else if x.is_nan() {
        json!("nan")
    } else if x > 0.0 {
        json!("inf")
    } else {
        json!("-inf")
    }
}

fn kind_name(k: ColumnKind) -> &'static str {
    match k {
        ColumnKind::Numeric => "numeric",
        ColumnKind::Categorical => "categorical",
    }
}

fn column_json(c: &ColumnDriftResult) -> Value {
    let s = &c.stats;
    let mut stats = Map::new();
    if let Some(ks) = s.ks {
        stats.insert(
            "ks".into(),
            json!({"statistic": json_f64(ks.statistic), "p_value": json_f64(ks.p_value)}),
        );
    }
    if let Some(w) = s.wasserstein {
        stats.insert("wasserstein".into(), json_f64(w));
    }
    if let Some(w) = s.wasserstein_normed {
        stats.insert("wasserstein_normed".into(), json_f64(w));
    }
    stats.insert("psi".into(), json_f64(s.psi));
    stats.insert("jensenshannon".into(), json_f64(s.jensenshannon));
    stats.insert("kl_div".into(), json_f64(s.kl_div));
    stats.insert("hellinger".into(), json_f64(s.hellinger));
    stats.insert(
        "chisquare".into(),
        json!({"statistic": json_f64(s.chisquare.statistic), "p_value": json_f64(s.chisquare.p_value)}),
    );
    if let Some(z) = s.z {
        stats.insert(
            "z".into(),
            json!({"statistic": json_f64(z.statistic), "p_value": json_f64(z.p_value)}),
        );
    }
    let mut column = json!({
        "kind": kind_name(c.kind),
        "test": c.test.name(),
        "score": json_f64(c.score),
        "threshold": json_f64(c.threshold),
        "drift": c.drift,
        "stats": Value::Object(stats),
    });
    if let (Some(e), Some(obj)) = (&c.estimate, column.as_object_mut()) {
        obj.insert("estimate".into(), estimate_json(e));
    }
    column
}

/// How far a sketched column's statistics may be from the exact ones.
fn estimate_json(e: &SketchEstimate) -> Value {
    let mut obj = Map::new();
    obj.insert("k".into(), json!(e.k));
    obj.insert(
        "rank_error".into(),
        json!({
            "reference": json_f64(e.rank_error_reference),
            "current": json_f64(e.rank_error_current),
        }),
    );
    for (key, bound) in [
        ("ks_statistic_bound", e.ks_statistic_bound),
        ("wasserstein_bound", e.wasserstein_bound),
        ("wasserstein_normed_bound", e.wasserstein_normed_bound),
    ] {
        if let Some(b) = bound {
            obj.insert(key.into(), json_f64(b));
        }
    }
    obj.insert("bin_share_bound".into(), json_f64(e.bin_share_bound));
    obj.insert("pooled_bin".into(), json!(e.pooled_bin));
    Value::Object(obj)
}

/// Scores span p-values near 0 and distances near 1: scientific notation for tiny ones.
fn fmt_score(x: f64) -> String {
    if x != 0.0 && x.is_finite() && x.abs() < 1e-4 {
        format!("{x:.3e}")
    } else {
        format!("{x:.6}")
    }
}

impl DriftReport {
    /// The report as JSON, in the shape of `schemas/drift-report.v1.schema.json`:
    ///
    /// ```text
    /// {"dataset_drift": bool, "share_drifted": f, "n_reference": n, "n_current": n,
    ///  "columns": {"<name>": {"kind", "test", "score", "threshold", "drift", "stats": {…}}},
    ///  "skipped": {"<name>": "reason"}}
    /// ```
    ///
    /// `stats` holds every statistic that applies to the column: `ks`,
    /// `wasserstein` and `wasserstein_normed` for numeric columns only, `z`
    /// only when the two samples together have at most two distinct values;
    /// `psi`, `jensenshannon`, `kl_div`, `hellinger`, `chisquare` always.
    /// Non-finite floats are the strings `"inf"`, `"-inf"`, `"nan"`.
    ///
    /// A column estimated from quantile sketches (sketch mode) also has
    /// `"estimate": {"k", "rank_error": {"reference", "current"},
    /// "ks_statistic_bound", "wasserstein_bound", "wasserstein_normed_bound",
    /// "bin_share_bound", "pooled_bin"}` (the three first bounds for numeric
    /// columns only); an exact column has none.
    pub fn to_json(&self) -> Value {
        let columns: Map<String, Value> = self
            .drift
            .columns
            .iter()
            .map(|(name, c)| (name.clone(), column_json(c)))
            .collect();
        let skipped: Map<String, Value> = self
            .skipped
            .iter()
            .map(|(name, why)| (name.clone(), Value::String(why.clone())))
            .collect();
        json!({
            "dataset_drift": self.drift.dataset_drift,
            "share_drifted": json_f64(self.drift.share_drifted),
            "n_reference": self.drift.n_reference,
            "n_current": self.drift.n_current,
            "columns": Value::Object(columns),
            "skipped": Value::Object(skipped),
        })
    }

    /// A human-readable, aligned table: a header line with the dataset
    /// verdict and share, one row per column (`DRIFT` marks drifted
    /// columns, `≈` an estimated score), a note when scores are estimated,
    /// then the skipped columns with their reasons.
    pub fn to_table(&self) -> String {
        let d = &self.drift;
        let mut out = format!(
            "Dataset drift: {} ({} of {} columns drifted, share {:.3}, threshold {}; reference {} rows, current {} rows)\n",
            if d.dataset_drift { "YES" } else { "NO" },
            d.n_drifted,
            d.columns.len(),
            d.share_drifted,
            self.drift_share,
            d.n_reference,
            d.n_current,
        );
        let header = ["column", "kind", "test", "score", "threshold", "drift"].map(String::from);
        let rows: Vec<[String; 6]> = d
            .columns
            .iter()
            .map(|(name, c)| {
                [
                    name.clone(),
                    kind_name(c.kind).to_string(),
                    c.test.name().to_string(),
                    match c.estimate {
                        Some(_) => format!("≈{}", fmt_score(c.score)),
                        None => fmt_score(c.score),
                    },
                    fmt_score(c.threshold),
                    if c.drift {
                        "DRIFT".to_string()
                    } else {
                        "-".to_string()
                    },
                ]
            })
            .collect();
        let mut width = header.clone().map(|h| h.chars().count());
        for r in &rows {
            for (w, cell) in width.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String; 6]| {
            let mut s = String::new();
            for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
                let pad = w - cell.chars().count();
                // Numbers right-aligned, text left-aligned.
                if i == 3 || i == 4 {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(cell);
                } else {
                    s.push_str(cell);
                    if i + 1 < cells.len() {
                        s.push_str(&" ".repeat(pad));
                    }
                }
                if i + 1 < cells.len() {
                    s.push_str("  ");
                }
            }
            s.push('\n');
            s
        };
        out.push_str(&line(&header));
        out.push_str(&line(&width.map(|w| "-".repeat(w))));
        for r in &rows {
            out.push_str(&line(r));
        }
        if let Some(k) = d
            .columns
            .values()
            .filter_map(|c| c.estimate)
            .map(|e| e.k)
            .min()
        {
            out.push_str(&format!(
                "≈ estimated from quantile sketches (k = {k}); the JSON report gives each column's error bounds\n"
            ));
        }
        if !self.skipped.is_empty() {
            out.push_str("Skipped columns:\n");
            for (name, why) in &self.skipped {
                out.push_str(&format!("  {name}: {why}\n"));
            }
        }
        out
    }
}
