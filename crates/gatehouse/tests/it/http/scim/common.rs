//! SCIM fixture: the one app over a fresh store (SQLite, or PostgreSQL with
//! GATEHOUSE_TEST_DATABASE_URL), two tenants of the test world with a SCIM token each.
#![allow(dead_code)]
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test;
use authz_core::clock::FixedClock;
use authz_core::testkit::{self, world};
use authz_core::{Store, TenantId};
use scim::ScimState;
use serde_json::Value;

pub const ISSUER: &str = "https://auth.example.test";

pub struct Fx {
    pub store: Store,
    pub clock: FixedClock,
    pub state: ScimState,
    pub acme: TenantId,
    pub beta: TenantId,
    pub acme_token: String,
    pub beta_token: String,
}

pub async fn fixture() -> Fx {
    fixture_with_rate(1_000_000).await
}

pub async fn fixture_with_rate(rate: i64) -> Fx {
    let store = testkit::store().await;
    let clock = testkit::clock();
    let acme = world::add_tenant(&store, &clock, "acme", "Acme", &["acme.test"]).await;
    let beta = world::add_tenant(&store, &clock, "beta", "Beta", &["beta.test"]).await;
    let acme_token = world::scim_token(&store, &clock, &acme.id, "entra", 86_400).await;
    let beta_token = world::scim_token(&store, &clock, &beta.id, "okta", 86_400).await;
    let state =
        ScimState::new(store.clone(), Arc::new(clock.clone()), ISSUER).with_rate_per_minute(rate);
    Fx {
        store,
        clock,
        state,
        acme: acme.id,
        beta: beta.id,
        acme_token,
        beta_token,
    }
}

pub async fn app(
    fx: &Fx,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    crate::http::world::Node::for_scim(fx.state.clone())
        .app()
        .await
}

/// The response of one SCIM call.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub json: Value,
    pub headers: actix_web::http::header::HeaderMap,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// Percent-encodes what a client would in a path with a raw query (spaces, quotes, brackets).
pub fn encode(path: &str) -> String {
    let Some((p, q)) = path.split_once('?') else {
        return path.to_string();
    };
    let pairs: Vec<String> = q
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => format!(
                "{k}={}",
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            ),
            None => kv.to_string(),
        })
        .collect();
    format!("{p}?{}", pairs.join("&"))
}

pub async fn call_raw<S, B>(
    app: &S,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
    headers: &[(&str, &str)],
) -> Resp
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let m = actix_web::http::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = test::TestRequest::default().method(m).uri(&encode(url));
    if let Some(t) = token {
        req = req.insert_header(("authorization", format!("Bearer {t}")));
    }
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    if let Some(b) = body {
        req = req
            .insert_header(("content-type", "application/scim+json"))
            .set_payload(b);
    }
    let r = test::call_service(app, req.to_request()).await;
    let status = r.status();
    let headers = r.headers().clone();
    let bytes = test::read_body(r).await;
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Resp {
        status,
        json,
        headers,
    }
}

/// A call on acme's base URL (`path` relative to it) with acme's token.
pub async fn call<S, B>(app: &S, fx: &Fx, method: &str, path: &str, body: Option<Value>) -> Resp
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    call_raw(
        app,
        method,
        &format!("/scim/v2/acme{path}"),
        Some(&fx.acme_token),
        body.map(|b| b.to_string().into_bytes()),
        &[],
    )
    .await
}

pub fn user(name: &str) -> Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "externalId": format!("ext-{name}"),
        "name": {"givenName": name, "familyName": "Test"},
        "emails": [{"value": format!("{name}@acme.test"), "type": "work", "primary": true}],
        "active": true
    })
}

pub fn error_body(r: &Resp, status: u16) {
    assert_eq!(r.status.as_u16(), status, "{:?}", r.json);
    assert_eq!(
        r.json["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "SCIM error body: {:?}",
        r.json
    );
    assert_eq!(r.json["status"], status.to_string());
}
