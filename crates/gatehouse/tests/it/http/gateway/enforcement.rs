//! Discovery, the 401/403 challenges, the catalogue's rules, revocation across nodes, and the
//! rate limit: every refusal is answered by the gateway and never reaches the upstream.
use actix_web::test;
use authz_core::admin::settings::{self, GatewayCallLimits, TenantSettings};
use authz_core::testkit::world::{self, DELETE, READ, SETTINGS};
use serde_json::{json, Value};

use super::fixture::{self, call, challenge, rpc};

const PRM: &str = "https://crm.example.com/.well-known/oauth-protected-resource/mcp";

#[actix_web::test]
async fn metadata_names_the_resource_its_issuer_and_scopes_with_open_cors() {
    let gw = fixture::start().await;
    let r = gw
        .request(
            reqwest::Method::GET,
            "/.well-known/oauth-protected-resource/mcp",
            None,
        )
        .header("origin", "https://inspector.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["resource"], world::RESOURCE_URI);
    assert_eq!(doc["authorization_servers"], json!([world::ISSUER]));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    assert_eq!(doc["resource_name"], "Acme CRM");
    assert_eq!(
        doc["jwks_uri"],
        format!("{}/.well-known/jwks.json", world::ISSUER)
    );
    let mut scopes = vec![READ, DELETE, SETTINGS];
    scopes.sort();
    assert_eq!(doc["scopes_supported"], json!(scopes));
    let pre = gw
        .request(
            reqwest::Method::OPTIONS,
            "/.well-known/oauth-protected-resource/mcp",
            None,
        )
        .header("origin", "https://inspector.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success());
    assert_eq!(pre.headers()["access-control-allow-origin"], "*");
    assert!(pre.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("GET"));
}

#[actix_web::test]
async fn no_token_gets_401_with_the_metadata_and_the_scope_the_request_needs() {
    let gw = fixture::start().await;
    let r = gw.post(None, &rpc(1, "initialize", json!({}))).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        challenge(&r),
        format!("Bearer resource_metadata=\"{PRM}\", scope=\"{READ}\"")
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["id"], 1);
    assert!(body["error"]["code"].is_i64());
    // A tools/call asks for the tool's scopes.
    let r = gw
        .post(None, &call(2, "delete_customer", json!({"id": 7})))
        .await;
    assert_eq!(r.status(), 401);
    assert!(
        challenge(&r).contains(&format!("scope=\"{READ} {DELETE}\"")),
        "{}",
        challenge(&r)
    );
    // A token that is not one.
    let r = gw
        .post(Some("not-a-token"), &rpc(3, "tools/list", json!({})))
        .await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("error=\"invalid_token\""));
    assert_eq!(gw.forwarded(), 0);
}

#[actix_web::test]
async fn a_token_in_the_query_string_is_refused_and_never_forwarded() {
    let gw = fixture::start().await;
    let token = gw.token(&[READ]).await;
    let r = gw
        .request(
            reqwest::Method::POST,
            &format!("/mcp?access_token={token}"),
            None,
        )
        .header("content-type", "application/json")
        .body(rpc(1, "tools/list", json!({})).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(challenge(&r).contains("error=\"invalid_request\""));
    let r = gw
        .request(
            reqwest::Method::GET,
            &format!("/mcp?access_token={token}"),
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(gw.forwarded(), 0);
}

#[actix_web::test]
async fn a_missing_scope_gets_403_insufficient_scope_listing_every_scope_to_ask_for() {
    let gw = fixture::start().await;
    let token = gw.token(&[READ]).await;
    let r = gw
        .post(Some(&token), &call(1, "delete_customer", json!({"id": 7})))
        .await;
    assert_eq!(r.status(), 403);
    let c = challenge(&r);
    assert!(c.starts_with("Bearer error=\"insufficient_scope\""), "{c}");
    assert!(c.contains(&format!("scope=\"{READ} {DELETE}\"")), "{c}");
    assert!(c.contains(&format!("resource_metadata=\"{PRM}\"")), "{c}");
    assert_eq!(gw.forwarded(), 0);
    // The same call within scope goes through.
    let token = gw.token(&[READ, DELETE]).await;
    let r = gw
        .post(Some(&token), &call(2, "delete_customer", json!({"id": 7})))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(gw.forwarded(), 1);
}

#[actix_web::test]
async fn an_unlisted_tool_is_refused_by_name() {
    let gw = fixture::start().await;
    let token = gw.token(&[READ, DELETE, SETTINGS]).await;
    let r = gw
        .post(Some(&token), &call(5, "export_everything", json!({})))
        .await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["id"], 5);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("export_everything"));
    assert_eq!(gw.forwarded(), 0);
}

#[actix_web::test]
async fn a_critical_tool_needs_a_sign_in_within_the_step_up_window() {
    let gw = fixture::start().await;
    // The session's sign-in is 20 minutes old when the token is issued.
    gw.w.clock.advance_secs(20 * 60);
    let stale = gw.token(&[READ, SETTINGS]).await;
    let r = gw
        .post(Some(&stale), &call(1, fixture::CRITICAL_TOOL, json!({})))
        .await;
    assert_eq!(r.status(), 403);
    let c = challenge(&r);
    assert!(c.contains("error=\"insufficient_scope\""), "{c}");
    assert!(c.contains(&format!("scope=\"{READ} {SETTINGS}\"")), "{c}");
    assert!(c.contains("recent sign-in"), "{c}");
    // Routine tools still work with that token.
    let r = gw
        .post(Some(&stale), &call(2, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(gw.forwarded(), 1);
    // A fresh sign-in: the critical tool works.
    let again = gw.w.signed_in_again(&gw.t).await;
    let c = gw.w.code_for(&again, &gw.w.client, &[READ, SETTINGS]).await;
    let fresh = gw.w.exchange(&gw.w.client, &c).await.unwrap().access_token;
    let r = gw
        .post(Some(&fresh), &call(3, fixture::CRITICAL_TOOL, json!({})))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(gw.forwarded(), 2);
}

#[actix_web::test]
async fn a_batch_with_one_forbidden_call_is_refused_whole() {
    let gw = fixture::start().await;
    let token = gw.token(&[READ]).await;
    let batch = json!([
        call(1, "list_customers", json!({})),
        call(2, "delete_customer", json!({"id": 1})),
    ]);
    let r = gw.post(Some(&token), &batch).await;
    assert_eq!(r.status(), 403);
    assert!(challenge(&r).contains(&format!("scope=\"{READ} {DELETE}\"")));
    assert_eq!(gw.forwarded(), 0);
    // Both calls are in the log as refused.
    let rows = gw.audit().await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.result == "denied"));
    // A batch of allowed calls goes through as one request.
    let ok = json!([
        call(3, "list_customers", json!({})),
        rpc(4, "tools/list", json!({}))
    ]);
    let r = gw.post(Some(&token), &ok).await;
    assert_eq!(r.status(), 200);
    let answers: Value = r.json().await.unwrap();
    assert_eq!(answers.as_array().unwrap().len(), 2);
    assert_eq!(gw.forwarded(), 1);
}

#[actix_web::test]
async fn malformed_and_oversized_bodies_are_refused_and_never_forwarded() {
    let up = super::upstream::start();
    let url = up.url.clone();
    let options = gateway::Options {
        max_body_bytes: 4096,
        ..Default::default()
    };
    let gw = fixture::start_with(up, world::RESOURCE_URI, &url, options).await;
    let token = gw.token(&[READ]).await;
    let send = |body: String| {
        gw.request(reqwest::Method::POST, "/mcp", Some(&token))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = send("{\"jsonrpc\":\"2.0\",\"id\":1,".into()).await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700);
    for bad in [
        json!({"id": 1, "method": "tools/list"}),
        json!([]),
        json!("x"),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {}}),
    ] {
        let r = send(bad.to_string()).await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert!(body["error"]["code"].as_i64().unwrap() <= -32600, "{bad}");
    }
    let big = call(1, "list_customers", json!({"q": "x".repeat(5000)}));
    let r = send(big.to_string()).await.unwrap();
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(gw.forwarded(), 0);
}

#[actix_web::test]
async fn a_token_for_another_resource_gets_401() {
    let up = super::upstream::start();
    let url = up.url.clone();
    let gw = fixture::start_with(up, world::OTHER_RESOURCE_URI, &url, Default::default()).await;
    let crm_token = gw.token(&[READ]).await;
    let r = gw
        .post(Some(&crm_token), &rpc(1, "tools/list", json!({})))
        .await;
    assert_eq!(r.status(), 401);
    let c = challenge(&r);
    assert!(
        c.contains("https://wiki.example.com/.well-known/oauth-protected-resource/mcp"),
        "{c}"
    );
    assert!(c.contains("scope=\"wiki:read\""), "{c}");
    assert_eq!(gw.forwarded(), 0);
}

#[actix_web::test]
async fn a_token_revoked_at_node_a_is_refused_at_the_next_call() {
    let gw = fixture::start().await;
    let token = gw.token(&[READ]).await;
    let r = gw
        .post(Some(&token), &call(1, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 200);
    let node_a = crate::http::world::Node::new(&gw.w.store, &gw.w.clock, world::ISSUER)
        .app()
        .await;
    let req = test::TestRequest::post()
        .uri("/oauth/revoke")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(
            serde_urlencoded::to_string([
                ("token", token.as_str()),
                ("client_id", gw.w.client.client_id.as_str()),
            ])
            .unwrap(),
        )
        .to_request();
    let resp = test::call_service(&node_a, req).await;
    assert_eq!(resp.status(), 200);
    let r = gw
        .post(Some(&token), &call(2, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("error=\"invalid_token\""));
    assert_eq!(gw.forwarded(), 1);
}

#[actix_web::test]
async fn calls_over_the_tenants_limit_get_429_and_are_audited() {
    let gw = fixture::start().await;
    settings::set(
        &gw.w.store,
        &gw.w.clock,
        gw.t.id(),
        &TenantSettings {
            gateway_calls_per_minute: Some(GatewayCallLimits {
                routine: Some(2),
                ..Default::default()
            }),
            ..Default::default()
        },
        "test",
    )
    .await
    .unwrap();
    let token = gw.token(&[READ, DELETE]).await;
    for i in 0..2 {
        let r = gw
            .post(Some(&token), &call(i, "list_customers", json!({})))
            .await;
        assert_eq!(r.status(), 200);
    }
    let r = gw
        .post(Some(&token), &call(3, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 429);
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["id"], 3);
    // Another tier has its own budget; other messages are not counted.
    let r = gw
        .post(Some(&token), &call(4, "delete_customer", json!({"id": 1})))
        .await;
    assert_eq!(r.status(), 200);
    let r = gw
        .post(Some(&token), &rpc(5, "tools/list", json!({})))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(gw.forwarded(), 4);
    let rows = gw.audit().await;
    assert_eq!(
        rows.iter().filter(|r| r.result == "rate_limited").count(),
        1
    );
    // The next minute the budget is back.
    gw.w.clock.advance_secs(60);
    let r = gw
        .post(Some(&token), &call(6, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 200);
}

#[actix_web::test]
async fn a_suspended_tenants_tokens_and_a_revoked_family_get_401_and_never_reach_the_upstream() {
    let gw = fixture::start().await;
    let token = gw.token(&[READ]).await;
    let r = gw
        .post(Some(&token), &call(1, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 200);
    authz_core::incident::suspend(&gw.w.store, &gw.w.clock, gw.t.id(), "operator")
        .await
        .unwrap();
    let r = gw
        .post(Some(&token), &call(2, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 401);
    authz_core::incident::resume(&gw.w.store, &gw.w.clock, gw.t.id(), "operator")
        .await
        .unwrap();
    let r = gw
        .post(Some(&token), &call(3, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 200, "resuming restores what has not expired");
    // The grant family revoked (e.g. refresh-token reuse), the access token row untouched.
    use sea_orm::{ConnectionTrait, Statement};
    gw.w.store
        .db
        .execute(Statement::from_string(
            gw.w.store.db.get_database_backend(),
            "UPDATE grant_families SET revoked_at = 1".to_string(),
        ))
        .await
        .unwrap();
    let r = gw
        .post(Some(&token), &call(4, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(gw.forwarded(), 2);
}

/// ADR 0019: with the database out of reach the gateway answers 503 with `Retry-After` and a
/// JSON-RPC error, and forwards nothing.
#[actix_web::test]
async fn an_unreachable_database_gets_503_with_retry_after_and_nothing_forwarded() {
    let gw = fixture::start().await;
    let token = gw.token(&[READ]).await;
    gw.w.store.db.clone().close().await.expect("close the pool");
    let r = gw
        .post(Some(&token), &call(1, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "3");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["id"], 1);
    assert!(body["error"]["code"].is_i64(), "{body}");
    assert_eq!(gw.forwarded(), 0);
}
