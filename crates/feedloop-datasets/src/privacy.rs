//! Privacy rules of exports (`[export.privacy]`): which features and tags are
//! kept, dropped or replaced by the hex HMAC-SHA256 of their text, and the
//! keyed hash itself.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;

/// What to do with a feature or tag on export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrivacyRule {
    #[default]
    Keep,
    Drop,
    /// Hex HMAC-SHA256 of the value's text, keyed by `[export.privacy] hash_key`.
    Hash,
}

impl PrivacyRule {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PrivacyRule::Keep => "keep",
            PrivacyRule::Drop => "drop",
            PrivacyRule::Hash => "hash",
        }
    }
}

/// `[export.privacy]`. `Debug` shows the key as `<redacted>`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// Rule for features and tags not listed below.
    pub default: PrivacyRule,
    /// Rules per feature name.
    pub features: BTreeMap<String, PrivacyRule>,
    /// Rules per tag name.
    pub tags: BTreeMap<String, PrivacyRule>,
    /// HMAC key of `hash` rules (a secret: set it with
    /// `FEEDLOOP_EXPORT__PRIVACY__HASH_KEY`). Required when a rule is `hash`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "secret_text"
    )]
    pub hash_key: Option<String>,
}

impl std::fmt::Debug for PrivacyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivacyConfig")
            .field("default", &self.default)
            .field("features", &self.features)
            .field("tags", &self.tags)
            .field("hash_key", &self.hash_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// An optional secret that may be written as a number or boolean (an all-digit
/// key, or one from `FEEDLOOP_…`, which the environment provider reads as a
/// number): taken as its text rather than rejected with an error quoting it.
fn secret_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        S(String),
        I(i64),
        U(u64),
        F(f64),
        B(bool),
    }
    Ok(Option::<Text>::deserialize(d)?.map(|t| match t {
        Text::S(s) => s,
        Text::I(v) => v.to_string(),
        Text::U(v) => v.to_string(),
        Text::F(v) => v.to_string(),
        Text::B(v) => v.to_string(),
    }))
}

impl PrivacyConfig {
    pub(crate) fn feature_rule(&self, name: &str) -> PrivacyRule {
        self.features.get(name).copied().unwrap_or(self.default)
    }

    pub(crate) fn tag_rule(&self, name: &str) -> PrivacyRule {
        self.tags.get(name).copied().unwrap_or(self.default)
    }

    fn uses_hash(&self) -> bool {
        self.default == PrivacyRule::Hash
            || self
                .features
                .values()
                .chain(self.tags.values())
                .any(|r| *r == PrivacyRule::Hash)
    }

    /// The rules as recorded in manifests (without the key).
    pub(crate) fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "default": self.default.as_str(),
            "features": self.features.iter().map(|(k, v)| (k.clone(), v.as_str())).collect::<BTreeMap<_, _>>(),
            "tags": self.tags.iter().map(|(k, v)| (k.clone(), v.as_str())).collect::<BTreeMap<_, _>>(),
            "hash": "hex HMAC-SHA256 of the value's text",
        })
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.uses_hash() && self.hash_key.as_deref().is_none_or(str::is_empty) {
            return Err("`export.privacy`: a `hash` rule needs `hash_key` (e.g. FEEDLOOP_EXPORT__PRIVACY__HASH_KEY)".into());
        }
        Ok(())
    }
}

/// HMAC-SHA256 (RFC 2104) of `msg` under `key`: the value of `hash` rules is
/// its hex form.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length (longer ones are hashed first): never an error.
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231() {
        // RFC 4231 test cases 1, 2 and 6 (a key longer than the block).
        assert_eq!(
            hex::encode(hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn hmac_matches_the_hand_written_one_it_replaced() {
        // Values exported before the `hmac` crate took over (tag `user` of the
        // export tests, key `k3y`; an empty key and message): datasets hashed
        // then and now agree.
        for (key, msg, hex) in [
            (
                &b"k3y"[..],
                &b"user-5"[..],
                "d9c1dce81e5444e11808e5974fdb34510b5381aa262a7a487fd33ba506fe7693",
            ),
            (
                b"k3y",
                b"user-0",
                "a8ed1ab0e32a25280f388f5460aca04fd9df38b73a57b34db894486cc44532eb",
            ),
            (
                b"",
                b"",
                "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad",
            ),
        ] {
            assert_eq!(hex::encode(hmac_sha256(key, msg)), hex);
        }
    }

    #[test]
    fn debug_hides_the_key_and_hash_needs_one() {
        let mut p = PrivacyConfig {
            default: PrivacyRule::Hash,
            ..Default::default()
        };
        assert!(p.validate().unwrap_err().contains("hash_key"));
        p.hash_key = Some("s3cret".into());
        assert!(p.validate().is_ok());
        assert!(!format!("{p:?}").contains("s3cret"));
    }
}
