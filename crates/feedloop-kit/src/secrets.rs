//! Which option names hold secrets, and option maps with those values redacted.
//! The one rule behind every `Debug`, log line, printed config and error message
//! that shows `[kafka.options]` or `[storage.options]`.

use std::collections::BTreeMap;

/// Substrings of option names whose values are secrets (`sasl.password`,
/// `ssl.key.password`, `aws_secret_access_key`, `sasl.oauthbearer.client.secret`,
/// …): never printed, logged or put in error messages.
pub const SECRET_HINTS: [&str; 6] = [
    "password",
    "secret",
    "token",
    "key",
    "credential",
    "sasl.oauthbearer",
];

/// True when the value of option `key` must be kept out of output.
pub fn is_secret_option(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_HINTS.iter().any(|h| k.contains(h))
}

/// `options` with secret-looking values replaced by `<redacted>`.
pub fn redacted_options(options: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    options
        .iter()
        .map(|(k, v)| {
            let v = if is_secret_option(k) {
                "<redacted>"
            } else {
                v.as_str()
            };
            (k.as_str(), v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_names_are_redacted_whatever_their_case() {
        let options: BTreeMap<String, String> = [
            ("SASL.Password", "hunter2"),
            ("aws_secret_access_key", "s3cr3t"),
            ("sasl.oauthbearer.config", "scope=x"),
            ("security.protocol", "SASL_SSL"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let shown = redacted_options(&options);
        assert_eq!(shown["SASL.Password"], "<redacted>");
        assert_eq!(shown["aws_secret_access_key"], "<redacted>");
        assert_eq!(shown["sasl.oauthbearer.config"], "<redacted>");
        assert_eq!(shown["security.protocol"], "SASL_SSL");
    }
}
