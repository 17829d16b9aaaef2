//! What passes through: the upstream's JWT instead of the client's token, JSON and SSE answers
//! (streamed, `tools/list` filtered), the Streamable HTTP headers, GET and DELETE, an upstream
//! that is down, and the audit record of every call.
use std::time::Duration;

use actix_web::test;
use authz_core::testkit::world::{self, DELETE, READ};
use authz_core::upstream_jwt;
use futures::StreamExt;
use serde_json::{json, Value};

use super::fixture::{self, call, rpc};
use super::upstream;

#[actix_web::test]
async fn the_upstream_gets_a_signed_short_lived_jwt_and_never_the_clients_credentials() {
    let gw = fixture::start().await;
    let token = gw.token(&[READ]).await;
    let r = gw
        .request(reqwest::Method::POST, "/mcp", Some(&token))
        .header("content-type", "application/json")
        .header("cookie", "session=browser-secret")
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-session-id", "sess-1")
        .body(call(1, "list_customers", json!({})).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["mcp-session-id"], "sess-1");
    let seen = &gw.up.seen()[0];
    assert!(seen.headers.iter().all(|(_, v)| !v.contains(&token)), "the client's token reached the upstream");
    assert_eq!(seen.header("cookie"), None);
    assert_eq!(seen.header("mcp-protocol-version"), Some("2025-11-25"));
    assert_eq!(seen.header("mcp-session-id"), Some("sess-1"));
    assert_eq!(seen.header("accept"), Some("application/json, text/event-stream"));
    let jwt = seen.header("authorization").unwrap().strip_prefix("Bearer ").unwrap();
    // The upstream verifies it with the JWKS the issuer publishes.
    let node_a = crate::http::world::Node::new(&gw.w.store, &gw.w.clock, world::ISSUER).app().await;
    let jwks: Value = test::call_and_read_body_json(
        &node_a,
        test::TestRequest::get().uri("/.well-known/jwks.json").to_request(),
    )
    .await;
    let meta: Value = test::call_and_read_body_json(
        &node_a,
        test::TestRequest::get().uri("/.well-known/oauth-authorization-server").to_request(),
    )
    .await;
    assert_eq!(meta["jwks_uri"], format!("{}/.well-known/jwks.json", world::ISSUER));
    let keys = upstream_jwt::keys_from_jwks(&jwks);
    let now = gw.w.clock_now() / 1_000_000;
    let claims = upstream_jwt::verify(jwt, &keys, world::ISSUER, &gw.up.url, now).unwrap();
    assert!(claims.exp - claims.iat <= 60 && claims.exp > now);
    assert_eq!(claims.sub, gw.t.user.id);
    assert_eq!(claims.tenant, gw.t.id().to_string());
    assert_eq!(claims.client_id, gw.w.client.client_id);
    assert_eq!(claims.scope, READ);
    assert_eq!(claims.sid, gw.t.session.id);
    assert_eq!(claims.email, None, "identity is shared only when the resource allows it");
    // Another audience, or later than 60 seconds: refused.
    assert!(upstream_jwt::verify(jwt, &keys, world::ISSUER, "http://other/mcp", now).is_err());
    assert!(upstream_jwt::verify(jwt, &keys, world::ISSUER, &gw.up.url, now + 60).is_err());
}

#[actix_web::test]
async fn an_upstream_that_is_down_gets_502_with_a_json_rpc_error() {
    let up = upstream::Upstream::default();
    let gw = fixture::start_with(up, world::RESOURCE_URI, &upstream::closed_port_url(), Default::default()).await;
    let token = gw.token(&[READ]).await;
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        gw.post(Some(&token), &call(9, "list_customers", json!({}))),
    )
    .await
    .expect("no hang");
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["id"], 9);
    assert!(body["error"]["message"].is_string());
    let rows = gw.audit().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].result, "failure");
}

fn tool_names(result: &Value) -> Vec<String> {
    result["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

/// The `data` of each SSE event of `text`, parsed.
fn sse_messages(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|ev| {
            let data: Vec<&str> = ev.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim).collect();
            (!data.is_empty()).then(|| serde_json::from_str(&data.join("\n")).unwrap())
        })
        .collect()
}

#[actix_web::test]
async fn tools_list_answers_list_only_the_tools_the_token_may_call() {
    let gw = fixture::start().await;
    let token = gw.token(&[READ]).await;
    let r = gw.post(Some(&token), &rpc(1, "tools/list", json!({}))).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(tool_names(&body), vec!["list_customers"]);
    let r = gw.post(Some(&token), &rpc(2, "tools/list", json!({"_meta": {"sse": true}}))).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let msgs = sse_messages(&r.text().await.unwrap());
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["method"], "notifications/progress");
    assert_eq!(msgs[1]["id"], 2);
    assert_eq!(tool_names(&msgs[1]), vec!["list_customers"]);
    let wider = gw.token(&[READ, DELETE]).await;
    let r = gw.post(Some(&wider), &rpc(3, "tools/list", json!({}))).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(tool_names(&body), vec!["list_customers", "delete_customer"]);
}

#[actix_web::test]
async fn an_sse_answer_is_streamed_the_first_event_arrives_before_the_upstream_finishes() {
    let gw = fixture::start().await;
    let token = gw.token(&[READ]).await;
    let r = gw
        .request(reqwest::Method::POST, "/mcp", Some(&token))
        .header("content-type", "application/json")
        .body(rpc(8, "tools/call", json!({"name": "list_customers", "arguments": {}, "_meta": {"sse": "slow"}})).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    let mut seen = String::new();
    // The progress event arrives while the upstream still holds the response back.
    while !seen.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("the first event was held back")
            .unwrap()
            .unwrap();
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(seen.contains("notifications/progress"));
    assert!(!seen.contains("\"result\""));
    gw.up.go.notify_one();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.unwrap() {
        seen.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    let msgs = sse_messages(&seen);
    assert_eq!(msgs[1]["id"], 8);
    assert_eq!(msgs[1]["result"]["content"][0]["text"], "ok");
    // The call is recorded when its response event passed.
    let rows = gw.audit().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].result, "success");
}

#[actix_web::test]
async fn every_call_is_audited_with_who_what_how_it_ended_and_from_where() {
    let gw = fixture::start().await;
    let token = gw.token(&[READ, DELETE]).await;
    let r = gw
        .post(Some(&token), &call(1, "delete_customer", json!({"id": 7, "api_key": "k-123", "auth": {"password": "p"}})))
        .await;
    assert_eq!(r.status(), 200);
    let r = gw.post(Some(&token), &call(2, "list_customers", json!({"fail": true}))).await;
    assert_eq!(r.status(), 200);
    let r = gw.post(Some(&token), &call(3, "export_everything", json!({}))).await;
    assert_eq!(r.status(), 403);
    let rows = gw.audit().await;
    assert_eq!(rows.len(), 3);
    let by_tool = |t: &str| {
        rows.iter()
            .find(|r| serde_json::from_str::<Value>(&r.details).unwrap()["tool"] == t)
            .unwrap_or_else(|| panic!("no record of {t}"))
    };
    let del = by_tool("delete_customer");
    assert_eq!(del.result, "success");
    assert_eq!(del.user_id.as_deref(), Some(gw.t.user.id.as_str()));
    assert_eq!(del.client_id.as_deref(), Some(gw.w.client.client_id.as_str()));
    assert_eq!(del.session_id.as_deref(), Some(gw.t.session.id.as_str()));
    assert_eq!(del.resource.as_deref(), Some(world::RESOURCE_URI));
    assert_eq!(del.scope.as_deref(), Some(format!("{READ} {DELETE}").as_str()));
    assert_eq!(del.source_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(del.user_agent.as_deref(), Some(fixture::UA));
    let d: Value = serde_json::from_str(&del.details).unwrap();
    assert_eq!(d["parameters"]["id"], 7);
    assert_eq!(d["parameters"]["api_key"], "[redacted]");
    assert_eq!(d["parameters"]["auth"], "[redacted]");
    assert!(!del.details.contains("k-123"));
    assert!(d["latency_ms"].is_i64());
    assert_eq!(by_tool("list_customers").result, "tool_error");
    assert_eq!(by_tool("export_everything").result, "denied");
}

#[actix_web::test]
async fn get_streams_and_delete_pass_through_for_a_valid_token_only() {
    let gw = fixture::start().await;
    let token = gw.token(&[READ]).await;
    let r = gw
        .request(reqwest::Method::GET, "/mcp", Some(&token))
        .header("last-event-id", "41")
        .header("mcp-session-id", "sess-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("event: ping"));
    let r = gw.request(reqwest::Method::DELETE, "/mcp", Some(&token)).header("mcp-session-id", "sess-1").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let seen = gw.up.seen();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].header("last-event-id"), Some("41"));
    assert_eq!(seen[1].method, "DELETE");
    assert_eq!(seen[1].header("mcp-session-id"), Some("sess-1"));
    let r = gw.request(reqwest::Method::GET, "/mcp", None).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(gw.forwarded(), 2);
}

#[actix_web::test]
async fn a_clean_shutdown_writes_every_queued_record() {
    let mut gw = fixture::start().await;
    let token = gw.token(&[READ]).await;
    for i in 0..3 {
        let r = gw.post(Some(&token), &call(i, "list_customers", json!({}))).await;
        assert_eq!(r.status(), 200);
    }
    // No flush: the shutdown alone writes what is queued.
    gw.writer.take().unwrap().shutdown().await;
    let rows: Vec<_> = gw
        .w
        .audit_rows(gw.t.id().as_str())
        .await
        .into_iter()
        .filter(|r| r.action == "gateway.tool_call")
        .collect();
    assert_eq!(rows.len(), 3);
}
