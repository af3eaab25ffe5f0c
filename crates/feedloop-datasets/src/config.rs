//! The `[export]` section: [`ExportConfig`] (part sizes, cleanup, the
//! corrections join, privacy) and its `[[export.datasets]]` entries,
//! [`ScheduledDataset`], whose policy parameters sit beside its own keys.

use crate::policy::{Policy, PolicyKind, PolicyParams};
use crate::privacy::PrivacyConfig;
use feedloop_analytics::FeedbackOptions;
use feedloop_storage::datasets::validate_name;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeSet;
use std::sync::LazyLock;
use std::time::Duration;

/// One `[[export.datasets]]` entry: a dataset exported on a schedule.
///
/// The policy's parameters are keys of the entry itself (`rate = 0.1`), read
/// into [`PolicyParams`]. An unknown key, or a key of the wrong type, is an
/// error naming that key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduledDataset {
    pub name: String,
    pub model: String,
    pub model_version: Option<String>,
    pub policy: PolicyKind,
    /// How often to export (e.g. `"1d"`).
    #[serde(with = "humantime_serde")]
    pub every: Duration,
    /// Only predictions of the last `lookback` (default: all history).
    #[serde(with = "humantime_serde")]
    pub lookback: Option<Duration>,
    /// The policy's parameters.
    #[serde(flatten)]
    pub params: PolicyParams,
}

impl ScheduledDataset {
    pub fn policy(&self) -> Result<Policy, String> {
        Policy::from_params(self.policy, &self.params)
    }
}

/// `[export]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportConfig {
    /// Rows per Parquet part.
    pub rows_per_part: usize,
    /// Rows per row group within a part.
    pub row_group_rows: usize,
    /// zstd level of parts.
    pub zstd_level: i32,
    /// Version folders without a manifest older than this are deleted by the next export.
    #[serde(with = "humantime_serde")]
    pub cleanup_grace: Duration,
    /// `[export.feedback]`: tolerance and unmatched horizon of the corrections join.
    pub feedback: FeedbackOptions,
    /// `[export.privacy]`.
    pub privacy: PrivacyConfig,
    /// `[[export.datasets]]`: scheduled exports run by `feedloop run`.
    pub datasets: Vec<ScheduledDataset>,
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig {
            rows_per_part: 1_000_000,
            row_group_rows: 128 * 1024,
            zstd_level: 3,
            cleanup_grace: Duration::from_secs(3600),
            feedback: FeedbackOptions::default(),
            privacy: PrivacyConfig::default(),
            datasets: Vec::new(),
        }
    }
}

impl ExportConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.rows_per_part == 0 || self.row_group_rows == 0 {
            return Err("`export.rows_per_part` and `export.row_group_rows` must be ≥ 1".into());
        }
        if !(1..=22).contains(&self.zstd_level) {
            return Err("`export.zstd_level` must be in 1..=22".into());
        }
        self.feedback
            .validate()
            .map_err(|e| format!("`export.feedback`: {e}"))?;
        self.privacy.validate()?;
        let mut seen = BTreeSet::new();
        for (i, d) in self.datasets.iter().enumerate() {
            let at = format!("`export.datasets[{i}]`");
            validate_name("dataset", &d.name).map_err(|e| format!("{at}: {e}"))?;
            validate_name("model", &d.model).map_err(|e| format!("{at}: {e}"))?;
            d.policy().map_err(|e| format!("{at}: {e}"))?;
            if d.every.is_zero() {
                return Err(format!("{at}: `every` must be > 0"));
            }
            if !seen.insert((d.model.clone(), d.name.clone())) {
                return Err(format!(
                    "{at}: dataset `{}/{}` is defined twice",
                    d.model, d.name
                ));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Reading an entry: its own keys here, the others handed to `PolicyParams`.
// (`#[serde(flatten)]` would do it, but its errors lose the key's name.)
// ---------------------------------------------------------------------------

/// The entry's own keys, before [`PolicyParams::KEYS`].
const ENTRY_KEYS: [&str; 6] = [
    "name",
    "model",
    "model_version",
    "policy",
    "every",
    "lookback",
];

/// Every key an entry may have, for "unknown field" errors.
static ALL_KEYS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    ENTRY_KEYS
        .iter()
        .chain(&PolicyParams::KEYS)
        .copied()
        .collect()
});

/// A key of an entry: one of its own (index into [`ENTRY_KEYS`]) or a parameter.
enum Key {
    Entry(usize),
    Param(&'static str),
}

/// Reads a key, rejecting unknown ones (inside the map's key, so that the
/// error is reported at that key).
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> de::Visitor<'de> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("field identifier")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        if let Some(i) = ENTRY_KEYS.iter().position(|k| *k == v) {
            Ok(Key::Entry(i))
        } else if let Some(k) = PolicyParams::KEYS.iter().find(|k| **k == v) {
            Ok(Key::Param(k))
        } else {
            Err(E::unknown_field(v, &ALL_KEYS))
        }
    }
}

/// The entry's own values, as read so far.
#[derive(Default)]
struct EntryValues {
    name: Option<String>,
    model: Option<String>,
    model_version: Option<Option<String>>,
    policy: Option<PolicyKind>,
    every: Option<Duration>,
    lookback: Option<Option<Duration>>,
}

impl EntryValues {
    /// Reads the value of own key `ENTRY_KEYS[key]`.
    fn read<'de, A: MapAccess<'de>>(&mut self, key: usize, map: &mut A) -> Result<(), A::Error> {
        fn set<T, E: de::Error>(slot: &mut Option<T>, key: &'static str, v: T) -> Result<(), E> {
            if slot.is_some() {
                return Err(E::duplicate_field(key));
            }
            *slot = Some(v);
            Ok(())
        }
        let k = ENTRY_KEYS[key];
        match key {
            0 => set(&mut self.name, k, map.next_value()?),
            1 => set(&mut self.model, k, map.next_value()?),
            2 => set(&mut self.model_version, k, map.next_value()?),
            3 => set(&mut self.policy, k, map.next_value()?),
            4 => {
                let v: humantime_serde::Serde<Duration> = map.next_value()?;
                set(&mut self.every, k, v.into_inner())
            }
            _ => {
                let v: humantime_serde::Serde<Option<Duration>> = map.next_value()?;
                set(&mut self.lookback, k, v.into_inner())
            }
        }
    }
}

/// The entry's map as [`PolicyParams`] sees it: only the parameter keys; the
/// entry's own keys are read into `own` on the way.
struct ParamsOnly<'a, A> {
    map: A,
    own: &'a mut EntryValues,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for ParamsOnly<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            match self.map.next_key_seed(KeySeed)? {
                None => return Ok(None),
                Some(Key::Param(k)) => return seed.deserialize(k.into_deserializer()).map(Some),
                Some(Key::Entry(i)) => self.own.read(i, &mut self.map)?,
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

struct EntryVisitor;

impl<'de> de::Visitor<'de> for EntryVisitor {
    type Value = ScheduledDataset;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("struct ScheduledDataset")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ScheduledDataset, A::Error> {
        let mut own = EntryValues::default();
        let params = PolicyParams::deserialize(MapAccessDeserializer::new(ParamsOnly {
            map,
            own: &mut own,
        }))?;
        let missing = |k: &'static str| <A::Error as de::Error>::missing_field(k);
        Ok(ScheduledDataset {
            name: own.name.ok_or_else(|| missing("name"))?,
            model: own.model.ok_or_else(|| missing("model"))?,
            model_version: own.model_version.flatten(),
            policy: own.policy.ok_or_else(|| missing("policy"))?,
            every: own.every.ok_or_else(|| missing("every"))?,
            lookback: own.lookback.flatten(),
            params,
        })
    }
}

impl<'de> Deserialize<'de> for ScheduledDataset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct("ScheduledDataset", &ALL_KEYS, EntryVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(v: serde_json::Value) -> Result<ScheduledDataset, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn entries_read_their_parameters_and_name_bad_keys() {
        let d = entry(
            json!({"name": "d", "model": "m", "policy": "stratified", "every": "1h",
            "lookback": "2h", "cap": 3, "by": ["label", "tag:country"], "seed": 9}),
        )
        .unwrap();
        assert_eq!(d.lookback, Some(Duration::from_secs(7200)));
        assert_eq!(d.model_version, None);
        assert_eq!(
            d.params,
            PolicyParams {
                cap: Some(3),
                by: vec!["label".into(), "tag:country".into()],
                seed: Some(9),
                ..Default::default()
            }
        );
        assert!(d.policy().is_ok());
        // Written back with the same flat keys.
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["cap"], json!(3));
        assert_eq!(entry(v).unwrap(), d);

        let base = json!({"name": "d", "model": "m", "policy": "sample", "every": "1h"});
        let with = |k: &str, v: serde_json::Value| {
            let mut e = base.clone();
            e[k] = v;
            entry(e).unwrap_err()
        };
        let unknown = with("rat", json!(0.1));
        assert!(unknown.starts_with("unknown field `rat`, expected one of `name`, `model`, `model_version`, `policy`, `every`, `lookback`, `rate`"), "{unknown}");
        assert!(with("rate", json!("x")).contains("expected f64"));
        let mut no_every = base.clone();
        no_every.as_object_mut().unwrap().remove("every");
        assert_eq!(entry(no_every).unwrap_err(), "missing field `every`");
    }
}
