//! Security basics: secrets never printed, TLS/SASL settings passed through to
//! librdkafka. (Path safety of event-derived names is tested in
//! `crates/feedloop-analytics/tests/path_safety.rs`.) One test binary.

mod kafka_tls_sasl;
mod secrets;
