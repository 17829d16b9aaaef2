//! Login CSRF and session swap (security review F1, F8): nothing a third party can start leaves
//! for an IdP, a session is never silently replaced by another person's, a reused session is
//! named on the consent page, and only server-minted browser bindings are honoured.
use super::common;

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::test;
use authz_core::session::{self, Origin};
use authz_core::user::{self, FederatedIdentity};
use authz_core::{connection, consent};
use common::*;

fn get(uri: &str, session: Option<&str>) -> test::TestRequest {
    let mut req = test::TestRequest::get().uri(uri);
    for c in browser_cookies(session) {
        req = req.cookie(c);
    }
    req
}

fn post(uri: &str, pairs: &[(&str, &str)], session: Option<&str>) -> test::TestRequest {
    let mut req = test::TestRequest::post()
        .uri(uri)
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(form(pairs));
    for c in browser_cookies(session) {
        req = req.cookie(c);
    }
    req
}

fn set_cookies<B>(r: &actix_web::dev::ServiceResponse<B>) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

#[actix_web::test]
async fn a_login_hint_prefills_the_form_and_nothing_leaves_for_an_idp() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let client = register_public(&app, REDIRECT).await;
    // A cross-site navigation with a hint, no session in this browser.
    let r = test::call_service(
        &app,
        get(
            &authorize_url(&client, REDIRECT, &[("login_hint", "bob@acme.test")]),
            None,
        )
        .insert_header(("sec-fetch-site", "cross-site"))
        .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let login = location(&r).trim_start_matches(ISSUER).to_string();
    assert!(login.starts_with("/login?tx="), "{login}");
    let r = test::call_service(
        &app,
        get(&login, None)
            .insert_header(("sec-fetch-site", "cross-site"))
            .to_request(),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a page, not a redirect to the IdP"
    );
    assert!(r.headers().get("location").is_none());
    let html = body_text(r).await;
    assert!(html.contains(r#"value="bob@acme.test""#), "pre-filled");
    // The form's POST is what continues; posted from another site it is refused.
    let tx = hidden(&html, "tx");
    let csrf = hidden(&html, "csrf");
    let r = test::call_service(
        &app,
        post(
            "/login",
            &[("tx", &tx), ("csrf", &csrf), ("email", "bob@acme.test")],
            None,
        )
        .insert_header(("sec-fetch-site", "cross-site"))
        .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn the_console_sign_in_is_a_page_and_only_its_own_post_continues() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/admin/t/acme/login")
            .insert_header(("sec-fetch-site", "cross-site"))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "never a redirect to the IdP");
    assert!(r.headers().get("location").is_none());
    let binding = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("__Host-gh_browser="))
        .expect("a binding is minted for the form");
    assert!(binding.contains("Secure") && binding.contains("Path=/"));
    let binding_value = binding
        .trim_start_matches("__Host-gh_browser=")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let html = body_text(r).await;
    assert!(html.contains("Continue to idp"), "names the connection");
    let csrf = hidden(&html, "csrf");
    let conn = hidden(&html, "connection");
    let send = |pairs: Vec<(&'static str, String)>, site: &'static str| {
        let pairs: Vec<(String, String)> =
            pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        test::TestRequest::post()
            .uri("/admin/t/acme/login")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .insert_header(("sec-fetch-site", site))
            .cookie(Cookie::new("__Host-gh_browser", binding_value.clone()))
            .set_payload(body)
            .to_request()
    };
    // A cross-site POST (the old front door's login CSRF), and a forged token: refused.
    let r = test::call_service(
        &app,
        send(
            vec![("csrf", csrf.clone()), ("connection", conn.clone())],
            "cross-site",
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = test::call_service(
        &app,
        send(
            vec![("csrf", "forged".into()), ("connection", conn.clone())],
            "same-origin",
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The page's own POST goes on to the IdP (unreachable in this test: a 502 page).
    let r = test::call_service(
        &app,
        send(vec![("csrf", csrf), ("connection", conn)], "same-origin"),
    )
    .await;
    assert_ne!(r.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn a_binding_the_server_did_not_mint_is_replaced_not_adopted() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let client = register_public(&app, REDIRECT).await;
    let planted = "attacker-chosen-binding-value-0123456789abcdef";
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&authorize_url(&client, REDIRECT, &[]))
            .cookie(Cookie::new("__Host-gh_browser", planted))
            .to_request(),
    )
    .await;
    let minted = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("__Host-gh_browser="))
        .expect("the planted value is replaced by a minted one");
    assert!(!minted.contains(planted));
    let login = location(&r).trim_start_matches(ISSUER).to_string();
    // The transaction belongs to the minted binding: with the planted one it does not load, and
    // a CSRF token computed from the planted value is worthless.
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&login)
            .cookie(Cookie::new("__Host-gh_browser", planted))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Unprefixed cookies are not read on an https issuer (a sibling subdomain could set them).
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/account")
            .cookie(Cookie::new("gh_session", fx.acme.session_cookie.clone()))
            .to_request(),
    )
    .await;
    assert!(body_text(r).await.contains("You are not signed in"));
}

/// A second user of acme signed in with `email`; returns the session cookie.
async fn acme_user(fx: &Fx, subject: &str, email: &str, idp_initiated: bool) -> String {
    let conn = connection::list(&fx.store.db, &fx.acme.id).await.unwrap()[0].clone();
    let (u, _) = user::upsert_federated(
        &fx.store.db,
        &fx.clock,
        &fx.acme.id,
        &FederatedIdentity {
            connection_id: conn.id.clone(),
            subject: subject.into(),
            email: Some(email.into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let origin = Origin {
        auth_time: authz_core::clock::Clock::now_us(&fx.clock),
        idp_initiated,
        ..Default::default()
    };
    let (cookie, _) = session::create_with_context(
        &fx.store.db,
        &fx.clock,
        &fx.acme.id,
        &u.id,
        &conn.id,
        &origin,
    )
    .await
    .unwrap();
    // The person approved this client before: only the silent path is in question.
    cookie
}

/// Authorize with `cookie`'s session; returns (status, location or body) of the consent step.
async fn consent_step<S, B>(
    app: &S,
    client: &str,
    redirect: &str,
    cookie: &str,
) -> (StatusCode, String)
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
        get(&authorize_url(client, redirect, &[]), Some(cookie)).to_request(),
    )
    .await;
    let consent = location(&r).trim_start_matches(ISSUER).to_string();
    assert!(consent.starts_with("/consent?tx="), "{consent}");
    let r = test::call_service(app, get(&consent, Some(cookie)).to_request()).await;
    let status = r.status();
    if status == StatusCode::SEE_OTHER {
        return (status, location(&r));
    }
    (status, body_text(r).await)
}

async fn remember(fx: &Fx, cookie: &str, client: &str) {
    let s = session::find_active(&fx.store.db, &fx.clock, cookie)
        .await
        .unwrap()
        .unwrap();
    let res = authz_core::resource::find_by_uri(&fx.store.db, RES)
        .await
        .unwrap()
        .unwrap();
    consent::remember(
        &fx.store.db,
        &fx.clock,
        &fx.acme.id,
        &s.user_id,
        client,
        &res.id,
        &[
            "crm:customers:read".to_string(),
            "crm:customers:export".to_string(),
        ],
        authz_core::scope::Tier::Sensitive,
    )
    .await
    .unwrap();
}

#[actix_web::test]
async fn the_consent_page_names_account_and_organisation_and_flags_a_foreign_email() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let https = "https://claude.ai/api/mcp/auth_callback";
    let client = register_public(&app, https).await;

    // An account of acme whose IdP asserted an address outside acme's verified domains.
    let foreign = acme_user(&fx, "mallory", "victim@othercorp.test", false).await;
    remember(&fx, &foreign, &client).await;
    let (status, html) = consent_step(&app, &client, https, &foreign).await;
    assert_eq!(status, StatusCode::OK, "never silent for a flagged address");
    assert!(html.contains("victim@othercorp.test"));
    assert!(
        html.contains("at <strong>acme</strong>"),
        "names the organisation"
    );
    assert!(html.contains("not on a domain verified by acme"));
    assert!(html.contains("Not you? Use another account"));

    // The same with the organisation's own domain: remembered consent is silent.
    let own = acme_user(&fx, "carol", "carol@acme.test", false).await;
    remember(&fx, &own, &client).await;
    let (status, back) = consent_step(&app, &client, https, &own).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{back}");
    assert!(back.starts_with(&format!("{https}?code=")));

    // A session begun by an unsolicited IdP response never authorizes silently.
    let unsolicited = acme_user(&fx, "dave", "dave@acme.test", true).await;
    remember(&fx, &unsolicited, &client).await;
    let (status, html) = consent_step(&app, &client, https, &unsolicited).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("dave@acme.test"));
}

#[actix_web::test]
async fn signing_out_ends_the_session_and_optionally_the_apps_it_connected() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let r = test::call_service(
        &app,
        get("/account", Some(&fx.acme.session_cookie)).to_request(),
    )
    .await;
    let html = body_text(r).await;
    let csrf = hidden(&html, "csrf");
    // Without the page's token (another site's form): still signed in.
    let r = test::call_service(
        &app,
        post(
            "/account/sign-out",
            &[("csrf", "x")],
            Some(&fx.acme.session_cookie),
        )
        .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let client = register_public(&app, REDIRECT).await;
    let code = code_for(&app, &fx, &client, REDIRECT, "crm:customers:read").await;
    let (_, tok) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    let at = tok["access_token"].as_str().expect("token").to_string();
    let r = test::call_service(
        &app,
        post(
            "/account/sign-out",
            &[("csrf", &csrf), ("disconnect", "1")],
            Some(&fx.acme.session_cookie),
        )
        .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(set_cookies(&r)
        .iter()
        .any(|c| c.starts_with("__Host-gh_session=;") || c.starts_with("__Host-gh_session=\"\"")));
    assert!(
        session::find_active(&fx.store.db, &fx.clock, &fx.acme.session_cookie)
            .await
            .unwrap()
            .is_none(),
        "the session has ended"
    );
    let (_, i) = post_form(
        &app,
        "/oauth/introspect",
        &[("token", &at)],
        Some((&fx.rs.0, &fx.rs.1)),
    )
    .await;
    assert_eq!(
        i["active"], false,
        "the app this session connected is disconnected"
    );
}

#[actix_web::test]
async fn an_https_issuer_sends_hsts() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let r = test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(
        r.headers()
            .get("strict-transport-security")
            .map(|v| v.to_str().unwrap()),
        Some("max-age=31536000")
    );
}
