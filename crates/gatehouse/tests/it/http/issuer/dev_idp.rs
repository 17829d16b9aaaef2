//! The development identity provider (ADR 0017) through the one app: an MCP authorization goes
//! from the login page to Gatehouse's own development sign-in page, a right password completes
//! the sign-in like an OIDC callback (the file's groups reach the session like an IdP's groups
//! claim), a wrong password and an unknown email get the same answer, and an issuer that is not
//! a loopback http URL refuses the whole thing with a page a person can act on.
use std::sync::Arc;

use super::common;

use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test;
use app::connection::dev::{self, DevIdpError, NewDev};
use app::connection::{ConnectionActor, Deps};
use authz_core::clock::FixedClock;
use authz_core::dev_idp::DevUsers;
use authz_core::testkit::{self, world};
use authz_core::{connection, grant, resource, Store, TenantId};
use common::{authorize_url, body_text, browser, form, hidden, location, register_public};
use common::{REDIRECT, RES};

const LOOPBACK: &str = "http://127.0.0.1:8080";
const PUBLIC: &str = "https://auth.example.test";
const USERS: &str = r#"
[[users]]
email = "alice@acme.test"
name = "Alice Dev"
password = "alice-dev-password"
groups = ["engineering", "crm-admins"]

[[users]]
email = "bob@acme.test"
password = "bob-dev-password"
"#;

struct DevFx {
    store: Store,
    clock: FixedClock,
    tenant: TenantId,
    connection_id: String,
    issuer: String,
}

/// A tenant `acme` (domain acme.test) whose only connection is a development one, granted
/// `crm:customers:read` of [`RES`]. The connection is stored directly (as a database later
/// served at `issuer` would hold it): the use case's own refusal is tested below.
async fn fixture(issuer: &str) -> DevFx {
    let store = testkit::store().await;
    let clock = testkit::clock();
    let mut spec = world::crm_spec();
    spec.uri = RES.into();
    let r = resource::register(&store, &clock, spec)
        .await
        .expect("resource");
    let t = world::add_tenant(&store, &clock, "acme", "Acme", &["acme.test"]).await;
    let scopes = vec!["crm:customers:read".to_string()];
    grant::add_for_everyone(&store, &clock, &t.id, &r.resource, &scopes)
        .await
        .expect("grant");
    let users = DevUsers::from_toml(USERS).expect("users");
    let c = connection::add_dev(
        &store,
        &clock,
        &testkit::master_key(),
        &t.id,
        "Dev users",
        issuer,
        &users,
    )
    .await
    .expect("development connection");
    DevFx {
        store,
        clock,
        tenant: t.id,
        connection_id: c.id,
        issuer: issuer.into(),
    }
}

async fn app(
    fx: &DevFx,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    let state = crate::http::world::issuer_state(
        &fx.store,
        Arc::new(fx.clock.clone()),
        &fx.issuer,
        crate::http::world::default_fetcher(),
    );
    crate::http::world::Node::with_issuer(state).app().await
}

fn binding(fx: &DevFx) -> Cookie<'static> {
    let name = if fx.issuer.starts_with("https://") {
        "__Host-gh_browser"
    } else {
        "gh_browser"
    };
    Cookie::new(name, browser())
}

fn post(fx: &DevFx, uri: &str, pairs: &[(&str, &str)]) -> test::TestRequest {
    test::TestRequest::post()
        .uri(uri)
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .cookie(binding(fx))
        .set_payload(form(pairs))
}

/// From the client's authorization request to the login form's POST of `email`: the response.
async fn login_as<S, B>(app: &S, fx: &DevFx, email: &str) -> ServiceResponse<B>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let client = register_public(app, REDIRECT).await;
    let r = test::call_service(
        app,
        test::TestRequest::get()
            .uri(&authorize_url(&client, REDIRECT, &[]))
            .cookie(binding(fx))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let login = location(&r).trim_start_matches(&fx.issuer).to_string();
    let r = test::call_service(
        app,
        test::TestRequest::get()
            .uri(&login)
            .cookie(binding(fx))
            .to_request(),
    )
    .await;
    let html = body_text(r).await;
    let (tx, csrf) = (hidden(&html, "tx"), hidden(&html, "csrf"));
    let form = [
        ("tx", tx.as_str()),
        ("csrf", csrf.as_str()),
        ("email", email),
    ];
    test::call_service(app, post(fx, "/login", &form).to_request()).await
}

/// The development sign-in page the login form sent the browser to: its path and `state`.
async fn dev_page<S, B>(app: &S, fx: &DevFx) -> (String, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let r = login_as(app, fx, "alice@acme.test").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    let path = format!("/federation/dev/{}", fx.connection_id);
    assert!(to.starts_with(&format!("{LOOPBACK}{path}?")), "{to}");
    let state = common::query_param(&to, "state").expect("state");
    let r = test::call_service(
        app,
        test::TestRequest::get()
            .uri(to.trim_start_matches(LOOPBACK))
            .cookie(binding(fx))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = body_text(r).await;
    assert!(html.contains("<strong>Development</strong> identity provider"));
    assert!(
        html.contains(r#"value="alice@acme.test""#),
        "the email is pre-filled"
    );
    assert_eq!(hidden(&html, "state"), state);
    (path, state)
}

#[actix_web::test]
async fn a_right_password_signs_in_with_the_files_groups() {
    let fx = fixture(LOOPBACK).await;
    let app = app(&fx).await;
    let (path, state) = dev_page(&app, &fx).await;
    let r = test::call_service(
        &app,
        post(
            &fx,
            &path,
            &[
                ("state", &state),
                ("email", "Alice@acme.test"),
                ("password", "alice-dev-password"),
            ],
        )
        .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).contains("/consent?"), "{}", location(&r));
    let session_cookie = r
        .response()
        .cookies()
        .find(|c| c.name() == "gh_session")
        .expect("a session cookie")
        .value()
        .to_string();
    let s = authz_core::session::find_active(&fx.store.db, &fx.clock, &session_cookie)
        .await
        .unwrap()
        .expect("a live session");
    assert_eq!(s.connection_id, fx.connection_id);
    let groups = authz_core::session::idp_groups(&fx.store.db, &s.id)
        .await
        .unwrap();
    assert_eq!(groups, vec!["engineering", "crm-admins"]);
    let u = authz_core::user::get(&fx.store.db, &fx.tenant, &s.user_id)
        .await
        .unwrap();
    assert_eq!(u.email.as_deref(), Some("alice@acme.test"));
    // The state is used: the same form cannot sign in twice.
    let again = [
        ("state", state.as_str()),
        ("email", "alice@acme.test"),
        ("password", "alice-dev-password"),
    ];
    let r = test::call_service(&app, post(&fx, &path, &again).to_request()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Audited like any sign-in, and the connection's creation says development.
    let rows = world::audit_rows(&fx.store, fx.tenant.as_str()).await;
    assert!(rows.iter().any(|e| e.action == "user.signed_in"));
    let created = rows
        .iter()
        .find(|e| e.action == "connection.created")
        .expect("connection.created");
    assert!(
        created.details.contains(r#""development":true"#),
        "{}",
        created.details
    );
}

#[actix_web::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let fx = fixture(LOOPBACK).await;
    let app = app(&fx).await;
    let (path, state) = dev_page(&app, &fx).await;
    let mut pages = vec![];
    for (email, password) in [
        ("alice@acme.test", "not-her-password"),
        ("nobody@acme.test", "alice-dev-password"),
        ("bob@acme.test", "alice-dev-password"),
    ] {
        let form = [
            ("state", state.as_str()),
            ("email", email),
            ("password", password),
        ];
        let r = test::call_service(&app, post(&fx, &path, &form).to_request()).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{email}");
        let html = body_text(r).await;
        assert!(html.contains(app::sign_in::dev::WRONG_CREDENTIALS));
        assert!(!html.contains(password), "the password is not echoed");
        pages.push(html.replace(email, "EMAIL"));
    }
    assert_eq!(
        pages[0], pages[1],
        "an unknown email reads like a wrong password"
    );
    assert_eq!(pages[0], pages[2]);
    let failed = world::audit_rows(&fx.store, fx.tenant.as_str())
        .await
        .into_iter()
        .filter(|e| e.action == "user.sign_in_failed")
        .count();
    assert_eq!(failed, 3, "each refusal is audited");
    // The sign-in is still open: the right password completes it.
    let form = [
        ("state", state.as_str()),
        ("email", "alice@acme.test"),
        ("password", "alice-dev-password"),
    ];
    let r = test::call_service(&app, post(&fx, &path, &form).to_request()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn a_public_issuer_refuses_development_sign_in_with_a_page() {
    let fx = fixture(PUBLIC).await;
    let app = app(&fx).await;
    let r = login_as(&app, &fx, "alice@acme.test").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = body_text(r).await;
    assert!(html.contains("Development sign-in is turned off"), "{html}");
    assert!(html.contains("DEVIDP0002"));
    assert!(html.contains("real identity provider"), "says what to do");
    // The page itself, and its form, refuse too.
    let path = format!("/federation/dev/{}", fx.connection_id);
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&format!("{path}?state=x"))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let form = [
        ("state", "x"),
        ("email", "alice@acme.test"),
        ("password", "alice-dev-password"),
    ];
    let r = test::call_service(&app, post(&fx, &path, &form).to_request()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn the_use_case_adds_a_development_connection_only_on_a_loopback_issuer() {
    let fx = fixture(LOOPBACK).await;
    let deps = Deps {
        store: &fx.store,
        clock: &fx.clock,
        key: &testkit::master_key(),
    };
    let by = ConnectionActor::Operator {
        operator: app::Operator::cli(),
        tenant: fx.tenant.clone(),
    };
    let refused = dev::add(
        deps,
        &by,
        NewDev {
            name: "Dev",
            issuer: PUBLIC,
            users_toml: USERS,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(refused, DevIdpError::NotLoopback { .. }));
    assert!(refused.to_string().starts_with("DEVIDP0001"));
    let (c, n) = dev::add(
        deps,
        &by,
        NewDev {
            name: "Dev 2",
            issuer: LOOPBACK,
            users_toml: USERS,
        },
    )
    .await
    .expect("added on a loopback issuer");
    assert_eq!(
        (c.kind.as_str(), c.preset.as_str(), n),
        ("dev", "development", 2)
    );
}

/// A direct sign-in at `/account` (issue 16 §3): no application involved. The account page's
/// button starts it, the login page finds the organisation from the email, the IdP's answer
/// lands on the page the person came from (the IDE key hand-off), with a session and no
/// consent step; a forged form or a return address outside `/account` gets nowhere.
#[actix_web::test]
async fn a_person_signs_in_directly_at_the_account_page_and_returns_to_the_key_hand_off() {
    let fx = fixture(LOOPBACK).await;
    let keys_on = authz_core::admin::settings::TenantSettings {
        api_keys_enabled: Some(true),
        ..Default::default()
    };
    authz_core::admin::settings::set(&fx.store, &fx.clock, &fx.tenant, &keys_on, "admin:test")
        .await
        .unwrap();
    let app = app(&fx).await;
    let get = |uri: &str, cookies: &[Cookie<'static>]| {
        let mut r = test::TestRequest::get().uri(uri).cookie(binding(&fx));
        for c in cookies {
            r = r.cookie(c.clone());
        }
        r.to_request()
    };
    // The hand-off page without a session offers the sign-in and remembers itself.
    let hand_off = format!("/account/keys/new?resource={RES}&client=cursor");
    let r = test::call_service(&app, get(&hand_off, &[])).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = body_text(r).await;
    assert!(html.contains(r#"action="/account/sign-in""#), "{html}");
    // The form's value as a browser posts it (the page escapes it).
    let back = hidden(&html, "back")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&");
    let csrf = hidden(&html, "csrf");
    assert!(
        back.starts_with("/account/keys/new?resource=http"),
        "{back}"
    );
    // A forged form starts nothing.
    let forged = [("csrf", "forged"), ("back", back.as_str())];
    let r = test::call_service(&app, post(&fx, "/account/sign-in", &forged).to_request()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // The click starts the sign-in; the login page names no application.
    let pairs = [("csrf", csrf.as_str()), ("back", back.as_str())];
    let r = test::call_service(&app, post(&fx, "/account/sign-in", &pairs).to_request()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let login = location(&r).trim_start_matches(&fx.issuer).to_string();
    assert!(login.starts_with("/login?tx="), "{login}");
    let r = test::call_service(&app, get(&login, &[])).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = body_text(r).await;
    assert!(
        html.contains("to see the applications you allowed"),
        "{html}"
    );
    assert!(!html.contains("wants to access"));
    let (tx, csrf) = (hidden(&html, "tx"), hidden(&html, "csrf"));
    let form = [
        ("tx", tx.as_str()),
        ("csrf", csrf.as_str()),
        ("email", "alice@acme.test"),
    ];
    let r = test::call_service(&app, post(&fx, "/login", &form).to_request()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    let path = format!("/federation/dev/{}", fx.connection_id);
    let state = common::query_param(&to, "state").expect("state");
    let creds = [
        ("state", state.as_str()),
        ("email", "alice@acme.test"),
        ("password", "alice-dev-password"),
    ];
    let r = test::call_service(&app, post(&fx, &path, &creds).to_request()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&r),
        format!("{LOOPBACK}{back}"),
        "back where it started"
    );
    let session = r
        .response()
        .cookies()
        .find(|c| c.name() == "gh_session")
        .expect("a session cookie")
        .into_owned();
    // Signed in: the account page and the hand-off form both serve this person.
    let r = test::call_service(&app, get("/account", std::slice::from_ref(&session))).await;
    let html = body_text(r).await;
    assert!(html.contains("Signed in as"), "{html}");
    assert!(html.contains("alice@acme.test"));
    let r = test::call_service(&app, get(&hand_off, std::slice::from_ref(&session))).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(body_text(r).await.contains(r#"action="/account/keys""#));
    // The sign-in was audited as an account sign-in and its transaction is used up.
    let rows = world::audit_rows(&fx.store, fx.tenant.as_str()).await;
    let signed_in = rows
        .iter()
        .find(|e| e.action == "user.signed_in")
        .expect("user.signed_in");
    assert!(
        signed_in.details.contains(r#""purpose":"account""#),
        "{}",
        signed_in.details
    );
    let r = test::call_service(&app, post(&fx, &path, &creds).to_request()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

/// A return address that is not an `/account` page of this issuer is dropped: the sign-in
/// ends on the account page (no open redirect).
#[actix_web::test]
async fn a_direct_sign_in_never_returns_outside_the_account_pages() {
    let fx = fixture(LOOPBACK).await;
    let app = app(&fx).await;
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/account")
            .cookie(binding(&fx))
            .to_request(),
    )
    .await;
    let csrf = hidden(&body_text(r).await, "csrf");
    for back in [
        "https://evil.test/account",
        "//evil.test/account",
        "/account/../admin",
        "/admin/t/acme/",
    ] {
        let pairs = [("csrf", csrf.as_str()), ("back", back)];
        let r = test::call_service(&app, post(&fx, "/account/sign-in", &pairs).to_request()).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{back}");
        let login = location(&r).trim_start_matches(&fx.issuer).to_string();
        let tx = common::query_param(&format!("{LOOPBACK}{login}"), "tx").expect("tx");
        let stored = authz_core::login::load_unbound(&fx.store.db, &fx.clock, &tx)
            .await
            .unwrap();
        assert_eq!(stored.request.redirect_uri, "", "{back} is not kept");
        assert_eq!(stored.request.purpose, authz_core::login::Purpose::Account);
    }
}
