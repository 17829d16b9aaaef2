//! DPoP at the gateway (RFC 9449 §7, §9): a bound token needs `Authorization: DPoP` and a
//! proof of its key for this request; every rule refused on its own answers 401 with a `DPoP`
//! challenge and never reaches the upstream; `require_dpop` refuses bearer tokens; plain bearer
//! clients are unaffected otherwise.
use authz_core::entities::resources;
use authz_core::testkit::dpop::DpopKey;
use authz_core::testkit::world::{self, READ};
use authz_core::token::code::{self, CodeExchange};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use super::fixture::{self, call, challenge, rpc, Gw};

const HTU: &str = world::RESOURCE_URI;

/// An access token bound to `key` (the token endpoint's binding is tested in issuer::dpop).
async fn bound_token(gw: &Gw, key: &DpopKey) -> String {
    let c = gw.w.code_for(&gw.t, &gw.w.client, &[READ]).await;
    code::exchange(
        &gw.w.store,
        &gw.w.clock,
        &gw.w.client,
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
    .access_token
}

fn now(gw: &Gw) -> i64 {
    gw.w.clock_now() / 1_000_000
}

/// POSTs `body` with `Authorization: DPoP <token>` and `proof`.
async fn post_dpop(gw: &Gw, token: &str, proof: Option<&str>, body: &Value) -> reqwest::Response {
    let mut rb = gw
        .request(reqwest::Method::POST, "/mcp", None)
        .header("authorization", format!("DPoP {token}"))
        .header("content-type", "application/json");
    if let Some(p) = proof {
        rb = rb.header("dpop", p);
    }
    rb.body(body.to_string()).send().await.unwrap()
}

/// The gateway's nonce, learnt as a client learns it (a proof without one).
async fn learn_nonce(gw: &Gw, key: &DpopKey, token: &str) -> String {
    let proof = key.proof("POST", HTU, now(gw), None, Some(token));
    let r = post_dpop(gw, token, Some(&proof), &rpc(1, "tools/list", json!({}))).await;
    assert_eq!(r.status(), 401);
    assert!(
        challenge(&r).starts_with("DPoP error=\"use_dpop_nonce\""),
        "{}",
        challenge(&r)
    );
    r.headers()["dpop-nonce"].to_str().unwrap().to_string()
}

#[actix_web::test]
async fn a_bound_token_works_only_with_a_proof_of_its_key() {
    let gw = fixture::start().await;
    let key = DpopKey::new(1);
    let token = bound_token(&gw, &key).await;
    // As a bearer token: refused, with a DPoP challenge that still names the metadata.
    let r = gw
        .post(Some(&token), &call(1, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 401);
    let c = challenge(&r);
    assert!(c.starts_with("DPoP error=\"invalid_token\""), "{c}");
    assert!(c.contains("resource_metadata=\"https://crm.example.com/.well-known/oauth-protected-resource/mcp\""), "{c}");
    assert!(c.contains("algs=\""), "{c}");
    // As DPoP without a proof: invalid_dpop_proof.
    let r = post_dpop(&gw, &token, None, &call(2, "list_customers", json!({}))).await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).starts_with("DPoP error=\"invalid_dpop_proof\""));
    assert_eq!(gw.forwarded(), 0);
    // With a proof: first the nonce round trip, then through.
    let nonce = learn_nonce(&gw, &key, &token).await;
    let proof = key.proof("POST", HTU, now(&gw), Some(&nonce), Some(&token));
    let r = post_dpop(
        &gw,
        &token,
        Some(&proof),
        &call(3, "list_customers", json!({})),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(gw.forwarded(), 1);
    // The upstream never sees the token or the proof.
    let seen = &gw.up.seen()[0];
    assert!(seen.header("dpop").is_none());
    assert!(!seen.header("authorization").unwrap_or("").contains(&token));
}

#[actix_web::test]
async fn each_wrong_proof_is_refused_and_audited() {
    let gw = fixture::start().await;
    let key = DpopKey::new(1);
    let token = bound_token(&gw, &key).await;
    let nonce = learn_nonce(&gw, &key, &token).await;
    let n = Some(nonce.as_str());
    let t = now(&gw);
    let wrong = [
        ("ath", key.proof("POST", HTU, t, n, Some("another-token"))),
        (
            "htu",
            key.proof("POST", "https://crm.example.com/other", t, n, Some(&token)),
        ),
        ("htm", key.proof("GET", HTU, t, n, Some(&token))),
        (
            "key",
            DpopKey::new(2).proof("POST", HTU, t, n, Some(&token)),
        ),
        ("iat", key.proof("POST", HTU, t - 600, n, Some(&token))),
    ];
    for (what, proof) in &wrong {
        let r = post_dpop(
            &gw,
            &token,
            Some(proof),
            &call(1, "list_customers", json!({})),
        )
        .await;
        assert_eq!(r.status(), 401, "{what}");
        let c = challenge(&r);
        assert!(
            c.starts_with("DPoP error=\"invalid_dpop_proof\""),
            "{what}: {c}"
        );
    }
    // A good proof once; the same proof again is a replay.
    let proof = key.proof("POST", HTU, t, n, Some(&token));
    let r = post_dpop(
        &gw,
        &token,
        Some(&proof),
        &call(2, "list_customers", json!({})),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = post_dpop(
        &gw,
        &token,
        Some(&proof),
        &call(3, "list_customers", json!({})),
    )
    .await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("already used"), "{}", challenge(&r));
    assert_eq!(gw.forwarded(), 1);
    // Every refused call is in the audit log with its reason.
    let rows = gw.audit().await;
    let denied: Vec<_> = rows.iter().filter(|r| r.result == "denied").collect();
    assert_eq!(denied.len(), wrong.len() + 1);
    assert!(denied.iter().all(|r| r.details.contains("DPoP")));
}

#[actix_web::test]
async fn a_plain_bearer_client_is_unaffected_unless_the_resource_requires_dpop() {
    let gw = fixture::start().await;
    let bearer = gw.token(&[READ]).await;
    let r = gw
        .post(Some(&bearer), &call(1, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 200);
    let doc: Value = gw
        .request(
            reqwest::Method::GET,
            "/.well-known/oauth-protected-resource/mcp",
            None,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["dpop_bound_access_tokens_required"], false);
    assert_eq!(
        doc["dpop_signing_alg_values_supported"],
        json!(authz_core::jose::SIGNING_ALGS)
    );
}

#[actix_web::test]
async fn require_dpop_refuses_bearer_tokens_and_accepts_bound_ones() {
    let gw = fixture::start().await;
    resources::Entity::update_many()
        .col_expr(
            resources::Column::Settings,
            Expr::value(json!({"require_dpop": true}).to_string()),
        )
        .filter(resources::Column::Id.eq(gw.w.resource.id.clone()))
        .exec(&gw.w.store.db)
        .await
        .unwrap();
    let doc: Value = gw
        .request(
            reqwest::Method::GET,
            "/.well-known/oauth-protected-resource/mcp",
            None,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["dpop_bound_access_tokens_required"], true);
    // No token: the challenge is a DPoP one.
    let r = gw.post(None, &rpc(1, "tools/list", json!({}))).await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).starts_with("DPoP algs="), "{}", challenge(&r));
    // A bearer token, even a valid one, is refused.
    let bearer = gw.token(&[READ]).await;
    let r = gw
        .post(Some(&bearer), &call(2, "list_customers", json!({})))
        .await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).starts_with("DPoP error=\"invalid_token\""));
    // So is an unbound token sent with the DPoP scheme and a proof.
    let key = DpopKey::new(1);
    let nonce = learn_nonce(&gw, &key, &bound_token(&gw, &key).await).await;
    let proof = key.proof("POST", HTU, now(&gw), Some(&nonce), Some(&bearer));
    let r = post_dpop(
        &gw,
        &bearer,
        Some(&proof),
        &call(3, "list_customers", json!({})),
    )
    .await;
    assert_eq!(r.status(), 401);
    // A bound token with its proof goes through.
    let token = bound_token(&gw, &key).await;
    let proof = key.proof("POST", HTU, now(&gw), Some(&nonce), Some(&token));
    let r = post_dpop(
        &gw,
        &token,
        Some(&proof),
        &call(4, "list_customers", json!({})),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(gw.forwarded(), 1);
}
