//! The SAML attack corpus through the real ACS: every response either continues the sign-in
//! (303 to the same-site completion) or is refused with its code and an audit record; a
//! completed response cannot be replayed on this node or another one.
use super::common;

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
        tenant_id: Set(fx.acme.id.to_string()),
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
        setup_invitation: Set(None),
        removed_at: Set(None),
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
    let tx = login::start(&fx.store.db, &fx.clock, &browser(), &req)
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

/// DESIGN §6.6 (issue 11): a top-level status other than Success never signs anyone in,
/// whether the Response, the assertion or both carry the signature; and a Destination naming
/// another endpoint is refused even when the Response itself is unsigned.
#[actix_web::test]
async fn a_failed_status_or_a_foreign_destination_never_signs_in_whatever_is_signed() {
    for (file, code, number) in [
        (
            "status-responder-signed-assertion.xml",
            "STATUS",
            "SAML0013",
        ),
        ("status-responder-signed-response.xml", "STATUS", "SAML0013"),
        ("status-responder-signed-both.xml", "STATUS", "SAML0013"),
        (
            "destination-wrong-unsigned-response.xml",
            "DESTINATION",
            "SAML0010",
        ),
    ] {
        let (fx, tx) = saml_world("idp-metadata.xml").await;
        let app = app(&fx).await;
        let r = test::call_service(&app, acs_post(&fixture_file(file), &tx).to_request()).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{file}");
        assert!(location(&r).is_empty(), "{file}: no continuation");
        let body = body_text(r).await;
        assert!(body.contains(&format!("({code})")), "{file}: {body}");
        let audit = last_failure(&fx)
            .await
            .expect("a user.sign_in_failed record");
        assert!(
            audit.contains(number) && audit.contains(code),
            "{file}: {audit}"
        );
        // Nothing was handed on: no completion handle, no session.
        use sea_orm::{ConnectionTrait, Statement};
        let n = |table: &'static str| {
            let db = fx.store.db.clone();
            async move {
                db.query_one(Statement::from_string(
                    db.get_database_backend(),
                    format!("SELECT COUNT(*) AS n FROM {table}"),
                ))
                .await
                .unwrap()
                .unwrap()
                .try_get::<i64>("", "n")
                .unwrap()
            }
        };
        assert_eq!(n("saml_handles").await, 0, "{file}");
        assert_eq!(
            n("browser_sessions").await,
            1,
            "{file}: only the fixture's own session"
        );
    }
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
            .cookie(actix_web::cookie::Cookie::new(BROWSER_COOKIE, browser()))
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
            .cookie(actix_web::cookie::Cookie::new(BROWSER_COOKIE, browser()))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with(&format!("{ISSUER}/consent?tx={tx}")));
    assert!(r
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().contains("__Host-gh_session="))
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

/// Completes the corpus's valid response in a browser that is signed in as `session` (another
/// user of acme): the person is asked before the session is replaced (review F1).
async fn complete_over_session<S, B>(
    app: &S,
    tx: &str,
    session: &str,
) -> actix_web::dev::ServiceResponse<B>
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let r = test::call_service(
        app,
        acs_post(&fixture_file("valid-signed-assertion.xml"), tx).to_request(),
    )
    .await;
    let complete = location(&r).trim_start_matches(ISSUER).to_string();
    let mut req = test::TestRequest::get().uri(&complete);
    for c in browser_cookies(Some(session)) {
        req = req.cookie(c);
    }
    test::call_service(app, req.to_request()).await
}

fn cookie_value<B>(r: &actix_web::dev::ServiceResponse<B>, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix(&format!("{name}="))
                .map(|v| v.split(';').next().unwrap().to_string())
        })
}

#[actix_web::test]
async fn a_sign_in_never_silently_replaces_another_persons_session() {
    let (fx, tx) = saml_world("idp-metadata.xml").await;
    let app = app(&fx).await;
    let r = complete_over_session(&app, &tx, &fx.acme.session_cookie).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a confirmation page, not a redirect"
    );
    assert!(
        cookie_value(&r, SESSION_COOKIE).is_none(),
        "the live session is not replaced"
    );
    let pending = cookie_value(&r, "__Host-gh_switch").expect("the new session waits");
    let html = body_text(r).await;
    assert!(html.contains("Switch account?"));
    assert!(html.contains("alice@acme.test"), "names both accounts");
    let csrf = hidden(&html, "csrf");
    // As a browser would send it (the page escapes `/` and `&`).
    let next = hidden(&html, "next")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&");
    let switch = |decision: &str, csrf: &str, site: &str| {
        let mut req = test::TestRequest::post()
            .uri("/session/switch")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .insert_header(("sec-fetch-site", site.to_string()))
            .cookie(actix_web::cookie::Cookie::new(
                "__Host-gh_switch",
                pending.clone(),
            ))
            .set_payload(form(&[
                ("csrf", csrf),
                ("next", &next),
                ("decision", decision),
            ]));
        for c in browser_cookies(Some(&fx.acme.session_cookie)) {
            req = req.cookie(c);
        }
        req.to_request()
    };
    // Posted from another site, or without the page's token: nothing changes.
    let r = test::call_service(&app, switch("continue", &csrf, "cross-site")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = test::call_service(&app, switch("continue", "forged", "same-origin")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The person confirms: the new session becomes this browser's and the sign-in continues.
    let r = test::call_service(&app, switch("continue", &csrf, "same-origin")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with(&format!("{ISSUER}/consent?tx={tx}")));
    assert_eq!(cookie_value(&r, SESSION_COOKIE), Some(pending));
}

#[actix_web::test]
async fn declining_a_switch_keeps_the_previous_session_and_ends_the_new_one() {
    let (fx, tx) = saml_world("idp-metadata.xml").await;
    let app = app(&fx).await;
    let r = complete_over_session(&app, &tx, &fx.acme.session_cookie).await;
    let pending = cookie_value(&r, "__Host-gh_switch").unwrap();
    let html = body_text(r).await;
    let csrf = hidden(&html, "csrf");
    let mut req = test::TestRequest::post()
        .uri("/session/switch")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .cookie(actix_web::cookie::Cookie::new(
            "__Host-gh_switch",
            pending.clone(),
        ))
        .set_payload(form(&[("csrf", &csrf), ("decision", "keep")]));
    for c in browser_cookies(Some(&fx.acme.session_cookie)) {
        req = req.cookie(c);
    }
    let r = test::call_service(&app, req.to_request()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(cookie_value(&r, SESSION_COOKIE).is_none());
    let db = &fx.store.db;
    assert!(authz_core::session::find_active(db, &fx.clock, &pending)
        .await
        .unwrap()
        .is_none());
    assert!(
        authz_core::session::find_active(db, &fx.clock, &fx.acme.session_cookie)
            .await
            .unwrap()
            .is_some()
    );
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
            .cookie(actix_web::cookie::Cookie::new(BROWSER_COOKIE, browser()))
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
            .cookie(actix_web::cookie::Cookie::new(BROWSER_COOKIE, browser()))
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
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_string())
        .expect("a session");
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/account")
            .cookie(actix_web::cookie::Cookie::new(SESSION_COOKIE, cookie))
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
