//! The gateway's introspection mode (issue 13 §1, second mode): a Gatehouse on a real TCP port
//! (the "remote", over the test store) and a gateway with no database in front of a test MCP
//! server, checking tokens by RFC 7662 introspection at the remote, loading the catalogue from
//! `GET /resources/v1/policy`, signing upstream JWTs with its own key and reporting each call
//! to the remote's `POST /audit/v1/events`.
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{web, App, HttpServer};
use authz_core::testkit::world::{self, TenantFx, World, DELETE, READ};
use authz_core::upstream_jwt;
use gateway::remote::{Remote, RemoteConfig};
use gateway::{AuditSink, AuditWriter, GatewayState, Options};
use serde_json::{json, Value};

use super::fixture::{call, challenge};
use super::upstream::{self, Upstream};

struct RemoteGw {
    w: World,
    t: TenantFx,
    up: Upstream,
    /// The remote Gatehouse's origin.
    remote: String,
    remote_server: actix_web::dev::ServerHandle,
    /// The gateway's origin (the CRM at `/mcp`).
    base: String,
    sink: AuditSink,
    _writer: AuditWriter,
    http: reqwest::Client,
}

/// The test Gatehouse, every surface, on a loopback port; its origin and its server's handle.
fn start_remote_server(w: &World) -> (String, actix_web::dev::ServerHandle) {
    let node = crate::http::world::Node::new(&w.store, &w.clock, world::ISSUER);
    let services = gatehouse::Services::new(node.issuer, node.scim, node.admin, node.console);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = HttpServer::new(move || gatehouse::app(&services))
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (origin, handle)
}

fn start_remote(w: &World) -> String {
    start_remote_server(w).0
}

fn config(remote: &str, w: &World, secret: &str) -> RemoteConfig {
    RemoteConfig {
        introspect_url: format!("{remote}/oauth/introspect"),
        client_id: w.resource.rs_client_id.clone(),
        client_secret: secret.to_string(),
    }
}

async fn start() -> RemoteGw {
    let w = World::new().await;
    let t = w.tenant("acme", "acme.example", &[READ, DELETE]).await;
    let (remote, remote_server) = start_remote_server(&w);
    let up = upstream::start();
    let dir = std::env::temp_dir().join(format!(
        "gatehouse-gw-remote-{}",
        authz_core::crypto::random_hex16()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("gateway-signing.key");
    let signer = gateway::remote::signing_key(&key_file).expect("a new signing key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is private");
    }
    // The same key is read back from the file.
    let again = gateway::remote::signing_key(&key_file).unwrap();
    assert_eq!(again.verifying_key(), signer.verifying_key());
    let r = Arc::new(
        Remote::connect(config(&remote, &w, &w.rs_secret))
            .await
            .expect("the policy loads"),
    );
    assert_eq!(r.issuer(), world::ISSUER);
    let clock: authz_core::clock::SharedClock = Arc::new(w.clock.clone());
    let (sink, writer) = AuditSink::start_remote(r.clone());
    let state = GatewayState::remote(r, clock, signer, &up.url, Options::default(), sink.clone())
        .expect("gateway state");
    let state = web::Data::new(state);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = HttpServer::new(move || App::new().configure(gateway::configure(state.clone())))
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
    actix_web::rt::spawn(server);
    RemoteGw {
        w,
        t,
        up,
        remote,
        remote_server,
        base,
        sink,
        _writer: writer,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    }
}

impl RemoteGw {
    async fn post(&self, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}/mcp", self.base))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .bearer_auth(token)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, url: &str) -> Value {
        let r = self.http.get(url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        r.json().await.unwrap()
    }
}

#[actix_web::test]
async fn a_call_in_scope_reaches_the_upstream_with_a_jwt_the_gateways_own_jwks_verifies() {
    let gw = start().await;
    let token = gw.w.tokens(&gw.t, &[READ]).await.access_token;
    let r = gw
        .post(&token, &call(1, "list_customers", json!({"q": "acme"})))
        .await;
    assert_eq!(r.status(), 200);
    let seen = &gw.up.seen()[0];
    let jwt = seen
        .header("authorization")
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap()
        .to_string();
    assert!(seen.headers.iter().all(|(_, v)| !v.contains(&token)));
    // The PRM names the remote issuer and the gateway's own JWKS.
    let meta = gw
        .get(&format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            gw.base
        ))
        .await;
    assert_eq!(meta["resource"], world::RESOURCE_URI);
    assert_eq!(meta["authorization_servers"], json!([world::ISSUER]));
    assert_eq!(
        meta["jwks_uri"],
        "https://crm.example.com/.well-known/jwks.json"
    );
    let jwks = gw.get(&format!("{}/.well-known/jwks.json", gw.base)).await;
    let keys = upstream_jwt::keys_from_jwks(&jwks);
    assert_eq!(keys.len(), 1);
    let now = gw.w.clock_now() / authz_core::clock::MICROS;
    let claims = upstream_jwt::verify(&jwt, &keys, world::ISSUER, &gw.up.url, now)
        .expect("the JWT verifies against the gateway's JWKS");
    assert_eq!(claims.sub, gw.t.user.id);
    assert_eq!(claims.tenant, gw.t.id().as_str());
    assert_eq!(claims.scope, READ);
    // The issuer's own keys do not verify it: the gateway signs with its own key.
    let issuer_jwks = gw
        .get(&format!("{}/.well-known/jwks.json", gw.remote))
        .await;
    assert!(upstream_jwt::verify(
        &jwt,
        &upstream_jwt::keys_from_jwks(&issuer_jwks),
        world::ISSUER,
        &gw.up.url,
        now
    )
    .is_err());
    // The call is reported to the remote and lands in the tenant's chain.
    gw.sink.flush().await;
    let rows: Vec<_> =
        gw.w.audit_rows(gw.t.id().as_str())
            .await
            .into_iter()
            .filter(|r| r.action == "tool.called")
            .collect();
    assert_eq!(rows.len(), 1, "one report of the call");
    let row = &rows[0];
    assert_eq!(row.result, "success");
    let detail: Value = serde_json::from_str(&row.details).unwrap();
    assert_eq!(detail["tool"], "list_customers");
    assert_eq!(detail["parameters"]["q"], "acme");
    assert_eq!(detail["reported_by"]["resource"], world::RESOURCE_URI);
}

#[actix_web::test]
async fn out_of_scope_is_403_and_a_token_revoked_at_the_remote_is_401_on_the_next_call() {
    let gw = start().await;
    let token = gw.w.tokens(&gw.t, &[READ]).await.access_token;
    let r = gw
        .post(&token, &call(1, "delete_customer", json!({"id": 7})))
        .await;
    assert_eq!(r.status(), 403);
    let c = challenge(&r);
    assert!(c.contains("error=\"insufficient_scope\""), "{c}");
    assert!(c.contains(DELETE), "{c}");
    assert_eq!(gw.up.seen().len(), 0);
    let r = gw.post(&token, &call(2, "list_customers", json!({}))).await;
    assert_eq!(r.status(), 200);
    // The remote's introspection answer carries the sign-in time the step-up window needs.
    let i: Value = gw
        .http
        .post(format!("{}/oauth/introspect", gw.remote))
        .basic_auth(&gw.w.resource.rs_client_id, Some(&gw.w.rs_secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(i["active"], true);
    let auth_time = i["auth_time"].as_i64().expect("auth_time in seconds");
    let now = gw.w.clock_now() / authz_core::clock::MICROS;
    assert!(
        auth_time <= now && auth_time > now - 3600,
        "{auth_time} vs {now}"
    );
    let revoked = gw
        .http
        .post(format!("{}/oauth/revoke", gw.remote))
        .form(&[
            ("token", token.as_str()),
            ("client_id", gw.w.client.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let r = gw.post(&token, &call(3, "list_customers", json!({}))).await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("invalid_token"));
    let r = gw
        .post("not-a-token", &call(4, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        gw.up.seen().len(),
        1,
        "only the call before the revocation passed"
    );
}

#[actix_web::test]
async fn a_wrong_client_secret_stops_the_start_and_a_remote_that_is_down_too() {
    let w = World::new().await;
    let remote = start_remote(&w);
    let err = Remote::connect(config(&remote, &w, "wrong-secret"))
        .await
        .err()
        .expect("refused");
    assert!(format!("{err:#}").contains("401"), "{err:#}");
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    assert!(Remote::connect(config(&down, &w, &w.rs_secret))
        .await
        .is_err());
}

#[actix_web::test]
async fn the_policy_endpoint_refuses_bad_credentials_and_answers_the_callers_policy() {
    let w = World::new().await;
    let remote = start_remote(&w);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("{remote}/resources/v1/policy");
    let r = http
        .get(&url)
        .basic_auth(&w.resource.rs_client_id, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(&url)
        .basic_auth(&w.resource.rs_client_id, Some(&w.rs_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["issuer"], world::ISSUER);
    assert_eq!(p["uri"], world::RESOURCE_URI);
    assert_eq!(p["display_name"], "Acme CRM");
    assert!(p["version"].as_i64().is_some());
    assert_eq!(p["tools"]["delete_customer"], json!([READ, DELETE]));
    let tiers: Vec<(String, String)> = p["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["tier"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(tiers.contains(&(world::SETTINGS.to_string(), "critical".to_string())));
    assert_eq!(p["settings"]["filter_tools_list"], true);
    // The other resource's credentials answer the other resource's policy, never the CRM's.
    let r = http
        .get(&url)
        .basic_auth(&w.other_resource.rs_client_id, Some(&w.other_rs_secret))
        .send()
        .await
        .unwrap();
    let other: Value = r.json().await.unwrap();
    assert_eq!(other["uri"], world::OTHER_RESOURCE_URI);
}

#[actix_web::test]
async fn a_remote_that_is_down_gets_503_with_a_json_rpc_error_and_nothing_passes() {
    let gw = start().await;
    let token = gw.w.tokens(&gw.t, &[READ]).await.access_token;
    gw.remote_server.stop(false).await;
    let r = gw.post(&token, &call(9, "list_customers", json!({}))).await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["id"], 9);
    assert!(body["error"]["code"].is_i64(), "{body}");
    assert_eq!(gw.up.seen().len(), 0, "nothing reached the upstream");
    // The catalogue stays the last good one: the metadata still answers.
    let meta = gw
        .get(&format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            gw.base
        ))
        .await;
    assert_eq!(meta["resource"], world::RESOURCE_URI);
}

#[actix_web::test]
async fn a_dpop_bound_token_is_checked_from_the_introspection_answer() {
    use authz_core::testkit::dpop::DpopKey;
    use authz_core::token::code::{self, CodeExchange};
    let g = start().await;
    let key = DpopKey::new(1);
    let c = g.w.code_for(&g.t, &g.w.client, &[READ]).await;
    let token = code::exchange(
        &g.w.store,
        &g.w.clock,
        &g.w.client,
        CodeExchange {
            code: &c,
            redirect_uri: Some(world::REDIRECT),
            code_verifier: Some(world::VERIFIER),
            resource: Some(world::RESOURCE_URI),
            dpop_jkt: Some(key.jkt()),
        },
    )
    .await
    .unwrap()
    .access_token;
    // As a bearer token: the answer's cnf.jkt makes it a bound token.
    let r = g.post(&token, &call(1, "list_customers", json!({}))).await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).starts_with("DPoP error=\"invalid_token\""));
    let dpop = |proof: &str| {
        g.http
            .post(format!("{}/mcp", g.base))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof.to_string())
            .body(call(2, "list_customers", json!({})).to_string())
    };
    let iat = g.w.clock_now() / 1_000_000;
    let r = dpop(&key.proof("POST", world::RESOURCE_URI, iat, None, Some(&token)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let nonce = r.headers()["dpop-nonce"].to_str().unwrap().to_string();
    let proof = key.proof("POST", world::RESOURCE_URI, iat, Some(&nonce), Some(&token));
    assert_eq!(dpop(&proof).send().await.unwrap().status(), 200);
    // This node remembers the proof.
    let r = dpop(&proof).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("already used"));
    assert_eq!(g.up.seen().len(), 1);
}
