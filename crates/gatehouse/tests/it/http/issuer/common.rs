//! Issuer fixture: the one app over a fresh store (SQLite, or PostgreSQL with
//! GATEHOUSE_TEST_DATABASE_URL), a fixed clock, two resources and a tenant of the test world
//! with a signed-in user.
#![allow(dead_code)]
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test;
use authz_core::clock::FixedClock;
use authz_core::crypto::pkce_s256;
use authz_core::resource::{self, ResourceSpec};
use authz_core::testkit::{self, world};
use authz_core::user::FederatedIdentity;
use authz_core::{grant, Store, TenantId};
use issuer::AppState;
use safe_fetch::{FetchConfig, SafeFetcher};
use serde_json::Value;

pub const ISSUER: &str = "https://auth.example.test";
pub const RES: &str = "https://crm.example.test/mcp";
pub const RES2: &str = "https://other.example.test/mcp";
/// The random part of the test browser's binding; [`browser`] is its genuine (server-minted) value.
pub const BROWSER_RANDOM: &str = "browser-binding-value-0123456789abcdefghijkl";
/// Cookie names on the test issuer (https: `__Host-` prefixed).
pub const BROWSER_COOKIE: &str = "__Host-gh_browser";
pub const SESSION_COOKIE: &str = "__Host-gh_session";

pub fn browser() -> String {
    issuer::browser_binding(&testkit::master_key(), BROWSER_RANDOM)
}
pub const VERIFIER: &str = "verifier-0123456789-0123456789-0123456789-abcdef";
pub const REDIRECT: &str = "http://127.0.0.1/callback";

pub struct Tenant {
    pub id: TenantId,
    pub user_id: String,
    pub session_cookie: String,
}

pub struct Fx {
    pub store: Store,
    pub clock: FixedClock,
    pub state: AppState,
    pub acme: Tenant,
    pub rs: (String, String),
    pub rs2: (String, String),
}

fn spec(uri: &str) -> ResourceSpec {
    toml_spec(uri)
}

fn toml_spec(uri: &str) -> ResourceSpec {
    let v = serde_json::json!({
        "uri": uri,
        "display_name": "Acme CRM",
        "scopes": [
            {"name": "crm:customers:read", "description": "Read customers", "tier": "routine"},
            {"name": "crm:customers:export", "description": "Export customers", "tier": "sensitive"},
            {"name": "crm:customers:delete", "description": "Delete customers", "tier": "sensitive"},
            {"name": "crm:billing:write", "description": "Change billing", "tier": "critical"}
        ],
        "tools": [{"name": "list_customers", "scopes": ["crm:customers:read"]}]
    });
    serde_json::from_value(v).expect("spec")
}

pub async fn add_tenant(
    store: &Store,
    clock: &FixedClock,
    slug: &str,
    domain: &str,
    subject: &str,
) -> Tenant {
    let t = world::add_tenant(store, clock, slug, slug, &[domain]).await;
    let c = world::add_oidc(
        store,
        clock,
        &t.id,
        "idp",
        "https://idp.example.test",
        "gh",
        "s3cret",
    )
    .await;
    let (u, cookie) = world::signed_in_user(
        store,
        clock,
        &t.id,
        &FederatedIdentity {
            connection_id: c.id.clone(),
            subject: subject.into(),
            email: Some(format!("{subject}@{domain}")),
            name: None,
            auth_time: None,
            ..Default::default()
        },
        authz_core::clock::Clock::now_us(clock),
    )
    .await;
    Tenant {
        id: t.id,
        user_id: u.id,
        session_cookie: cookie,
    }
}

pub async fn fixture() -> Fx {
    fixture_with_fetch("").await
}

/// `resolve` is a `GATEHOUSE_FETCH_RESOLVE`-style list of static DNS answers.
pub async fn fixture_with_fetch(resolve: &str) -> Fx {
    let store = testkit::store().await;
    let clock = testkit::clock();
    let r1 = resource::register(&store, &clock, spec(RES))
        .await
        .expect("resource");
    let r2 = resource::register(&store, &clock, spec(RES2))
        .await
        .expect("resource 2");
    let acme = add_tenant(&store, &clock, "acme", "acme.test", "alice").await;
    let scopes = vec![
        "crm:customers:read".to_string(),
        "crm:customers:export".to_string(),
    ];
    grant::add_for_everyone(&store, &clock, &acme.id, &r1.resource, &scopes)
        .await
        .expect("grant");
    grant::add_for_everyone(&store, &clock, &acme.id, &r2.resource, &scopes)
        .await
        .expect("grant 2");
    let (allow, resolve) = FetchConfig::parse_lists("", resolve).expect("fetch cfg");
    let fetcher = SafeFetcher::new(&FetchConfig {
        extra_ca_pem: None,
        allow,
        resolve,
    })
    .expect("fetcher");
    let state =
        crate::http::world::issuer_state(&store, Arc::new(clock.clone()), ISSUER, fetcher.clone())
            .with_cimd_fetcher(fetcher);
    Fx {
        store,
        clock,
        state,
        acme,
        rs: (r1.introspection_client_id, r1.introspection_client_secret),
        rs2: (r2.introspection_client_id, r2.introspection_client_secret),
    }
}

pub async fn app(
    fx: &Fx,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    crate::http::world::Node::with_issuer(fx.state.clone())
        .app()
        .await
}

pub fn challenge() -> String {
    pkce_s256(VERIFIER)
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

pub fn location<B>(r: &ServiceResponse<B>) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

pub fn query_param(url: &str, key: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    u.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

pub fn browser_cookies(session: Option<&str>) -> Vec<Cookie<'static>> {
    let mut v = vec![Cookie::new(BROWSER_COOKIE, browser())];
    if let Some(s) = session {
        v.push(Cookie::new(SESSION_COOKIE, s.to_string()));
    }
    v
}

pub fn authorize_url(client_id: &str, redirect: &str, extra: &[(&str, &str)]) -> String {
    let ch = challenge();
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect),
        ("code_challenge", ch.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "st-123"),
        ("resource", RES),
        ("scope", "crm:customers:read"),
    ];
    for (k, v) in extra {
        pairs.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            pairs.push((k, v));
        }
    }
    format!("/oauth/authorize?{}", form(&pairs))
}

pub async fn body_json<B: MessageBody>(r: ServiceResponse<B>) -> Value {
    let b = test::read_body(r).await;
    serde_json::from_slice(&b)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&b).into_owned()))
}

pub async fn body_text<B: MessageBody>(r: ServiceResponse<B>) -> String {
    String::from_utf8_lossy(&test::read_body(r).await).into_owned()
}

/// Extracts `name="X" value="Y"` from a rendered form.
pub fn hidden(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&needle)
        .map(|i| i + needle.len())
        .expect("hidden field");
    html[start..].split('"').next().unwrap().to_string()
}

/// POSTs a form (optionally with HTTP Basic) and returns status and JSON body.
pub async fn post_form<S, B>(
    app: &S,
    uri: &str,
    body: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value)
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let mut req = test::TestRequest::post()
        .uri(uri)
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(form(body));
    if let Some((u, p)) = basic {
        use base64::Engine;
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        req = req.insert_header(("authorization", format!("Basic {v}")));
    }
    let r = test::call_service(app, req.to_request()).await;
    let s = r.status();
    (s, body_json(r).await)
}

// --- OAuth helpers shared by the test binaries ----------------------------------------------

pub fn with_cookies(
    mut req: actix_web::test::TestRequest,
    fx: &Fx,
) -> actix_web::test::TestRequest {
    for c in browser_cookies(Some(&fx.acme.session_cookie)) {
        req = req.cookie(c);
    }
    req
}

pub async fn dcr<S, B>(app: &S, redirects: Value) -> (StatusCode, Value)
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let r = actix_web::test::call_service(app, actix_web::test::TestRequest::post().uri("/oauth/register")
        .set_json(serde_json::json!({"client_name": "Neg", "redirect_uris": redirects, "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"]})).to_request()).await;
    let s = r.status();
    (s, body_json(r).await)
}

pub async fn token<S, B>(app: &S, body: &[(&str, &str)]) -> (StatusCode, Value)
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    post_form(app, "/oauth/token", body, None).await
}

/// Authorize + consent with the fixture's session; returns the code.
pub async fn code_for<S, B>(app: &S, fx: &Fx, client: &str, redirect: &str, scope: &str) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let r = actix_web::test::call_service(
        app,
        with_cookies(
            actix_web::test::TestRequest::get().uri(&authorize_url(
                client,
                redirect,
                &[("scope", scope)],
            )),
            fx,
        )
        .to_request(),
    )
    .await;
    let path = location(&r).trim_start_matches(ISSUER).to_string();
    let r = actix_web::test::call_service(
        app,
        with_cookies(actix_web::test::TestRequest::get().uri(&path), fx).to_request(),
    )
    .await;
    let html = body_text(r).await;
    let (tx, csrf) = (hidden(&html, "tx"), hidden(&html, "csrf"));
    let mut pairs = vec![
        ("tx", tx.as_str()),
        ("csrf", csrf.as_str()),
        ("decision", "allow"),
    ];
    for s in scope.split(' ') {
        pairs.push(("scope", s));
    }
    let r = actix_web::test::call_service(
        app,
        with_cookies(
            actix_web::test::TestRequest::post()
                .uri("/consent")
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(form(&pairs)),
            fx,
        )
        .to_request(),
    )
    .await;
    query_param(&location(&r), "code").expect("code")
}

/// Registers a public client (DCR) for `redirect` with the refresh grant; returns its id.
pub async fn register_public<S, B>(app: &S, redirect: &str) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let r = actix_web::test::call_service(
        app,
        actix_web::test::TestRequest::post()
            .uri("/oauth/register")
            .set_json(serde_json::json!({"client_name": "Test Agent", "redirect_uris": [redirect], "token_endpoint_auth_method": "none",
                              "grant_types": ["authorization_code", "refresh_token"], "scope": "crm:customers:read"}))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), actix_web::http::StatusCode::CREATED);
    body_json(r).await["client_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// POSTs a tool-call event to `/audit/v1/events` with resource-server Basic credentials.
pub async fn post_event<S, B>(app: &S, rs: (&str, &str), body: &Value) -> (StatusCode, Value)
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    use base64::Engine;
    let v = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", rs.0, rs.1));
    let r = test::call_service(
        app,
        test::TestRequest::post()
            .uri("/audit/v1/events")
            .insert_header(("authorization", format!("Basic {v}")))
            .set_json(body)
            .to_request(),
    )
    .await;
    let s = r.status();
    (s, body_json(r).await)
}
