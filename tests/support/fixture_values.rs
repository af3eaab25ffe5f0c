//! Reading the sample columns of the committed scipy/Evidently fixtures
//! (`scripts/drift_fixtures/generate.py` writes them), shared by the drift and
//! report crates' tests: `#[path = "…/tests/support/fixture_values.rs"] mod fixture_values;`.

use serde_json::Value;

/// A numeric sample as the fixtures encode it: `text` (whitespace-separated
/// floats) or `counts` (integer keys over `scale`, with repeat counts, then
/// `nulls` NaNs).
pub fn decode_f64(v: &Value) -> Vec<f64> {
    match v["enc"].as_str().expect("enc") {
        "text" => v["data"]
            .as_str()
            .expect("data")
            .split_whitespace()
            .map(|t| t.parse::<f64>().expect("float"))
            .collect(),
        "counts" => {
            let scale = v["scale"].as_f64().expect("scale");
            let mut out = Vec::new();
            for pair in v["values"].as_array().expect("values") {
                let k = pair[0].as_i64().expect("k") as f64;
                let c = pair[1].as_u64().expect("count");
                out.extend(std::iter::repeat_n(k / scale, c as usize));
            }
            out.extend(std::iter::repeat_n(
                f64::NAN,
                v["nulls"].as_u64().expect("nulls") as usize,
            ));
            out
        }
        other => panic!("unknown encoding {other}"),
    }
}
