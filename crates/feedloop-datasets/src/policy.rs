//! Selection policies: [`PolicyKind`] (the name), [`PolicyParams`] (the one
//! definition of their parameters, shared by the config and the command line)
//! and [`Policy`] (a kind with its checked parameters).

use serde::{Deserialize, Serialize};

/// Which rows a dataset holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    Wrong,
    Corrected,
    Sample,
    Stratified,
    Uncertain,
    Drifted,
    Sql,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 7] = [
        PolicyKind::Wrong,
        PolicyKind::Corrected,
        PolicyKind::Sample,
        PolicyKind::Stratified,
        PolicyKind::Uncertain,
        PolicyKind::Drifted,
        PolicyKind::Sql,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Wrong => "wrong",
            PolicyKind::Corrected => "corrected",
            PolicyKind::Sample => "sample",
            PolicyKind::Stratified => "stratified",
            PolicyKind::Uncertain => "uncertain",
            PolicyKind::Drifted => "drifted",
            PolicyKind::Sql => "sql",
        }
    }
}

impl std::str::FromStr for PolicyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PolicyKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown policy `{s}` (wrong, corrected, sample, stratified, uncertain, drifted, sql)"))
    }
}

/// Parameters of the policies (each uses some; see [`Policy`]): the keys of an
/// `[[export.datasets]]` entry beside its policy, and the options of
/// `feedloop export` (with the `clap` feature). The field docs are the
/// command's help.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(default, deny_unknown_fields)]
pub struct PolicyParams {
    /// sample: share of predictions kept, in [0, 1] (deterministic per prediction id and seed).
    #[cfg_attr(feature = "clap", arg(long))]
    pub rate: Option<f64>,
    /// sample, stratified: hash seed [default: 0].
    #[cfg_attr(feature = "clap", arg(long))]
    pub seed: Option<u64>,
    /// stratified: most rows per stratum.
    #[cfg_attr(feature = "clap", arg(long))]
    pub cap: Option<u64>,
    /// stratified: stratum keys, comma-separated: label (the corrected label, else
    /// the predicted one), model_version, tag:NAME [default: label].
    #[cfg_attr(feature = "clap", arg(long, value_delimiter = ','))]
    pub by: Vec<String>,
    /// uncertain: decision boundary of output_score [default: 0.5].
    #[cfg_attr(feature = "clap", arg(long))]
    pub boundary: Option<f64>,
    /// uncertain: half-width of the band around the boundary [default: 0.1].
    #[cfg_attr(feature = "clap", arg(long))]
    pub band: Option<f64>,
    /// drifted: alert states that count (repeatable; default: any but ok/resolved/inactive/normal).
    #[cfg_attr(feature = "clap", arg(long = "alert-state"))]
    pub alert_states: Vec<String>,
    /// sql: predicate over the feedback view (prediction columns, corrected_label,
    /// corrected_value, correction_source, correction_ts, correction_count,
    /// is_corrected, is_wrong).
    #[serde(rename = "where")]
    #[cfg_attr(feature = "clap", arg(long = "where"))]
    pub where_clause: Option<String>,
}

impl PolicyParams {
    /// The config keys of the parameters, as serde names the fields above
    /// (checked by a test).
    pub const KEYS: [&'static str; 8] = [
        "rate",
        "seed",
        "cap",
        "by",
        "boundary",
        "band",
        "alert_states",
        "where",
    ];
}

/// A selection policy with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    /// Every corrected prediction whose correction says it was wrong.
    Wrong,
    /// Every corrected prediction.
    Corrected,
    /// Uniform sample: kept iff `unit_hash(prediction_id, seed) < rate`.
    Sample { rate: f64, seed: u64 },
    /// At most `cap` rows per stratum, the ones with the smallest `unit_hash`.
    Stratified {
        cap: u64,
        by: Vec<String>,
        seed: u64,
    },
    /// `boundary − band ≤ output_score ≤ boundary + band`.
    Uncertain { boundary: f64, band: f64 },
    /// Predictions of a model version, in a window and segment that raised an alert.
    Drifted { states: Vec<String> },
    /// A SQL predicate over the `feedback` view.
    Sql { where_clause: String },
}

impl Policy {
    pub fn from_params(kind: PolicyKind, p: &PolicyParams) -> Result<Policy, String> {
        let seed = p.seed.unwrap_or(0);
        Ok(match kind {
            PolicyKind::Wrong => Policy::Wrong,
            PolicyKind::Corrected => Policy::Corrected,
            PolicyKind::Sample => {
                let rate = p.rate.ok_or("policy `sample` needs a rate (--rate)")?;
                if !(0.0..=1.0).contains(&rate) {
                    return Err(format!("rate must be in [0, 1], got {rate}"));
                }
                Policy::Sample { rate, seed }
            }
            PolicyKind::Stratified => {
                let cap = p
                    .cap
                    .ok_or("policy `stratified` needs a cap per stratum (--cap)")?;
                let by = if p.by.is_empty() {
                    vec!["label".to_string()]
                } else {
                    p.by.clone()
                };
                for k in &by {
                    if !(k == "label"
                        || k == "model_version"
                        || k.strip_prefix("tag:").is_some_and(|t| !t.is_empty()))
                    {
                        return Err(format!(
                            "stratum key `{k}`: expected label, model_version or tag:<name>"
                        ));
                    }
                }
                Policy::Stratified { cap, by, seed }
            }
            PolicyKind::Uncertain => {
                let boundary = p.boundary.unwrap_or(0.5);
                let band = p.band.unwrap_or(0.1);
                if !boundary.is_finite() || !band.is_finite() || band < 0.0 {
                    return Err("boundary and band must be finite, band ≥ 0".into());
                }
                Policy::Uncertain { boundary, band }
            }
            PolicyKind::Drifted => Policy::Drifted {
                states: p.alert_states.clone(),
            },
            PolicyKind::Sql => Policy::Sql {
                where_clause: p
                    .where_clause
                    .clone()
                    .filter(|w| !w.trim().is_empty())
                    .ok_or("policy `sql` needs --where")?,
            },
        })
    }

    pub fn kind(&self) -> PolicyKind {
        match self {
            Policy::Wrong => PolicyKind::Wrong,
            Policy::Corrected => PolicyKind::Corrected,
            Policy::Sample { .. } => PolicyKind::Sample,
            Policy::Stratified { .. } => PolicyKind::Stratified,
            Policy::Uncertain { .. } => PolicyKind::Uncertain,
            Policy::Drifted { .. } => PolicyKind::Drifted,
            Policy::Sql { .. } => PolicyKind::Sql,
        }
    }

    /// The parameters as recorded in the manifest.
    pub fn parameters(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Policy::Wrong | Policy::Corrected => json!({}),
            Policy::Sample { rate, seed } => json!({"rate": rate, "seed": seed}),
            Policy::Stratified { cap, by, seed } => json!({"cap": cap, "by": by, "seed": seed}),
            Policy::Uncertain { boundary, band } => json!({"boundary": boundary, "band": band}),
            Policy::Drifted { states } => json!({"alert_states": states}),
            Policy::Sql { where_clause } => json!({"where": where_clause}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_serde_names() {
        let v = serde_json::to_value(PolicyParams::default()).unwrap();
        let mut names: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut keys = PolicyParams::KEYS.to_vec();
        names.sort_unstable();
        keys.sort_unstable();
        assert_eq!(names, keys);
    }

    #[test]
    fn parameters_are_checked() {
        assert!(Policy::from_params(PolicyKind::Sample, &PolicyParams::default()).is_err());
        assert!(
            Policy::from_params(
                PolicyKind::Stratified,
                &PolicyParams {
                    cap: Some(1),
                    by: vec!["tag:".into()],
                    ..Default::default()
                }
            )
            .is_err()
        );
        assert_eq!(
            "drifted".parse::<PolicyKind>().unwrap(),
            PolicyKind::Drifted
        );
    }
}
