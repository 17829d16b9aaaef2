//! The SAML attack corpus through the real ACS: every response either continues the sign-in
//! (303 to the same-site completion) or is refused with its code and an audit record; a
//! completed response cannot be replayed on this node or another one.
mod common;

use actix_web::http::StatusCode;
use actix_web::test;
use authz_core::entities::{audit_events, connections};
use authz_core::login::{self, AuthorizeRequest};
use authz_core::{saml_state, testkit};
use base64::Engine;
use common::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

const CONN: &str = "conn-1";
const REQUEST_ID: &str = "_0123456789abcdef0123456789abcdef";

fn fixture_file(name: &str) -> String {
    let p = format!(
        "{}/../saml/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

#[derive(serde::Deserialize)]
struct Case {
    file: String,
    expect: String,
    #[serde(default)]
    metadata: Option<String>,
}

/// A SAML connection with the corpus's fixed id, an outstanding AuthnRequest and its login
/// transaction (the corpus's responses answer `REQUEST_ID` at `.../conn-1/acs`).
async fn saml_world(metadata: &str) -> (Fx, String) {
    let fx = fixture().await;
    let settings = issuer::SamlSettings {
        idp_metadata: fixture_file(metadata.trim_end_matches("#idp-initiated")),
        sp_certificate: fixture_file("idp-cert.pem"),
        mapping: saml::mapping::Mapping::for_preset("entra", None).unwrap(),
        skew_secs: 180,
        allow_idp_initiated: metadata == "idp-metadata.xml#idp-initiated",
    };
    connections::Entity::insert(connections::ActiveModel {
        id: Set(CONN.into()),
        tenant_id: Set(fx.acme.id.0.clone()),
        kind: Set("saml".into()),
        name: Set("Corpus IdP".into()),
        issuer: Set("https://idp.example.test/saml".into()),
        client_id: Set(String::new()),
        client_secret_enc: Set(testkit::master_key().seal(b"sp key").unwrap()),
        enabled: Set(true),
        created_at: Set(0),
        preset: Set("entra".into()),
        settings: Set(serde_json::to_string(&settings).unwrap()),
        operator_added: Set(true),
    })
    .exec_without_returning(&fx.store.db)
    .await
    .unwrap();
    let res = authz_core::resource::find_by_uri(&fx.store.db, RES)
        .await
        .unwrap()
        .unwrap();
    let req = AuthorizeRequest {
        client_id: "c".into(),
        redirect_uri: REDIRECT.into(),
        state: None,
        code_challenge: challenge(),
        resource_id: res.id,
        scopes: vec!["crm:customers:read".into()],
        login_hint: None,
        step_up: false,
        redirect_uri_given: true,
        purpose: Default::default(),
        invitation: None,
    };
    let tx = login::start(&fx.store.db, &fx.clock, BROWSER, &req)
        .await
        .unwrap();
    saml_state::record_request(&fx.store.db, &fx.clock, &fx.acme.id, CONN, &tx, REQUEST_ID)
        .await
        .unwrap();
    (fx, tx)
}

fn acs_post(xml: &str, relay: &str) -> test::TestRequest {
    let b64 = base64::engine::general_purpose::STANDARD.encode(xml);
    test::TestRequest::post()
        .uri(&format!("/federation/saml/{CONN}/acs"))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(form(&[("SAMLResponse", &b64), ("RelayState", relay)]))
}

async fn last_failure(fx: &Fx) -> Option<String> {
    audit_events::Entity::find()
        .filter(audit_events::Column::Action.eq("user.sign_in_failed"))
        .order_by_desc(audit_events::Column::Id)
        .one(&fx.store.db)
        .await
        .unwrap()
        .map(|e| e.details)
}

async fn last_failure_id(fx: &Fx) -> Option<i64> {
    audit_events::Entity::find()
        .filter(audit_events::Column::Action.eq("user.sign_in_failed"))
        .order_by_desc(audit_events::Column::Id)
        .one(&fx.store.db)
        .await
        .unwrap()
        .map(|e| e.id)
}

const XSW_CODES: [&str; 5] = [
    "SIGNATURE",
    "UNSIGNED_ASSERTION",
    "TWO_ASSERTIONS",
    "DUPLICATE_ID",
    "ISSUER",
];

#[actix_web::test]
async fn every_corpus_response_is_accepted_or_refused_with_its_code_and_an_audit_record() {
    let cases: Vec<Case> = serde_json::from_str(&fixture_file("manifest.json")).unwrap();
    let mut wrong = Vec::new();
    // One world per metadata file; between cases the outstanding request is re-armed and the
    // replay cache emptied, so each case is judged on its own content.
    let mut worlds: std::collections::HashMap<String, (Fx, String)> =
        std::collections::HashMap::new();
    for c in &cases {
        let md = c
            .metadata
            .clone()
            .unwrap_or_else(|| "idp-metadata.xml".into());
        if !worlds.contains_key(&md) {
            worlds.insert(md.clone(), saml_world(&md).await);
        }
        let (fx, tx) = &worlds[&md];
        use sea_orm::ConnectionTrait;
        fx.store
            .db
            .execute_unprepared("UPDATE saml_requests SET consumed_at = NULL")
            .await
            .unwrap();
        fx.store
            .db
            .execute_unprepared("DELETE FROM saml_assertions")
            .await
            .unwrap();
        let before = last_failure_id(fx).await;
        let app = app(fx).await;
        let r = test::call_service(&app, acs_post(&fixture_file(&c.file), tx).to_request()).await;
        let status = r.status();
        let loc = location(&r);
        let body = body_text(r).await;
        let audit = if last_failure_id(fx).await != before {
            last_failure(fx).await
        } else {
            None
        };
        let ok = if c.expect == "ok" {
            status == StatusCode::SEE_OTHER
                && loc.contains(&format!("/federation/saml/{CONN}/complete?h="))
                && audit.is_none()
        } else {
            let codes: Vec<&str> = if c.expect == "XSW" {
                XSW_CODES.to_vec()
            } else {
                vec![c.expect.as_str()]
            };
            status == StatusCode::FORBIDDEN
                && codes.iter().any(|code| body.contains(&format!("({code})")))
                && audit
                    .as_deref()
                    .map(|d| codes.iter().any(|code| d.contains(code)))
                    .unwrap_or(false)
        };
        if !ok {
            wrong.push(format!(
                "{}: want {}, got {status} {loc} audit={audit:?}",
                c.file, c.expect
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[actix_web::test]
async fn a_completed_response_continues_in_the_same_browser_once_and_cannot_be_replayed_on_another_node(
) {
    let (fx, tx) = saml_world("idp-metadata.xml").await;
    let node_a = app(&fx).await;
    let node_b = app(&fx).await;
    let xml = fixture_file("valid-signed-assertion.xml");
    let r = test::call_service(&node_a, acs_post(&xml, &tx).to_request()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let complete = location(&r).trim_start_matches(ISSUER).to_string();
    // Replay of the same response on the other node: refused (request ID and assertion used).
    let r = test::call_service(&node_b, acs_post(&xml, &tx).to_request()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(body_text(r).await.contains("IN_RESPONSE_TO"));
    assert!(last_failure(&fx).await.unwrap().contains("SAML0020"));
    // Another browser cannot use the handle (no binding cookie)...
    let r = test::call_service(
        &node_b,
        test::TestRequest::get().uri(&complete).to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(r).await.contains("another browser"));
    // ...and the handle was consumed by that attempt: one use only, whoever presents it.
    let r = test::call_service(
        &node_a,
        test::TestRequest::get()
            .uri(&complete)
            .cookie(actix_web::cookie::Cookie::new("gh_browser", BROWSER))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn the_right_browser_completes_the_sign_in_keyed_by_tenant_and_object_id() {
    let (fx, tx) = saml_world("idp-metadata.xml").await;
    let app = app(&fx).await;
    let r = test::call_service(
        &app,
        acs_post(&fixture_file("valid-signed-assertion.xml"), &tx).to_request(),
    )
    .await;
    let complete = location(&r).trim_start_matches(ISSUER).to_string();
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&complete)
            .cookie(actix_web::cookie::Cookie::new("gh_browser", BROWSER))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with(&format!("{ISSUER}/consent?tx={tx}")));
    assert!(r
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().contains("gh_session="))
        .unwrap_or(false));
    let u = authz_core::entities::users::Entity::find()
        .filter(authz_core::entities::users::Column::ConnectionId.eq(CONN))
        .one(&fx.store.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        u.subject,
        "72f988bf-86f1-41af-91ab-2d7cd011db47:00000000-0000-0000-0000-0000000000a1"
    );
    assert_eq!(u.email.as_deref(), Some("alice@acme.test"));
}

#[actix_web::test]
async fn unsolicited_and_oversized_posts_are_refused() {
    let (fx, _tx) = saml_world("idp-metadata.xml").await;
    let app = app(&fx).await;
    let b64 = base64::engine::general_purpose::STANDARD
        .encode(fixture_file("valid-signed-assertion.xml"));
    let r = test::call_service(
        &app,
        test::TestRequest::post()
            .uri(&format!("/federation/saml/{CONN}/acs"))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(form(&[("SAMLResponse", &b64)]))
            .to_request(),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "no RelayState: IdP-initiated, off"
    );
    assert!(body_text(r).await.contains("UNSOLICITED"));
    let big = "A".repeat(2_000_000);
    let r = test::call_service(
        &app,
        test::TestRequest::post()
            .uri(&format!("/federation/saml/{CONN}/acs"))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(format!("SAMLResponse={big}"))
            .to_request(),
    )
    .await;
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/federation/saml/nope/metadata")
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&format!("/federation/saml/{CONN}/metadata"))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(body_text(r)
        .await
        .contains("https://auth.example.test/federation/saml/conn-1/acs"));
}

#[actix_web::test]
async fn idp_initiated_sso_when_enabled_starts_a_session_on_account_and_never_a_code() {
    let (fx, _tx) = saml_world("idp-metadata.xml#idp-initiated").await;
    let app = app(&fx).await;
    let post = |file: &str| {
        let b64 = base64::engine::general_purpose::STANDARD.encode(fixture_file(file));
        test::TestRequest::post()
            .uri(&format!("/federation/saml/{CONN}/acs"))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(form(&[
                ("SAMLResponse", &b64),
                ("RelayState", "portal-default"),
            ]))
            .to_request()
    };
    let r = test::call_service(&app, post("unsolicited.xml")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let complete = location(&r).trim_start_matches(ISSUER).to_string();
    // Nothing binds an unsolicited response to this browser: the person confirms first.
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&complete)
            .cookie(actix_web::cookie::Cookie::new("gh_browser", BROWSER))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = body_text(r).await;
    assert!(
        page.contains("Continue signing in?") && page.contains("alice@acme.test"),
        "{page}"
    );
    let (h, csrf) = (hidden(&page, "h"), hidden(&page, "csrf"));
    let confirm = |csrf: &str| {
        test::TestRequest::post()
            .uri(&format!("/federation/saml/{CONN}/complete"))
            .cookie(actix_web::cookie::Cookie::new("gh_browser", BROWSER))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(form(&[("h", &h), ("csrf", csrf)]))
            .to_request()
    };
    let r = test::call_service(&app, confirm("forged")).await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a cross-site confirmation is refused"
    );
    let r = test::call_service(&app, confirm(&csrf)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&r),
        format!("{ISSUER}/account"),
        "lands on /account, no code"
    );
    let cookie = r
        .response()
        .cookies()
        .find(|c| c.name() == "gh_session")
        .map(|c| c.value().to_string())
        .expect("a session");
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/account")
            .cookie(actix_web::cookie::Cookie::new("gh_session", cookie))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(body_text(r).await.contains("alice@acme.test"));
    use sea_orm::PaginatorTrait;
    let codes = authz_core::entities::auth_codes::Entity::find()
        .count(&fx.store.db)
        .await
        .unwrap();
    assert_eq!(
        codes, 0,
        "an unsolicited response never issues an authorization code"
    );
    // A response that answers a request still needs that request's live login transaction.
    let r = test::call_service(&app, post("valid-signed-assertion.xml")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
