//! Security basics: secrets never printed, TLS/SASL settings passed through to
//! librdkafka. (Path safety of event-derived names is tested in
//! `crates/feedloop-analytics/tests/path_safety.rs` and
//! `crates/feedloop-windows/tests/path_safety.rs`.) One test binary.

mod kafka_tls_sasl;
mod secrets;

/// A test CA (certificate only), so librdkafka accepts `ssl.ca.location`
/// (the secrets and TLS/SASL tests both point at it).
pub const TEST_CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBjjCCATOgAwIBAgIUBo/bsbvI5V9hGeR7fAAjs2uAHjAwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQZmVlZGxvb3AtdGVzdC1jYTAgFw0yNjExMjMwNTE5MDBaGA8y
MTI2MTAzMDA1MTkwMFowGzEZMBcGA1UEAwwQZmVlZGxvb3AtdGVzdC1jYTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABHu29F5lJ9grWfhOf5Jn+OH6/tnrE9MsU/Vz
T//kVAzAItzgP78obZIjzClOOoCC6glHDcj3vIGnU15VusX+3iijUzBRMB0GA1Ud
DgQWBBTkOinYVUY0HOf40QvuAC1Liscr0DAfBgNVHSMEGDAWgBTkOinYVUY0HOf4
0QvuAC1Liscr0DAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQC6
8xrwCpvRiFZmQ4I3Sds3qXGvOTTOeGUvimAiRO+w5QIhAIxMG8QopuZ0JiCXkt/9
Vn4IkpvZgOg4iycogu/DNST1
-----END CERTIFICATE-----
";
