//! Enterprise-managed authorization (issue 14 §2, ADR 0014): an IdP-signed ID-JAG presented
//! with the RFC 7523 jwt-bearer grant becomes an access token for what the org grants the
//! person — no browser, no refresh token — and every way an assertion can be wrong is refused
//! with an OAuth error (never a 500), audited in the tenant once the signature holds.
use super::common::*;
use super::id_jag_world::*;

use actix_web::http::StatusCode;
use actix_web::test;
use authz_core::clock::Clock;
use authz_core::directory::admission;
use authz_core::user::FederatedIdentity;
use authz_core::{grant, resource, scim_token};
use serde_json::{json, Value};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

macro_rules! app {
    ($w:expr) => {
        crate::http::world::Node::with_issuer(node(&$w)).app().await
    };
}

/// The granted scopes of a token response, sorted.
fn scopes(t: &Value) -> Vec<&str> {
    let mut v: Vec<&str> = t["scope"].as_str().unwrap_or("").split(' ').collect();
    v.sort_unstable();
    v
}

fn refused(s: StatusCode, body: &Value, code: &str, words: &str) {
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], code, "{body}");
    let d = body["error_description"].as_str().unwrap_or("");
    assert!(d.contains(words), "'{words}' not in '{d}'");
}

#[actix_web::test]
async fn an_id_jag_becomes_an_access_token_for_the_granted_scopes_without_a_refresh_token() {
    let w = world().await;
    let app = app!(w);
    let c = claims(&w);
    let (s, t) = redeem(&app, &w, &jag(0, &c), &[("resource", RES)]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(scopes(&t), ["crm:customers:export", "crm:customers:read"]);
    assert!(t.get("refresh_token").is_none(), "{t}");

    // The resource server sees alice, the client, the kind of credential.
    let (s, i) = post_form(
        &app,
        "/oauth/introspect",
        &[("token", t["access_token"].as_str().unwrap())],
        Some((&w.fx.rs.0, &w.fx.rs.1)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(i["active"], true, "{i}");
    assert_eq!(i["sub"], w.user_id.as_str());
    assert_eq!(i["client_id"], w.client.as_str());
    assert_eq!(i["credential_kind"], "jwt_bearer");
    assert_eq!(i["subject_type"], "user");
    assert_eq!(i["aud"], RES);

    let issued = audited(&w, &w.fx.acme.id, "token.issued").await;
    let last = issued.last().unwrap();
    assert_eq!(last["grant_type"], GRANT);
    assert_eq!(last["jti"], c["jti"]);
    assert_eq!(last["idp"], idp().issuer(0).as_str());
    assert_eq!(last["connection_id"], w.conn.id.as_str());
    assert_eq!(last["_user_id"], w.user_id.as_str());

    // The metadata names the grant, so clients know to try it.
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/.well-known/oauth-authorization-server")
            .to_request(),
    )
    .await;
    let meta = body_json(r).await;
    assert!(meta["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!(GRANT)));
}

#[actix_web::test]
async fn scopes_are_what_the_org_grants_intersected_with_what_was_asked() {
    let w = world().await;
    let app = app!(w);
    // Asked for one granted and one never granted: only the granted one.
    let (s, t) = redeem(
        &app,
        &w,
        &jag(0, &claims(&w)),
        &[("scope", "crm:customers:read crm:customers:delete")],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["scope"], "crm:customers:read");
    // Asked only for a scope the org never granted: nothing to issue.
    let (s, t) = redeem(
        &app,
        &w,
        &jag(0, &claims(&w)),
        &[("scope", "crm:customers:delete")],
    )
    .await;
    refused(s, &t, "invalid_scope", "none of the requested scopes");
    let rejected = audited(&w, &w.fx.acme.id, "id_jag.rejected").await;
    assert!(rejected.last().unwrap()["reason"]
        .as_str()
        .unwrap()
        .contains("none of the requested scopes"));
    // The IdP's own `scope` in the grant narrows it too.
    let c = with(&w, json!({"scope": "crm:customers:export"}));
    let (s, t) = redeem(&app, &w, &jag(0, &c), &[]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["scope"], "crm:customers:export");
}

#[actix_web::test]
async fn critical_scopes_need_a_recent_authentication_at_the_idp() {
    let w = world().await;
    let res = resource::find_by_uri(&w.fx.store.db, RES)
        .await
        .unwrap()
        .unwrap();
    grant::add_for_everyone_confirmed(
        &w.fx.store,
        &w.fx.clock,
        &w.fx.acme.id,
        &res,
        &["crm:billing:write".to_string()],
        true,
    )
    .await
    .unwrap();
    let app = app!(w);
    let asked = [("scope", "crm:customers:read crm:billing:write")];
    let (s, t) = redeem(&app, &w, &jag(0, &claims(&w)), &asked).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(scopes(&t), ["crm:billing:write", "crm:customers:read"]);
    // Signed in at the IdP an hour ago: the critical scope is dropped, and the answer says so.
    let old = w.fx.clock.now_s() - 3600;
    let c = with(&w, json!({"auth_time": old}));
    let (s, t) = redeem(&app, &w, &jag(0, &c), &asked).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["scope"], "crm:customers:read");
}

#[actix_web::test]
async fn assertions_with_a_wrong_typ_audience_client_resource_or_lifetime_are_refused() {
    let w = world().await;
    let app = app!(w);
    let plain_jwt = idp().sign(
        0,
        json!({"alg": "RS256", "typ": "JWT", "kid": "a1"}),
        &claims(&w),
    );
    let (s, t) = redeem(&app, &w, &plain_jwt, &[]).await;
    refused(s, &t, "invalid_grant", "oauth-id-jag+jwt");

    let now = w.fx.clock.now_s();
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"aud": "https://elsewhere.example"}),
            "invalid_grant",
            "audience",
        ),
        (
            json!({"client_id": "someone-else"}),
            "invalid_grant",
            "another client",
        ),
        (
            json!({"exp": now - 120, "iat": now - 400}),
            "invalid_grant",
            "expired",
        ),
        (json!({"exp": now + 3600}), "invalid_grant", "at most 300"),
        (
            json!({"iat": now + 600, "exp": now + 700}),
            "invalid_grant",
            "future",
        ),
        (
            json!({"resource": "https://unknown.example.test/mcp"}),
            "invalid_target",
            "no registered resource",
        ),
        (json!({"sub": Value::Null}), "invalid_grant", "'sub'"),
        (json!({"jti": Value::Null}), "invalid_grant", "'jti'"),
    ];
    for (change, code, words) in cases {
        let (s, t) = redeem(&app, &w, &jag(0, &with(&w, change.clone())), &[]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{change}: {t}");
        assert_eq!(t["error"], code, "{change}: {t}");
        let d = t["error_description"].as_str().unwrap();
        assert!(d.contains(words), "{change}: {d}");
    }
    // The request's resource must be the assertion's.
    let (s, t) = redeem(&app, &w, &jag(0, &claims(&w)), &[("resource", RES2)]).await;
    refused(s, &t, "invalid_target", "differs");
    // Signed audience failures are audited in acme's log, with the reason.
    let reasons: Vec<String> = audited(&w, &w.fx.acme.id, "id_jag.rejected")
        .await
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("audience")),
        "{reasons:?}"
    );
    // Not a JWT at all, a forged signature, no assertion: refused, never a 500.
    let (s, t) = redeem(&app, &w, "not-a-jwt", &[]).await;
    refused(s, &t, "invalid_grant", "not a signed JWT");
    // Signed by IdP b's key, naming IdP a and its key.
    let forged = idp().sign(
        1,
        json!({"alg": "RS256", "typ": "oauth-id-jag+jwt", "kid": "a1"}),
        &claims(&w),
    );
    let (s, t) = redeem(&app, &w, &forged, &[]).await;
    refused(s, &t, "invalid_grant", "signature");
    let (s, t) = post_form(
        &app,
        "/oauth/token",
        &[
            ("grant_type", GRANT),
            ("client_id", w.client.as_str()),
            ("client_secret", w.secret.as_str()),
        ],
        None,
    )
    .await;
    refused(s, &t, "invalid_request", "assertion");
}

#[actix_web::test]
async fn a_jti_is_single_use_on_every_node() {
    let w = world().await;
    let (a, b) = (app!(w), app!(w));
    let assertion = jag(0, &claims(&w));
    let (s, t) = redeem(&a, &w, &assertion, &[]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let (s, t) = redeem(&b, &w, &assertion, &[]).await;
    refused(s, &t, "invalid_grant", "already used");
    let (s, t) = redeem(&a, &w, &assertion, &[]).await;
    refused(s, &t, "invalid_grant", "already used");
}

#[actix_web::test]
async fn only_enabled_connections_with_id_jag_on_and_the_client_listed_are_trusted() {
    let w = world().await;
    let app = app!(w);
    let acme = w.fx.acme.id.clone();
    // Client not on the list.
    allow(&w, &acme, &w.conn.id, true, &[]).await;
    let (s, t) = redeem(&app, &w, &jag(0, &claims(&w)), &[]).await;
    refused(s, &t, "unauthorized_client", "not allowed");
    // ID-JAG off (the default).
    allow(&w, &acme, &w.conn.id, false, &[w.client.as_str()]).await;
    let (s, t) = redeem(&app, &w, &jag(0, &claims(&w)), &[]).await;
    refused(s, &t, "invalid_grant", "not enabled");
    // Connection disabled.
    allow(&w, &acme, &w.conn.id, true, &[w.client.as_str()]).await;
    disable_connection(&w).await;
    let (s, t) = redeem(&app, &w, &jag(0, &claims(&w)), &[]).await;
    refused(s, &t, "invalid_grant", "disabled");
    // An issuer nobody trusts.
    let c = with(&w, json!({"iss": "https://unknown-idp.example.test"}));
    let (s, t) = redeem(&app, &w, &jag(0, &c), &[]).await;
    refused(s, &t, "invalid_grant", "no organisation trusts");
}

#[actix_web::test]
async fn another_tenants_idp_cannot_act_for_this_tenants_people() {
    let w = world().await;
    let app = app!(w);
    allow(&w, &w.beta, &w.beta_conn.id, true, &[w.client.as_str()]).await;
    // Beta's IdP signs an assertion for alice's subject: beta has no such person, and nothing
    // lands in acme.
    let c = with(&w, json!({"iss": idp().issuer(1)}));
    let (s, t) = redeem(&app, &w, &jag(1, &c), &[]).await;
    refused(s, &t, "invalid_grant", "no account");
    assert!(audited(&w, &w.beta, "id_jag.rejected").await.len() == 1);
    assert!(audited(&w, &w.fx.acme.id, "token.issued")
        .await
        .iter()
        .all(|r| r["grant_type"] != GRANT));
    // IdP a's key claiming beta's issuer: the signature is checked with beta's IdP's keys.
    let (s, t) = redeem(&app, &w, &jag(0, &c), &[]).await;
    refused(s, &t, "invalid_grant", "signature");
}

#[actix_web::test]
async fn a_person_the_directory_deactivated_gets_no_token_from_an_id_jag() {
    let w = world().await;
    let app = app!(w);
    let (_, scim) = scim_token::create(&w.fx.store, &w.fx.clock, &w.fx.acme.id, "idp", 86_400)
        .await
        .unwrap();
    let scim_call = |method: &str, path: &str, body: Value| {
        test::TestRequest::default()
            .method(actix_web::http::Method::from_bytes(method.as_bytes()).unwrap())
            .uri(&format!("/scim/v2/acme{path}"))
            .insert_header(("authorization", format!("Bearer {scim}")))
            .insert_header(("content-type", "application/scim+json"))
            .set_payload(body.to_string())
            .to_request()
    };
    let r = test::call_service(
        &app,
        scim_call(
            "POST",
            "/Users",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                   "userName": "alice@acme.test", "externalId": SUB, "active": true}),
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = body_json(r).await["id"].as_str().unwrap().to_string();
    // Alice signs in (the identity is linked to her SCIM user), then her client uses ID-JAGs.
    admission::admit(
        &w.fx.store.db,
        &w.fx.clock,
        &w.fx.acme.id,
        &w.conn,
        &FederatedIdentity {
            connection_id: w.conn.id.clone(),
            subject: SUB.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (s, t) = redeem(&app, &w, &jag(0, &claims(&w)), &[]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let before = t["access_token"].as_str().unwrap().to_string();
    let r = test::call_service(
        &app,
        scim_call(
            "PATCH",
            &format!("/Users/{id}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": "active", "value": false}]}),
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (s, t) = redeem(&app, &w, &jag(0, &claims(&w)), &[]).await;
    refused(s, &t, "invalid_grant", "deactivated");
    // A person who never signed in is not created by an ID-JAG either.
    let c = with(&w, json!({"sub": "bob-at-idp-a"}));
    let (s, t) = redeem(&app, &w, &jag(0, &c), &[]).await;
    refused(s, &t, "invalid_grant", "signs in once");
    // The token issued before the deactivation is dead too.
    let (_, i) = post_form(
        &app,
        "/oauth/introspect",
        &[("token", before.as_str())],
        Some((&w.fx.rs.0, &w.fx.rs.1)),
    )
    .await;
    assert_eq!(i["active"], false, "{i}");
}

#[actix_web::test]
async fn public_clients_cannot_use_the_grant() {
    let w = world().await;
    let app = app!(w);
    let (_, reg) = dcr(&app, json!([REDIRECT])).await;
    let public = reg["client_id"].as_str().unwrap();
    let assertion = jag(0, &claims(&w));
    let (s, t) = post_form(
        &app,
        "/oauth/token",
        &[
            ("grant_type", GRANT),
            ("assertion", assertion.as_str()),
            ("client_id", public),
        ],
        None,
    )
    .await;
    refused(s, &t, "unauthorized_client", "confidential");
}
