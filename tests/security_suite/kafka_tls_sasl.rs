//! TLS and SASL settings of `[kafka.options]` reach every librdkafka client
//! feedloop creates — the ingest consumer, the dead-letter producer, the alerts
//! producer and the corrections producer (`feedloop produce`, `POST
//! /api/v1/corrections`) — from the TOML file, as the config loader reads it;
//! librdkafka (as built here) accepts them; consumer-only settings stay off the
//! producers; and a rejected setting never echoes a secret.

use feedloop_alerts::KafkaSink;
use feedloop_cli::config::ConfigFile;
use feedloop_ingest::KafkaConfig;
use feedloop_ingest::dead_letter::DeadLetterProducer;
use feedloop_kit::kafka::consumer_config;
use rdkafka::ClientConfig;
use rdkafka::consumer::BaseConsumer;
use rdkafka::producer::FutureProducer;
use std::path::Path;

const SASL_PASSWORD: &str = "SaslPw-Kf51t-never-print";
const SSL_KEY_PASSWORD: &str = "SslKeyPw-Jd72q-never-print";

/// The TLS/SASL settings under test, as written in `[kafka.options]`.
fn security_options(ca: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("security.protocol", "SASL_SSL".into()),
        ("sasl.mechanisms", "SCRAM-SHA-512".into()),
        ("sasl.username", "feedloop-svc".into()),
        ("sasl.password", SASL_PASSWORD.into()),
        ("ssl.ca.location", ca.display().to_string()),
        ("ssl.key.password", SSL_KEY_PASSWORD.into()),
        ("ssl.endpoint.identification.algorithm", "https".into()),
    ]
}

/// Loads a config file the way `feedloop run` does.
fn load(dir: &Path, options: &[(&str, String)], extra: &str) -> feedloop_server::config::Config {
    let mut toml =
        String::from("[kafka]\nbrokers = \"kafka-1:9093,kafka-2:9093\"\n\n[kafka.options]\n");
    for (k, v) in options {
        toml.push_str(&format!("\"{k}\" = \"{v}\"\n"));
    }
    toml.push_str(extra);
    let p = dir.join("feedloop.toml");
    std::fs::write(&p, toml).unwrap();
    feedloop_server::config::Config::load(Some(&p)).unwrap()
}

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, crate::TEST_CA_PEM).unwrap();
    (dir, ca)
}

/// Every client config feedloop builds from `kafka`.
fn client_configs(kafka: &KafkaConfig) -> Vec<(&'static str, ClientConfig)> {
    vec![
        ("ingest consumer", consumer_config(kafka)),
        (
            "dead-letter producer",
            DeadLetterProducer::client_config(kafka),
        ),
        (
            "alerts producer",
            KafkaSink::client_config(&kafka.brokers, &kafka.options),
        ),
        (
            "corrections producer",
            feedloop_server::kafka_producer::producer_config(&kafka.brokers, &kafka.options),
        ),
    ]
}

#[test]
fn tls_and_sasl_options_reach_every_client() {
    let (dir, ca) = setup();
    let options = security_options(&ca);
    let config = load(
        dir.path(),
        &options,
        "\"session.timeout.ms\" = 45000\n\"fetch.max.bytes\" = 1048576\n",
    );
    for (client, cfg) in client_configs(&config.kafka) {
        for (k, v) in &options {
            assert_eq!(cfg.get(k), Some(v.as_str()), "{client}: {k}");
        }
        assert_eq!(
            cfg.get("bootstrap.servers"),
            Some("kafka-1:9093,kafka-2:9093"),
            "{client}"
        );
        let consumer_only = ["session.timeout.ms", "fetch.max.bytes"];
        if client == "ingest consumer" {
            // Unquoted numbers in the file reach librdkafka as text.
            assert_eq!(cfg.get("session.timeout.ms"), Some("45000"));
            assert_eq!(cfg.get("fetch.max.bytes"), Some("1048576"));
            assert_eq!(cfg.get("enable.auto.commit"), Some("false"));
            assert_eq!(cfg.get("enable.auto.offset.store"), Some("false"));
        } else {
            for k in consumer_only {
                assert_eq!(cfg.get(k), None, "{client} must not get {k}");
            }
            assert_eq!(cfg.get("acks"), Some("all"), "{client}");
        }
    }
}

/// librdkafka, as linked into feedloop, accepts the settings: it was built
/// with TLS and SASL/SCRAM, and loads the CA file. Creating a client does not
/// connect, so no broker is needed.
#[tokio::test]
async fn librdkafka_accepts_tls_and_sasl_settings() {
    let (dir, ca) = setup();
    for mechanism in ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] {
        let mut options = security_options(&ca);
        options.retain(|(k, _)| *k != "sasl.mechanisms");
        options.push(("sasl.mechanisms", mechanism.into()));
        let config = load(dir.path(), &options, "");
        let kafka = &config.kafka;
        consumer_config(kafka)
            .create::<BaseConsumer>()
            .unwrap_or_else(|e| panic!("consumer with {mechanism}: {e}"));
        DeadLetterProducer::new(kafka)
            .unwrap_or_else(|e| panic!("dead-letter producer with {mechanism}: {e}"));
        KafkaSink::new(&kafka.brokers, &kafka.topics.alerts, &kafka.options)
            .unwrap_or_else(|e| panic!("alerts producer with {mechanism}: {e}"));
        let _producer = feedloop_server::kafka_producer::producer(&kafka.brokers, &kafka.options)
            .unwrap_or_else(|e| panic!("corrections producer with {mechanism}: {e:#}"));
        let _: FutureProducer =
            feedloop_server::kafka_producer::producer_config(&kafka.brokers, &kafka.options)
                .create()
                .unwrap();
    }
    // TLS without SASL.
    let config = load(
        dir.path(),
        &[
            ("security.protocol", "SSL".to_string()),
            ("ssl.ca.location", ca.display().to_string()),
        ],
        "",
    );
    consumer_config(&config.kafka)
        .create::<BaseConsumer>()
        .unwrap();
    // A setting librdkafka does not know fails client creation (it is not
    // silently dropped) …
    let config = load(
        dir.path(),
        &[("security.protocol", "SASL_SSLX".to_string())],
        "",
    );
    let err = consumer_config(&config.kafka)
        .create::<BaseConsumer>()
        .err()
        .expect("an invalid security.protocol is rejected");
    assert!(err.to_string().contains("security.protocol"), "{err}");
}

/// … and when the rejected key is a (misspelt) secret, the error names the key
/// without the value, for each client.
#[test]
fn rejected_secret_settings_are_reported_without_their_value() {
    let (dir, _ca) = setup();
    let config = load(
        dir.path(),
        &[
            ("sasl.pasword", SASL_PASSWORD.to_string()),
            ("ssl.key.passwd", SSL_KEY_PASSWORD.to_string()),
        ],
        "",
    );
    let kafka = &config.kafka;
    let errors = [
        (
            "dead-letter producer",
            DeadLetterProducer::new(kafka)
                .err()
                .map(|e| (e.to_string(), format!("{e:?}"))),
        ),
        (
            "alerts producer",
            KafkaSink::new(&kafka.brokers, &kafka.topics.alerts, &kafka.options)
                .err()
                .map(|e| (e.to_string(), format!("{e:?}"))),
        ),
        (
            "corrections producer",
            feedloop_server::kafka_producer::producer(&kafka.brokers, &kafka.options)
                .err()
                .map(|e| (format!("{e:#}"), format!("{e:?}"))),
        ),
    ];
    for (client, err) in errors {
        let (shown, debug) = err.unwrap_or_else(|| panic!("{client}: misspelt options accepted"));
        assert!(
            shown.contains("sasl.pasword") || shown.contains("ssl.key.passwd"),
            "{client}: the key is named: {shown}"
        );
        for s in [SASL_PASSWORD, SSL_KEY_PASSWORD] {
            assert!(!shown.contains(s), "{client}: {shown}");
            assert!(!debug.contains(s), "{client}: {debug}");
        }
    }
    // The ingest consumer's error goes through the same redaction.
    let err = consumer_config(kafka)
        .create::<BaseConsumer>()
        .err()
        .unwrap();
    let redacted = feedloop_kit::kafka::redact_config_error(err);
    for shown in [redacted.to_string(), format!("{redacted:?}")] {
        assert!(
            !shown.contains(SASL_PASSWORD) && !shown.contains(SSL_KEY_PASSWORD),
            "{shown}"
        );
    }
}

/// `KafkaConfig` prints secret-looking option values as `<redacted>`, and keeps
/// the rest, so a debug log of it shows the TLS/SASL set-up without the secrets.
#[test]
fn kafka_config_debug_redacts_secret_options() {
    let (dir, ca) = setup();
    let config = load(dir.path(), &security_options(&ca), "");
    let shown = format!("{:?}", config.kafka);
    assert!(
        !shown.contains(SASL_PASSWORD) && !shown.contains(SSL_KEY_PASSWORD),
        "{shown}"
    );
    for visible in ["SASL_SSL", "SCRAM-SHA-512", "feedloop-svc", "ca.pem"] {
        assert!(shown.contains(visible), "{visible} missing from {shown}");
    }
    assert_eq!(shown.matches("<redacted>").count(), 2, "{shown}");
}
