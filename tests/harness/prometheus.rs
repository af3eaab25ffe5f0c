//! The Prometheus text format, parsed strictly (tests/http.rs checks the
//! exposition with it; the crash tests read their in-flight signal with it).

use std::collections::BTreeMap;

/// One Prometheus sample: name, labels, value.
pub type Sample = (String, BTreeMap<String, String>, f64);

/// Parses the Prometheus text format: family → TYPE, and every sample as
/// (name, labels, value). Panics on a malformed line.
pub fn parse_prometheus(text: &str) -> (BTreeMap<String, String>, Vec<Sample>) {
    let mut types = BTreeMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (n, t) = rest.split_once(' ').expect("TYPE line");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                "{line}"
            );
            types.insert(n.to_string(), t.to_string());
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => {
                let l = l.strip_suffix('}').expect("closing brace");
                let mut map = BTreeMap::new();
                let mut rest = l;
                while !rest.is_empty() {
                    let (k, v) = rest.split_once("=\"").expect("label=\"");
                    // Value up to the first unescaped quote.
                    let mut end = 0;
                    let bytes = v.as_bytes();
                    while bytes[end] != b'"' {
                        end += if bytes[end] == b'\\' { 2 } else { 1 };
                    }
                    map.insert(k.to_string(), v[..end].to_string());
                    rest = v[end + 1..].trim_start_matches(',');
                }
                (n.to_string(), map)
            }
            None => (series.to_string(), BTreeMap::new()),
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name {name}"
        );
        // A histogram's samples are `<family>_bucket` (with `le`), `_sum`, `_count`.
        let family = ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
            let base = name.strip_suffix(suffix)?;
            (types.get(base).map(String::as_str) == Some("histogram")).then(|| base.to_string())
        });
        if family.is_some() {
            assert!(
                !name.ends_with("_bucket") || labels.contains_key("le"),
                "{name} without le"
            );
            assert!(value >= 0.0, "{name} negative");
            samples.push((name, labels, value));
            continue;
        }
        assert!(
            types.contains_key(&name),
            "{name} has no TYPE line before its samples"
        );
        if types[&name] == "counter" {
            assert!(
                name.ends_with("_total"),
                "counter {name} should end in _total"
            );
        }
        samples.push((name, labels, value));
    }
    (types, samples)
}

/// The sum of a metric family's samples (over all label sets) in a Prometheus
/// text exposition; `None` when the family has no sample.
pub fn metric_sum(exposition: &str, name: &str) -> Option<f64> {
    parse_prometheus(exposition)
        .1
        .iter()
        .filter(|(n, _, _)| n == name)
        .map(|(_, _, v)| *v)
        .reduce(|a, b| a + b)
}
