//! The running server's logs and metrics listener (issue 15 §2, STYLE §8), from the built
//! `gatehouse serve` on SQLite: one access line per request, INFO for a redirect or a client
//! mistake (never ERROR, never two lines for one refusal), no query string (a callback's code
//! and state stay out of the log), JSON or plain text by `GATEHOUSE_LOG_FORMAT`, access lines off
//! with `GATEHOUSE_ACCESS_LOG=off`; `/metrics` without a token on `--metrics-listen`, and behind
//! the token on the main listener.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const SECRET_CODE: &str = "code-SECRET-7f3a9c";
const SECRET_STATE: &str = "state-SECRET-51b2";
const TOKEN: &str = "metrics-token-0123456789abcdef";

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `gatehouse serve` in a fresh data dir with `envs`; returns it once it accepts connections.
fn start(label: &str, port: u16, metrics_port: u16, envs: &[(&str, &str)]) -> Child {
    let dir = std::env::temp_dir().join(format!(
        "gh_serve_logs_{label}_{}_{port}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    c.arg("--data-dir")
        .arg(&dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
        .env_remove("GATEHOUSE_MASTER_KEY")
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .env_remove("GATEHOUSE_METRICS_TOKEN")
        .env_remove("GATEHOUSE_ACCESS_LOG")
        .env("GATEHOUSE_ISSUER", "http://127.0.0.1:8080")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    for _ in 0..150 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok()
            && TcpStream::connect(("127.0.0.1", metrics_port)).is_ok()
        {
            return child;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().ok();
    let out = child.wait_with_output().unwrap();
    panic!(
        "gatehouse serve did not start:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One HTTP/1.1 request; returns the status and the body.
fn http(port: u16, method: &str, target: &str, headers: &[&str]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// The requests of the test: a callback with a code and state in its query (4xx), an
/// introspection without credentials (401) and an authorization request of an unknown client
/// (4xx page); each is followed by a marker request, so each one's lines can be told apart.
fn requests(port: u16) -> Vec<u16> {
    let callback =
        format!("/federation/oidc/nope/callback?code={SECRET_CODE}&state={SECRET_STATE}");
    let authorize = format!("/oauth/authorize?client_id=nobody&state={SECRET_STATE}");
    let form = [
        "content-type: application/x-www-form-urlencoded",
        "content-length: 9",
    ];
    let mut statuses = vec![http(port, "GET", &callback, &[]).0];
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(
        format!(
            "POST /oauth/introspect HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{}\r\n{}\r\n\r\ntoken=abc",
            form[0], form[1]
        )
        .as_bytes(),
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    statuses.push(out.split(' ').nth(1).unwrap().parse().unwrap());
    statuses.push(http(port, "GET", &authorize, &[]).0);
    statuses
}

fn stop(mut server: Child) -> String {
    // SIGKILL: every line is already written (standard output is line-buffered).
    std::thread::sleep(Duration::from_millis(200));
    server.kill().ok();
    let out = server.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn json_access_lines_one_per_request_at_info_without_the_query() {
    let (port, mport) = (free_port(), free_port());
    let server = start(
        "json",
        port,
        mport,
        &[
            ("GATEHOUSE_LOG_FORMAT", "json"),
            ("GATEHOUSE_METRICS_TOKEN", TOKEN),
        ],
    );
    let statuses = requests(port);
    assert!((400..500).contains(&statuses[0]), "{statuses:?}");
    assert_eq!(statuses[1], 401);
    assert!((400..500).contains(&statuses[2]), "{statuses:?}");
    // Metrics: open on the private listener; behind the token on the main one.
    let (s, body) = http(mport, "GET", "/metrics", &[]);
    assert_eq!(s, 200);
    assert!(body.contains("gatehouse_http_requests_total{route=\"/oauth/introspect\",method=\"POST\",status=\"401\"} 1"), "{body}");
    assert!(
        body.contains("gatehouse_db_pool_max_connections 8"),
        "{body}"
    );
    assert_eq!(http(port, "GET", "/metrics", &[]).0, 401);
    let bearer = format!("authorization: Bearer {TOKEN}");
    assert_eq!(http(port, "GET", "/metrics", &[&bearer]).0, 200);
    let log = stop(server);

    assert!(
        !log.contains("SECRET"),
        "a code or state in the log:\n{log}"
    );
    let access: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|l| l["span"]["name"] == "request")
        .collect();
    let routes: Vec<&str> = access
        .iter()
        .map(|l| l["span"]["route"].as_str().unwrap())
        .collect();
    assert_eq!(
        routes,
        [
            "/federation/oidc/{connection_id}/callback",
            "/oauth/introspect",
            "/oauth/authorize",
            "/metrics",
            "/metrics",
        ],
        "one line per request on the main listener:\n{log}"
    );
    for (line, status) in access.iter().zip(statuses.iter().chain([401, 200].iter())) {
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(line["fields"]["message"], "request", "{line}");
        assert_eq!(line["fields"]["status"], *status, "{line}");
        assert!(line["fields"]["latency_ms"].is_number(), "{line}");
        assert!(line["span"]["request_id"].is_string(), "{line}");
        assert!(
            !line["span"]["path"].as_str().unwrap().contains('?'),
            "{line}"
        );
    }
    assert!(
        !log.contains("\"ERROR\"") && !log.contains("\"WARN\""),
        "{log}"
    );
}

#[test]
fn text_lines_for_development_and_access_lines_off() {
    let (port, mport) = (free_port(), free_port());
    let server = start("text", port, mport, &[("GATEHOUSE_LOG_FORMAT", "text")]);
    let statuses = requests(port);
    let log = stop(server);
    let access: Vec<&str> = log.lines().filter(|l| l.contains(" request{")).collect();
    assert_eq!(access.len(), 3, "{log}");
    for (l, status) in access.iter().zip(&statuses) {
        assert!(l.contains(" INFO "), "{l}");
        assert!(l.contains(&format!("status={status}")), "{l}");
        assert!(!l.starts_with('{'), "plain text: {l}");
    }
    assert!(
        !log.contains("SECRET") && !log.contains("ERROR") && !log.contains("WARN"),
        "{log}"
    );

    let (port, mport) = (free_port(), free_port());
    let server = start(
        "off",
        port,
        mport,
        &[
            ("GATEHOUSE_LOG_FORMAT", "text"),
            ("GATEHOUSE_ACCESS_LOG", "off"),
        ],
    );
    requests(port);
    let log = stop(server);
    assert!(log.contains("gatehouse listening"), "{log}");
    assert!(!log.contains(" request{"), "no access lines:\n{log}");
}
