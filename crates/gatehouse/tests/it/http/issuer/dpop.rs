//! DPoP at the token endpoint (RFC 9449 §5, §8): the code exchange binds the grant family to
//! the proof's key (`token_type: DPoP`, introspection `cnf.jkt`), a refresh needs a proof of
//! the same key, a replayed proof is refused, and a proof without the server's nonce gets
//! `use_dpop_nonce` with a `DPoP-Nonce` to retry with.
use actix_web::test;
use authz_core::testkit::dpop::DpopKey;
use authz_core::testkit::world::{self, TenantFx, World, READ};
use serde_json::Value;

const TOKEN_URL: &str = "https://auth.gatehouse.test/oauth/token";

fn now(w: &World) -> i64 {
    w.clock_now() / 1_000_000
}

/// POSTs a token request with `proof` as the `DPoP` header; the status, `DPoP-Nonce` and body.
async fn post<S, B>(app: &S, body: &[(&str, &str)], proof: Option<&str>) -> (u16, String, Value)
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let mut req = test::TestRequest::post()
        .uri("/oauth/token")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(super::common::form(body));
    if let Some(p) = proof {
        req = req.insert_header(("DPoP", p));
    }
    let r = test::call_service(app, req.to_request()).await;
    let status = r.status().as_u16();
    let nonce = r
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&test::read_body(r).await).unwrap_or(Value::Null);
    (status, nonce, body)
}

async fn world() -> (World, TenantFx) {
    let w = World::new().await;
    let t = w.tenant("acme", "acme.example", &[READ]).await;
    (w, t)
}

fn code_body<'a>(w: &'a World, code: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", w.client.client_id.as_str()),
        ("redirect_uri", world::REDIRECT),
        ("code_verifier", world::VERIFIER),
        ("resource", world::RESOURCE_URI),
    ]
}

/// The server's current nonce, learnt as a client learns it: a first proof without one.
async fn learn_nonce<S, B>(app: &S, w: &World, key: &DpopKey) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let proof = key.proof("POST", TOKEN_URL, now(w), None, None);
    let body = [
        ("grant_type", "refresh_token"),
        ("client_id", w.client.client_id.as_str()),
    ];
    let (status, nonce, body) = post(app, &body, Some(&proof)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("use_dpop_nonce"))
    );
    assert!(!nonce.is_empty());
    nonce
}

#[actix_web::test]
async fn a_code_exchange_with_a_proof_binds_the_tokens_to_the_key() {
    let (w, t) = world().await;
    let app = crate::http::world::Node::new(&w.store, &w.clock, world::ISSUER)
        .app()
        .await;
    let key = DpopKey::new(1);
    let code = w.code_for(&t, &w.client, &[READ]).await;
    // First without the nonce: use_dpop_nonce and a nonce to retry with (RFC 9449 §8).
    let proof = key.proof("POST", TOKEN_URL, now(&w), None, None);
    let (status, nonce, body) = post(&app, &code_body(&w, &code), Some(&proof)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "use_dpop_nonce");
    // The code was not spent by the refused attempt.
    let proof = key.proof("POST", TOKEN_URL, now(&w), Some(&nonce), None);
    let (status, fresh_nonce, body) = post(&app, &code_body(&w, &code), Some(&proof)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    assert!(
        !fresh_nonce.is_empty(),
        "a token answer carries a DPoP-Nonce"
    );
    let access = body["access_token"].as_str().unwrap();
    let i = w.introspect(access).await;
    assert!(i.active);
    assert_eq!(i.cnf.as_ref().map(|c| c.jkt.clone()), Some(key.jkt()));
    assert_eq!(i.token_type, Some("DPoP"));
    // The audit record says the tokens are bound, and to which key.
    let rows = w.audit_rows(t.id().as_str()).await;
    let issued = rows.iter().find(|r| r.action == "token.issued").unwrap();
    let d: Value = serde_json::from_str(&issued.details).unwrap();
    assert_eq!(d["dpop"], true);
    assert_eq!(d["dpop_jkt"], key.jkt());
}

#[actix_web::test]
async fn a_code_exchange_without_a_proof_stays_a_bearer_grant() {
    let (w, t) = world().await;
    let app = crate::http::world::Node::new(&w.store, &w.clock, world::ISSUER)
        .app()
        .await;
    let code = w.code_for(&t, &w.client, &[READ]).await;
    let (status, nonce, body) = post(&app, &code_body(&w, &code), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(nonce.is_empty());
    let i = w.introspect(body["access_token"].as_str().unwrap()).await;
    assert!(i.cnf.is_none());
    assert_eq!(i.token_type, Some("Bearer"));
}

#[actix_web::test]
async fn a_bound_refresh_token_needs_a_proof_of_the_same_key() {
    let (w, t) = world().await;
    let app = crate::http::world::Node::new(&w.store, &w.clock, world::ISSUER)
        .app()
        .await;
    let key = DpopKey::new(1);
    let nonce = learn_nonce(&app, &w, &key).await;
    let code = w.code_for(&t, &w.client, &[READ]).await;
    let proof = key.proof("POST", TOKEN_URL, now(&w), Some(&nonce), None);
    let (status, _, body) = post(&app, &code_body(&w, &code), Some(&proof)).await;
    assert_eq!(status, 200, "{body}");
    let rt = body["refresh_token"].as_str().unwrap().to_string();
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
        ("client_id", w.client.client_id.as_str()),
    ];
    // No proof, or a proof of another key: invalid_grant, and the refresh token still works.
    let (status, _, body) = post(&app, &refresh, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let other = DpopKey::new(2);
    let proof = other.proof("POST", TOKEN_URL, now(&w), Some(&nonce), None);
    let (status, _, body) = post(&app, &refresh, Some(&proof)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The right key: a new DPoP token, still bound to it.
    let proof = key.proof("POST", TOKEN_URL, now(&w), Some(&nonce), None);
    let (status, _, body) = post(&app, &refresh, Some(&proof)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let i = w.introspect(body["access_token"].as_str().unwrap()).await;
    assert_eq!(i.cnf.map(|c| c.jkt), Some(key.jkt()));
}

#[actix_web::test]
async fn a_replayed_proof_is_refused() {
    let (w, t) = world().await;
    let app = crate::http::world::Node::new(&w.store, &w.clock, world::ISSUER)
        .app()
        .await;
    let key = DpopKey::new(1);
    let nonce = learn_nonce(&app, &w, &key).await;
    let proof = key.proof("POST", TOKEN_URL, now(&w), Some(&nonce), None);
    let code = w.code_for(&t, &w.client, &[READ]).await;
    let (status, _, body) = post(&app, &code_body(&w, &code), Some(&proof)).await;
    assert_eq!(status, 200, "{body}");
    // The same proof on a second request (another node would share the same store).
    let code = w.code_for(&t, &w.client, &[READ]).await;
    let (status, nonce, body) = post(&app, &code_body(&w, &code), Some(&proof)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_dpop_proof");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("already used"));
    assert!(!nonce.is_empty());
}

#[actix_web::test]
async fn a_malformed_or_misdirected_proof_is_invalid_dpop_proof() {
    let (w, t) = world().await;
    let app = crate::http::world::Node::new(&w.store, &w.clock, world::ISSUER)
        .app()
        .await;
    let key = DpopKey::new(1);
    let nonce = learn_nonce(&app, &w, &key).await;
    let code = w.code_for(&t, &w.client, &[READ]).await;
    for bad in [
        "not-a-jwt".to_string(),
        key.proof("GET", TOKEN_URL, now(&w), Some(&nonce), None),
        key.proof(
            "POST",
            "https://auth.gatehouse.test/oauth/revoke",
            now(&w),
            Some(&nonce),
            None,
        ),
        key.proof("POST", TOKEN_URL, now(&w) - 3600, Some(&nonce), None),
    ] {
        let (status, _, body) = post(&app, &code_body(&w, &code), Some(&bad)).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"], "invalid_dpop_proof", "{body}");
    }
    // None of them spent the code.
    let proof = key.proof("POST", TOKEN_URL, now(&w), Some(&nonce), None);
    let (status, _, body) = post(&app, &code_body(&w, &code), Some(&proof)).await;
    assert_eq!(status, 200, "{body}");
}

#[actix_web::test]
async fn metadata_lists_the_dpop_algorithms() {
    let (w, _) = world().await;
    let app = crate::http::world::Node::new(&w.store, &w.clock, world::ISSUER)
        .app()
        .await;
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/.well-known/oauth-authorization-server")
            .to_request(),
    )
    .await;
    let doc: Value = test::read_body_json(r).await;
    assert_eq!(
        doc["dpop_signing_alg_values_supported"],
        serde_json::json!(authz_core::jose::SIGNING_ALGS)
    );
}
