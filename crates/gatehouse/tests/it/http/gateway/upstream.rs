//! A tiny MCP server with no auth of its own: it records every request it receives and
//! answers `tools/list` and `tools/call` in JSON, or in SSE when the request's
//! `params._meta.sse` is set (`"slow"`: the response event waits for the test's go-ahead).
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::web::{self, Bytes};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use tokio::sync::Notify;

/// One request as the upstream saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Default)]
pub struct Upstream {
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Releases the response event of a `"slow"` SSE answer.
    pub go: Arc<Notify>,
    pub url: String,
}

impl Upstream {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

pub const TOOLS: [&str; 3] = ["list_customers", "delete_customer", "export_everything"];

fn answer(id: &Value, method: &str, params: &Value) -> Value {
    match method {
        "tools/list" => json!({"jsonrpc": "2.0", "id": id, "result": {"tools":
            TOOLS.iter().map(|t| json!({"name": t, "inputSchema": {"type": "object"}})).collect::<Vec<_>>()}}),
        "tools/call" if params.pointer("/arguments/fail") == Some(&json!(true)) => {
            json!({"jsonrpc": "2.0", "id": id, "result": {"isError": true, "content": [{"type": "text", "text": "failed"}]}})
        }
        "tools/call" => json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": "ok"}]}}),
        _ => json!({"jsonrpc": "2.0", "id": id, "result": {}}),
    }
}

async fn mcp(up: web::Data<Upstream>, req: HttpRequest, body: Bytes) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    up.seen.lock().unwrap().push(Seen {
        method: req.method().to_string(),
        headers,
    });
    if req.method() != actix_web::http::Method::POST {
        return HttpResponse::Ok()
            .content_type("text/event-stream")
            .body("event: ping\ndata: {}\n\n");
    }
    let msg: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let msgs = match &msg {
        Value::Array(a) => a.clone(),
        one => vec![one.clone()],
    };
    let first = &msgs[0];
    let (id, method, params) = (&first["id"], first["method"].as_str().unwrap_or(""), &first["params"]);
    match params.pointer("/_meta/sse").cloned() {
        None => {
            let answers: Vec<Value> = msgs
                .iter()
                .map(|m| answer(&m["id"], m["method"].as_str().unwrap_or(""), &m["params"]))
                .collect();
            let body = if msg.is_array() { json!(answers) } else { answers[0].clone() };
            HttpResponse::Ok().insert_header(("mcp-session-id", "sess-1")).json(body)
        }
        Some(mode) => {
            let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
                "params": {"progressToken": 1, "progress": 1}});
            let done = answer(id, method, params);
            let go = up.go.clone();
            let slow = mode == json!("slow");
            let events = async_stream(progress, done, go, slow);
            HttpResponse::Ok()
                .insert_header(("mcp-session-id", "sess-1"))
                .content_type("text/event-stream")
                .streaming(events)
        }
    }
}

/// Two events: a progress notification at once, then the response (after the go-ahead when
/// `slow`).
fn async_stream(
    progress: Value,
    done: Value,
    go: Arc<Notify>,
    slow: bool,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::unfold(0u8, move |step| {
        let (progress, done, go) = (progress.clone(), done.clone(), go.clone());
        async move {
            match step {
                0 => Some((Ok(Bytes::from(format!("id: 1\ndata: {progress}\n\n"))), 1)),
                1 => {
                    if slow {
                        go.notified().await;
                    }
                    Some((Ok(Bytes::from(format!("id: 2\ndata: {done}\n\n"))), 2))
                }
                _ => None,
            }
        }
    })
}

/// Starts the upstream on a free loopback port; it serves `/mcp`.
pub fn start() -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let up = Upstream {
        url: format!("http://127.0.0.1:{port}/mcp"),
        ..Default::default()
    };
    let data = web::Data::new(up.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/mcp", web::route().to(mcp))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    up
}

/// An address where nothing listens.
pub fn closed_port_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}/mcp")
}
