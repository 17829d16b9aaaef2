//! What the key tests share: the issuer fixture with keys turned on, and the person's requests.
use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test;
use authz_core::admin::settings::{self, TenantSettings};
use serde_json::Value;

pub use crate::http::issuer::common::*;

pub async fn set_keys(fx: &Fx, enabled: bool, max_days: Option<i64>) {
    settings::set(
        &fx.store,
        &fx.clock,
        &fx.acme.id,
        &TenantSettings {
            api_keys_enabled: enabled.then_some(true),
            api_key_max_days: max_days,
            ..Default::default()
        },
        "admin:test",
    )
    .await
    .unwrap();
}

fn session(fx: &Fx) -> Cookie<'static> {
    Cookie::new(SESSION_COOKIE, fx.acme.session_cookie.clone())
}

/// A GET as the signed-in person: status, headers' CSP, body.
pub async fn get<S, B>(app: &S, fx: &Fx, uri: &str) -> (StatusCode, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let r = test::call_service(
        app,
        test::TestRequest::get()
            .uri(uri)
            .cookie(session(fx))
            .to_request(),
    )
    .await;
    let s = r.status();
    (s, unescape(&body_text(r).await))
}

/// The page's text with minijinja's HTML escapes undone (URLs and JSON read as written).
pub fn unescape(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A form POST as the signed-in person (same-origin): status, CSP header, body.
pub async fn post<S, B>(
    app: &S,
    fx: &Fx,
    uri: &str,
    body: &[(&str, &str)],
) -> (StatusCode, String, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let r = test::call_service(
        app,
        test::TestRequest::post()
            .uri(uri)
            .cookie(session(fx))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .insert_header(("sec-fetch-site", "same-origin"))
            .set_payload(form(body))
            .to_request(),
    )
    .await;
    let s = r.status();
    let csp = r
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (s, csp, unescape(&body_text(r).await))
}

/// The account page's CSRF token.
pub async fn csrf<S, B>(app: &S, fx: &Fx) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let (s, html) = get(app, fx, "/account").await;
    assert_eq!(s, StatusCode::OK);
    hidden(&html, "csrf")
}

/// Creates a key through the form; returns the page and the key.
pub async fn create<S, B>(app: &S, fx: &Fx, scopes: &[&str], days: &str) -> (String, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let csrf = csrf(app, fx).await;
    let mut body = vec![
        ("csrf", csrf.as_str()),
        ("resource", RES),
        ("name", "Cursor on my laptop"),
        ("client", "cursor"),
        ("days", days),
    ];
    for s in scopes {
        body.push(("scope", s));
    }
    let (s, _, html) = post(app, fx, "/account/keys", &body).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    let start = html.find("gatehouse_pat_").expect("the key is shown");
    let key: String = html[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (html, key)
}

/// RFC 7662 introspection by the CRM's resource server (or `rs`).
pub async fn introspect<S, B>(app: &S, rs: &(String, String), token: &str) -> Value
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let (s, v) = post_form(
        app,
        "/oauth/introspect",
        &[("token", token)],
        Some((&rs.0, &rs.1)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// Rows of an audit action in the tenant's chain.
pub async fn audited(fx: &Fx, action: &str) -> Vec<authz_core::entities::audit_events::Model> {
    authz_core::testkit::world::audit_rows(&fx.store, fx.acme.id.as_str())
        .await
        .into_iter()
        .filter(|r| r.action == action)
        .collect()
}
