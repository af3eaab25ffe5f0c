//! What a setting is to feedloop: [`InvalidSetting`], the start-up error naming a
//! config key and what it expects, and [`lenient`] text values, so a number or
//! boolean where text is expected is taken instead of quoted back in an error.

/// A config value that is out of range, naming its key; the CLI turns it into a
/// start-up error (`` `ingest.zstd_level`: expected a zstd level from 1 to 22 ``).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {expected}")]
pub struct InvalidSetting {
    pub key: String,
    pub expected: String,
}

impl InvalidSetting {
    /// `key` (the full dotted path, e.g. `kafka.brokers`) and what it expects.
    pub fn new(key: impl Into<String>, expected: impl Into<String>) -> Self {
        InvalidSetting {
            key: key.into(),
            expected: expected.into(),
        }
    }
}

/// Deserializers that take a number or boolean where text is expected, so that
/// an unquoted value (`"sasl.password" = 12345678`, or `FEEDLOOP_…=12345678`,
/// which the environment provider reads as a number) is accepted instead of
/// failing with an error message that quotes the value.
pub mod lenient {
    use serde::Deserialize;
    use serde::de::{self, Deserializer, Visitor};
    use std::collections::BTreeMap;
    use std::fmt;

    /// A string, or a number or boolean turned into its text.
    pub struct Text(pub String);

    impl<'de> Deserialize<'de> for Text {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Text;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a string, number or boolean")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                    Ok(Text(v))
                }
                fn visit_char<E: de::Error>(self, v: char) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_i128<E: de::Error>(self, v: i128) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_u128<E: de::Error>(self, v: u128) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
                fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                    Ok(Text(v.to_string()))
                }
            }
            d.deserialize_any(V)
        }
    }

    /// A map of text values ([`Text`]).
    pub fn string_map<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, String>, D::Error> {
        let m = BTreeMap::<String, Text>::deserialize(d)?;
        Ok(m.into_iter().map(|(k, v)| (k, v.0)).collect())
    }

    /// An optional text value ([`Text`]).
    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<Text>::deserialize(d)?.map(|t| t.0))
    }
}
