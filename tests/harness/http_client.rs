//! A minimal blocking HTTP/1.1 client for the tests of `feedloop`'s HTTP
//! server (probes, `/metrics`, the API): no client crate in the test graph.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

pub struct Resp {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

/// A minimal HTTP/1.1 client (Connection: close).
pub fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Resp {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        ));
    } else {
        req.push_str("\r\n");
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(body)
    } else {
        body.to_string()
    };
    Resp {
        status,
        headers: head.to_string(),
        body,
    }
}

fn unchunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Polls `GET path` until it answers `want` (panics after `timeout`).
pub fn wait_http(port: u16, path: &str, want: u16, timeout: Duration) -> Resp {
    let deadline = Instant::now() + timeout;
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let r = http(port, "GET", path, None, None);
            if r.status == want {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "{path}: still {} {}",
                r.status,
                r.body
            );
        } else {
            assert!(Instant::now() < deadline, "nothing listens on {port}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
