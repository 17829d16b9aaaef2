//! Logs (issue 15 §2, STYLE §8): one access line per request, INFO for redirects and client
//! mistakes (never ERROR, never two lines for one refusal), and no query string — a callback's
//! code and state stay out of the log. The lines are captured from the subscriber `gatehouse
//! serve` installs, in both formats.
use std::io::Write;
use std::sync::{Arc, Mutex};

use actix_web::test;
use gatehouse::logging::{subscriber, Format};
use serde_json::Value;

use super::issuer::common::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// The lines written since the last call.
    fn take(&self) -> Vec<String> {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap());
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

const SECRET_CODE: &str = "code-SECRET-7f3a9c";
const SECRET_STATE: &str = "state-SECRET-51b2";

/// The requests of the test and the status each gets: a callback with a code in its query
/// (an unknown connection: 4xx), an introspection without credentials (401), and an
/// authorization request without a session (a redirect to sign in).
async fn requests(cap: &Capture) -> Vec<(u16, Vec<String>)> {
    let fx = fixture().await;
    let app = app(&fx).await;
    let client = register_public(&app, REDIRECT).await;
    cap.take();
    let mut seen = vec![];
    let callback = format!(
        "/federation/oidc/no-such-connection/callback?code={SECRET_CODE}&state={SECRET_STATE}"
    );
    for req in [
        test::TestRequest::get().uri(&callback),
        test::TestRequest::post()
            .uri("/oauth/introspect")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload("token=abc"),
        test::TestRequest::get().uri(&authorize_url(&client, REDIRECT, &[])),
    ] {
        let r = test::call_service(&app, req.to_request()).await;
        let status = r.status().as_u16();
        let _ = test::read_body(r).await;
        seen.push((status, cap.take()));
    }
    let statuses: Vec<u16> = seen.iter().map(|(s, _)| *s).collect();
    assert!((400..500).contains(&statuses[0]), "{statuses:?}");
    assert_eq!(statuses[1], 401);
    assert!((300..400).contains(&statuses[2]), "{statuses:?}");
    seen
}

#[actix_web::test]
async fn json_lines_one_per_request_at_info_without_the_query() {
    let cap = Capture::default();
    let w = cap.clone();
    let _g = tracing::subscriber::set_default(subscriber(Format::Json, "info", move || w.clone()));
    for (status, lines) in requests(&cap).await {
        assert_eq!(lines.len(), 1, "{status}: {lines:#?}");
        let line: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(line["level"], "INFO", "{status}: {line}");
        assert_eq!(line["fields"]["status"], status, "{line}");
        assert!(line["fields"]["latency_ms"].is_number(), "{line}");
        assert!(line["span"]["request_id"].is_string(), "{line}");
        assert!(!lines[0].contains("SECRET"), "{status}: {line}");
        assert!(!lines[0].contains('?'), "{status}: no query string: {line}");
        if status == 401 {
            assert_eq!(line["span"]["route"], "/oauth/introspect");
        }
        if (400..500).contains(&status) && status != 401 {
            assert_eq!(
                line["span"]["route"],
                "/federation/oidc/{connection_id}/callback"
            );
            assert_eq!(
                line["span"]["path"],
                "/federation/oidc/no-such-connection/callback"
            );
        }
    }
}

#[actix_web::test]
async fn text_lines_for_development_say_the_same() {
    let cap = Capture::default();
    let w = cap.clone();
    let _g = tracing::subscriber::set_default(subscriber(Format::Text, "info", move || w.clone()));
    for (status, lines) in requests(&cap).await {
        assert_eq!(lines.len(), 1, "{status}: {lines:#?}");
        let l = &lines[0];
        assert!(l.contains(" INFO "), "{l}");
        assert!(!l.contains("ERROR") && !l.contains("WARN"), "{l}");
        assert!(l.contains(&format!("status={status}")), "{l}");
        assert!(!l.contains("SECRET"), "{l}");
        assert!(!l.starts_with('{'), "plain text, not JSON: {l}");
    }
}
