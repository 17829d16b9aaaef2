//! Issue 11 §4: the admin API is rate limited per credential (an API key, or a console session),
//! counted in the shared database so the limit holds across nodes. A small limit and a fixed
//! clock: 429 problem+json with `Retry-After` once over it, other credentials unaffected, the
//! next window open again. SQLite, or PostgreSQL with GATEHOUSE_TEST_DATABASE_URL.
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use admin_api::AdminState;
use authz_core::api_key::Scope;
use authz_core::clock::{Clock, FixedClock};
use authz_core::testkit::{self, world};
use authz_core::{Store, TenantId};
use serde_json::Value;

const LIMIT: i64 = 3;

struct Fx {
    store: Store,
    clock: FixedClock,
    acme: TenantId,
}

async fn fixture() -> Fx {
    let store = testkit::store().await;
    let clock = testkit::clock();
    // Half a minute into a window: every refusal says 30 seconds.
    clock.advance_secs(30);
    let acme = world::add_tenant(&store, &clock, "acme", "Acme", &["acme.test"])
        .await
        .id;
    Fx { store, clock, acme }
}

async fn key(fx: &Fx, scope: Scope) -> String {
    world::api_key(&fx.store, &fx.clock, scope).await
}

async fn app(
    fx: &Fx,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    crate::http::world::Node::new(&fx.store, &fx.clock, "http://gatehouse.test")
        .admin(AdminState {
            store: fx.store.clone(),
            clock: Arc::new(fx.clock.clone()),
            redirect_policy: Default::default(),
            secure_cookies: false,
            rate_per_key_per_minute: LIMIT,
        })
        .app()
        .await
}

/// GET `path` with a bearer key or a console session cookie: status, Retry-After, body.
async fn get<S, B>(
    app: &S,
    path: &str,
    key: Option<&str>,
    cookie: Option<&str>,
) -> (u16, Option<String>, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = test::TestRequest::get().uri(&format!("{}{path}", admin_api::BASE));
    if let Some(k) = key {
        req = req.insert_header(("authorization", format!("Bearer {k}")));
    }
    if let Some(c) = cookie {
        req = req.cookie(actix_web::cookie::Cookie::new("gh_session", c.to_string()));
    }
    let r = test::call_service(app, req.to_request()).await;
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = serde_json::from_slice(&test::read_body(r).await).unwrap_or(Value::Null);
    if status == 429 {
        assert!(ct.starts_with("application/problem+json"), "{ct}");
        assert_eq!(body["status"], 429);
        assert_eq!(body["type"], "/admin/api/v1/problems/too-many-requests");
    }
    (status, retry, body)
}

#[actix_web::test]
async fn each_admin_key_is_rate_limited_with_retry_after() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let operator = key(&fx, Scope::Operator).await;
    let other_operator = key(&fx, Scope::Operator).await;
    let acme_admin = key(&fx, Scope::TenantAdmin(fx.acme.clone())).await;
    for _ in 0..LIMIT {
        let (s, _, b) = get(&app, "/tenants", Some(&operator), None).await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, retry, b) = get(&app, "/tenants", Some(&operator), None).await;
    assert_eq!((s, retry.as_deref()), (429, Some("30")), "{b}");
    // Every endpoint counts against the same key.
    let (s, _, _) = get(&app, "/clients", Some(&operator), None).await;
    assert_eq!(s, 429);
    let (s, _, b) = get(&app, "/tenants", Some(&other_operator), None).await;
    assert_eq!(s, 200, "another key: {b}");
    let (s, _, b) = get(&app, "/tenants/acme/users", Some(&acme_admin), None).await;
    assert_eq!(s, 200, "a tenant-admin key: {b}");
    // A wrong key is 401 as always, never counted against anyone.
    let (s, retry, _) = get(&app, "/tenants", Some("gh_admin_not-a-key"), None).await;
    assert_eq!((s, retry), (401, None));
    fx.clock.advance_secs(30);
    let (s, _, b) = get(&app, "/tenants", Some(&operator), None).await;
    assert_eq!(s, 200, "the next window: {b}");
}

/// A console session of a new admin of `tenant`; returns the cookie value.
async fn console_admin(fx: &Fx, subject: &str) -> String {
    let conn = authz_core::connection::add_oidc(
        &fx.store,
        &fx.clock,
        &testkit::master_key(),
        &fx.acme,
        authz_core::connection::NewOidcConnection {
            name: subject,
            issuer: "https://idp.example.test",
            client_id: "gh",
            client_secret: "s3cret",
            preset: "generic",
            settings: serde_json::json!({}),
        },
    )
    .await
    .unwrap();
    let id = authz_core::user::FederatedIdentity {
        connection_id: conn.id.clone(),
        subject: subject.into(),
        email: Some(format!("{subject}@acme.test")),
        ..Default::default()
    };
    let (u, _) = authz_core::user::upsert_federated(&fx.store.db, &fx.clock, &fx.acme, &id)
        .await
        .unwrap();
    let (cookie, _) = authz_core::session::create(
        &fx.store.db,
        &fx.clock,
        &fx.acme,
        &u.id,
        &conn.id,
        fx.clock.now_us(),
    )
    .await
    .unwrap();
    let txn = fx.store.begin().await.unwrap();
    authz_core::admin::role::grant(
        &txn, &fx.clock, &fx.acme, &u.id, "operator", None, "operator",
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    cookie
}

#[actix_web::test]
async fn each_console_session_is_rate_limited_with_retry_after() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let ann = console_admin(&fx, "ann").await;
    let bob = console_admin(&fx, "bob").await;
    for _ in 0..LIMIT {
        let (s, _, b) = get(&app, "/tenants/acme/users", None, Some(&ann)).await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, retry, b) = get(&app, "/tenants/acme/users", None, Some(&ann)).await;
    assert_eq!((s, retry.as_deref()), (429, Some("30")), "{b}");
    let (s, _, b) = get(&app, "/tenants/acme/users", None, Some(&bob)).await;
    assert_eq!(s, 200, "another session: {b}");
    fx.clock.advance_secs(30);
    let (s, _, b) = get(&app, "/tenants/acme/users", None, Some(&ann)).await;
    assert_eq!(s, 200, "the next window: {b}");
}

#[actix_web::test]
async fn every_authenticated_operation_documents_429_with_retry_after() {
    use utoipa::OpenApi;
    let doc = serde_json::to_value(admin_api::ApiDoc::openapi()).unwrap();
    let mut n = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["security"].is_null() {
                continue;
            }
            let r = &op["responses"]["429"];
            assert!(
                r["headers"]["Retry-After"].is_object(),
                "{method} {path}: {r}"
            );
            assert_eq!(
                r["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{method} {path}"
            );
            n += 1;
        }
    }
    assert!(n >= 24, "{n}");
    let problem = &doc["components"]["schemas"]["Problem"]["properties"];
    assert!(
        problem.get("retry_after").is_none(),
        "Retry-After is a header, not a member: {problem}"
    );
}
