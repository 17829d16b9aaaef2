//! The admin API over a real app and store (SQLite, or PostgreSQL with
//! GATEHOUSE_TEST_DATABASE_URL): who may call what, problem+json errors, and the endpoints.
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use admin_api::{AdminState, ApiDoc};
use authz_core::api_key::{self, Scope};
use authz_core::clock::FixedClock;
use authz_core::testkit::{self, world};
use authz_core::{tenant, Store, TenantId};
use serde_json::{json, Value};
use utoipa::OpenApi;

struct Fx {
    store: Store,
    clock: FixedClock,
    acme: TenantId,
    operator: String,
    acme_admin: String,
    beta_admin: String,
}

async fn fixture() -> Fx {
    let store = testkit::store().await;
    let clock = testkit::clock();
    let acme = world::add_tenant(&store, &clock, "acme", "Acme", &["acme.test"]).await;
    let beta = world::add_tenant(&store, &clock, "beta", "Beta", &["beta.test"]).await;
    Fx {
        operator: world::api_key(&store, &clock, Scope::Operator).await,
        acme_admin: world::api_key(&store, &clock, Scope::TenantAdmin(acme.id.clone())).await,
        beta_admin: world::api_key(&store, &clock, Scope::TenantAdmin(beta.id.clone())).await,
        acme: acme.id,
        store,
        clock,
    }
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
            rate_per_key_per_minute: admin_api::DEFAULT_RATE_PER_KEY_PER_MINUTE,
        })
        .app()
        .await
}

async fn call<S, B>(
    app: &S,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, String, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = test::TestRequest::default()
        .method(actix_web::http::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
        .uri(path);
    if let Some(k) = key {
        req = req.insert_header(("authorization", format!("Bearer {k}")));
    }
    if let Some(b) = body {
        req = req.set_json(b);
    }
    let r = test::call_service(app, req.to_request()).await;
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = test::read_body(r).await;
    (
        status,
        ct,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Every operation of the document, which is generated from the same list that registers the
/// routes: a route added without an authorisation extractor fails here.
fn operations() -> Vec<(String, String)> {
    let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("{tenant}", "acme")
                .replace("{user_id}", "u-1")
                .replace("{token_id}", "t-1")
                .replace("{connection_id}", "c-1")
                .replace("{client_id}", "cl-1")
                .replace("{resource_id}", "r-1")
                .replace("{account_id}", "sa-1");
            out.push((method.clone(), format!("{}{concrete}", admin_api::BASE)));
        }
    }
    assert!(out.len() >= 8, "{out:?}");
    out
}

fn is_problem(status: u16, ct: &str, body: &Value, want: u16, what: &str) {
    assert_eq!(status, want, "{what}: {body}");
    assert!(ct.starts_with("application/problem+json"), "{what}: {ct}");
    assert_eq!(body["status"], want, "{what}");
    assert!(body["type"]
        .as_str()
        .unwrap()
        .starts_with("/admin/api/v1/problems/"));
}

#[actix_web::test]
async fn every_route_refuses_callers_without_the_right_key() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let (expired_store, expired_clock) = (fx.store.clone(), fx.clock.clone());
    let (_, expired) = api_key::create(
        &expired_store,
        &expired_clock,
        Scope::TenantAdmin(fx.acme.clone()),
        "old",
        60,
    )
    .await
    .unwrap();
    let (revoked_key, revoked) =
        api_key::create(&fx.store, &fx.clock, Scope::Operator, "gone", 3600)
            .await
            .unwrap();
    api_key::revoke(&fx.store, &fx.clock, None, &revoked_key.id, "test")
        .await
        .unwrap();
    fx.clock.advance_secs(120);
    for (method, path) in operations() {
        let body = Some(json!({}));
        let what = format!("{method} {path}");
        let (s, ct, b) = call(&app, &method, &path, None, body.clone()).await;
        is_problem(s, &ct, &b, 401, &format!("{what} without a key"));
        let (s, ct, b) = call(&app, &method, &path, Some("ghadm_not-a-key"), body.clone()).await;
        is_problem(s, &ct, &b, 401, &format!("{what} with an unknown key"));
        let (s, ct, b) = call(&app, &method, &path, Some(&expired), body.clone()).await;
        is_problem(s, &ct, &b, 401, &format!("{what} with an expired key"));
        let (s, ct, b) = call(&app, &method, &path, Some(&revoked), body.clone()).await;
        is_problem(s, &ct, &b, 401, &format!("{what} with a revoked key"));
        if path.contains("/tenants/acme/") {
            let (s, ct, b) = call(&app, &method, &path, Some(&fx.beta_admin), body.clone()).await;
            is_problem(
                s,
                &ct,
                &b,
                403,
                &format!("{what} as another tenant's admin"),
            );
            let (s, ct, b) = call(&app, &method, &path, Some(&fx.operator), body.clone()).await;
            is_problem(s, &ct, &b, 403, &format!("{what} with an operator key"));
        } else {
            let (s, ct, b) = call(&app, &method, &path, Some(&fx.acme_admin), body.clone()).await;
            is_problem(s, &ct, &b, 403, &format!("{what} as a tenant admin"));
        }
    }
}

#[actix_web::test]
async fn the_operator_creates_and_lists_tenants() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let op = Some(fx.operator.as_str());
    let (s, _, t) = call(
        &app,
        "POST",
        "/admin/api/v1/tenants",
        op,
        Some(json!({"slug": "globex", "name": "Globex", "domains": ["globex.test"]})),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(t["slug"], "globex");
    let (s, _, all) = call(&app, "GET", "/admin/api/v1/tenants", op, None).await;
    assert_eq!(s, 200);
    let slugs: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["acme", "beta", "globex"]);
    let (s, ct, b) = call(
        &app,
        "POST",
        "/admin/api/v1/tenants",
        op,
        Some(json!({"slug": "globex", "name": "Again", "domains": ["other.test"]})),
    )
    .await;
    is_problem(s, &ct, &b, 409, "duplicate slug");
    let (s, ct, b) = call(
        &app,
        "POST",
        "/admin/api/v1/tenants",
        op,
        Some(json!({"slug": "x", "name": "X", "domains": ["x.test"], "extra": 1})),
    )
    .await;
    is_problem(s, &ct, &b, 400, "unknown field");
    let (s, ct, b) = call(&app, "GET", "/admin/api/v1/nothing-here", op, None).await;
    is_problem(s, &ct, &b, 404, "unknown endpoint");
}

#[actix_web::test]
async fn a_tenant_admin_manages_scim_tokens_and_reads_the_audit_log() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let me = Some(fx.acme_admin.as_str());
    let (s, _, created) = call(
        &app,
        "POST",
        "/admin/api/v1/tenants/acme/scim-tokens",
        me,
        Some(json!({"name": "Entra", "expires_in_days": 30})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("ghscim_"));
    let id = created["id"].as_str().unwrap().to_string();
    let (_, _, list) = call(
        &app,
        "GET",
        "/admin/api/v1/tenants/acme/scim-tokens",
        me,
        None,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(
        !list.to_string().contains(secret),
        "the secret is shown once"
    );
    let (s, ct, b) = call(
        &app,
        "POST",
        "/admin/api/v1/tenants/acme/scim-tokens",
        me,
        Some(json!({"name": "Okta", "expires_in_days": 400})),
    )
    .await;
    is_problem(s, &ct, &b, 400, "lifetime over a year");
    let (s, _, b) = call(
        &app,
        "DELETE",
        &format!("/admin/api/v1/tenants/acme/scim-tokens/{id}"),
        me,
        None,
    )
    .await;
    assert_eq!((s, &b["revoked"]["credentials"]), (200, &json!(1)), "{b}");
    let (_, _, list) = call(
        &app,
        "GET",
        "/admin/api/v1/tenants/acme/scim-tokens",
        me,
        None,
    )
    .await;
    assert_eq!(list[0]["revoked"], true);
    let (s, ct, b) = call(
        &app,
        "DELETE",
        "/admin/api/v1/tenants/acme/scim-tokens/nope",
        me,
        None,
    )
    .await;
    is_problem(s, &ct, &b, 404, "unknown token");
    // The log shows both, newest first, and only this tenant's records.
    let (s, _, events) = call(
        &app,
        "GET",
        "/admin/api/v1/tenants/acme/audit/events?action=scim_token.",
        me,
        None,
    )
    .await;
    assert_eq!(s, 200, "{events}");
    let actions: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["scim_token.revoked", "scim_token.created"],
        "{events}"
    );
    let (_, _, beta) = call(
        &app,
        "GET",
        "/admin/api/v1/tenants/beta/audit/events",
        Some(&fx.beta_admin),
        None,
    )
    .await;
    assert!(beta
        .as_array()
        .unwrap()
        .iter()
        .all(|e| !e["action"].as_str().unwrap().starts_with("scim_token")));
    let (s, ct, b) = call(
        &app,
        "GET",
        "/admin/api/v1/tenants/acme/audit/events?from=yesterday",
        me,
        None,
    )
    .await;
    is_problem(s, &ct, &b, 400, "bad time");
    // Users: none yet; revoking an unknown user is 404.
    let (s, _, users) = call(
        &app,
        "GET",
        "/admin/api/v1/tenants/acme/users?q=alice",
        me,
        None,
    )
    .await;
    assert_eq!((s, users), (200, json!([])));
    let (s, ct, b) = call(
        &app,
        "POST",
        "/admin/api/v1/tenants/acme/users/nobody/revoke",
        me,
        None,
    )
    .await;
    is_problem(s, &ct, &b, 404, "unknown user");
}

#[actix_web::test]
async fn the_openapi_document_is_public_and_3_1() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let (s, _, doc) = call(&app, "GET", "/admin/api/v1/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["servers"][0]["url"], "/admin/api/v1");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // Operation ids are unique (OpenAPI 3.1 §4.8.10; generators key on them).
    let mut ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate operationId in {ids:?}");
    assert_eq!(
        doc["paths"].as_object().unwrap().len(),
        53,
        "{}",
        doc["paths"]
    );
}

#[actix_web::test]
async fn a_tenant_admin_grants_scopes_with_critical_ones_confirmed() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let spec: authz_core::resource::ResourceSpec = serde_json::from_value(json!({
        "uri": "https://crm.example.test/mcp", "display_name": "CRM",
        "scopes": [
            {"name": "crm:read", "description": "Read", "tier": "routine"},
            {"name": "crm:billing", "description": "Billing", "tier": "critical"}
        ],
        "tools": []
    }))
    .unwrap();
    authz_core::resource::register(&fx.store, &fx.clock, spec)
        .await
        .unwrap();
    let me = Some(fx.acme_admin.as_str());
    let url = "/admin/api/v1/tenants/acme/grants";
    let (s, _, g) = call(
        &app,
        "POST",
        url,
        me,
        Some(json!({"resource": "https://crm.example.test/mcp", "scopes": ["crm:read"]})),
    )
    .await;
    assert_eq!((s, g), (201, json!({"granted": ["crm:read"]})));
    let (s, ct, b) = call(
        &app,
        "POST",
        url,
        me,
        Some(json!({"resource": "https://crm.example.test/mcp", "scopes": ["crm:billing"]})),
    )
    .await;
    is_problem(s, &ct, &b, 400, "critical without confirmation");
    assert!(b["detail"].as_str().unwrap().contains("critical"), "{b}");
    let (s, _, _) = call(&app, "POST", url, me, Some(json!({"resource": "https://crm.example.test/mcp", "scopes": ["crm:billing"], "allow_critical": true}))).await;
    assert_eq!(s, 201);
    let (s, ct, b) = call(&app, "POST", url, me, Some(json!({"resource": "https://crm.example.test/mcp", "scopes": ["crm:read"], "group": "no-such-group"}))).await;
    is_problem(s, &ct, &b, 404, "unknown group");
    let (s, ct, b) = call(
        &app,
        "POST",
        url,
        me,
        Some(json!({"resource": "https://nope.example.test/mcp", "scopes": ["x"]})),
    )
    .await;
    is_problem(s, &ct, &b, 404, "unknown resource");
    let (_, _, list) = call(&app, "GET", url, me, None).await;
    assert_eq!(
        list,
        json!([
            {"resource": "https://crm.example.test/mcp", "scope": "crm:billing", "group": null},
            {"resource": "https://crm.example.test/mcp", "scope": "crm:read", "group": null}
        ])
    );
    // The audit record names the admin's key.
    let (_, _, ev) = call(
        &app,
        "GET",
        "/admin/api/v1/tenants/acme/audit/events?action=grant.added",
        me,
        None,
    )
    .await;
    assert!(
        ev[0]["actor"].as_str().unwrap().starts_with("admin-key:"),
        "{ev}"
    );
    assert_eq!(ev[0]["details"]["critical_confirmed"], true);
    // Connections: none yet, and an unknown one is 404.
    let (s, _, c) = call(
        &app,
        "GET",
        "/admin/api/v1/tenants/acme/connections",
        me,
        None,
    )
    .await;
    assert_eq!((s, c), (200, json!([])));
    let (s, ct, b) = call(
        &app,
        "POST",
        "/admin/api/v1/tenants/acme/connections/nope/state",
        me,
        Some(json!({"enabled": false})),
    )
    .await;
    is_problem(s, &ct, &b, 404, "unknown connection");
}

/// ID-JAG settings of a connection (ADR 0014): off by default; only registered confidential
/// clients; unknown connections 404; the change is audited with the admin's key.
#[actix_web::test]
async fn a_tenant_admin_enables_id_jag_on_a_connection_for_listed_clients() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let me = Some(fx.acme_admin.as_str());
    let conn = world::add_oidc(
        &fx.store,
        &fx.clock,
        &fx.acme,
        "IdP",
        "https://idp.acme.test",
        "gh",
        "s3cret",
    )
    .await;
    let reg = |confidential: bool| {
        let (store, clock) = (fx.store.clone(), fx.clock.clone());
        async move {
            authz_core::client::add_preregistered(
                &store,
                &clock,
                &Default::default(),
                "Agent",
                &["https://agent.example.test/cb".to_string()],
                confidential,
            )
            .await
            .unwrap()
            .client
            .client_id
        }
    };
    let (confidential, public) = (reg(true).await, reg(false).await);
    let path = format!("/admin/api/v1/tenants/acme/connections/{}/id-jag", conn.id);
    let (s, _, b) = call(&app, "GET", &path, me, None).await;
    assert_eq!((s, b), (200, json!({"enabled": false, "clients": []})));
    for bad in [json!(["pre_unknown"]), json!([public])] {
        let (s, ct, b) = call(
            &app,
            "PUT",
            &path,
            me,
            Some(json!({"enabled": true, "clients": bad})),
        )
        .await;
        is_problem(s, &ct, &b, 400, "unknown or public client");
    }
    let body = json!({"enabled": true, "clients": [confidential]});
    let (s, _, b) = call(&app, "PUT", &path, me, Some(body.clone())).await;
    assert_eq!((s, b), (200, body.clone()));
    let (s, _, b) = call(&app, "GET", &path, me, None).await;
    assert_eq!((s, b), (200, body));
    let (s, ct, b) = call(
        &app,
        "GET",
        "/admin/api/v1/tenants/acme/connections/nope/id-jag",
        me,
        None,
    )
    .await;
    is_problem(s, &ct, &b, 404, "unknown connection");
    let (_, _, ev) = call(
        &app,
        "GET",
        "/admin/api/v1/tenants/acme/audit/events?action=connection.id_jag_set",
        me,
        None,
    )
    .await;
    assert!(
        ev[0]["actor"].as_str().unwrap().starts_with("admin-key:"),
        "{ev}"
    );
    assert_eq!(ev[0]["details"]["enabled"], true);
}

/// A console session of a new user of `tenant`: (user id, cookie value).
async fn console_session(
    fx: &Fx,
    tenant: &TenantId,
    subject: &str,
    auth_time: i64,
    clock: &FixedClock,
) -> (String, String) {
    let conn = authz_core::connection::add_oidc(
        &fx.store,
        &fx.clock,
        &testkit::master_key(),
        tenant,
        authz_core::connection::NewOidcConnection {
            name: subject,
            issuer: "https://idp.example.test",
            client_id: "gh",
            client_secret: "s3cret",
            preset: "generic",
            settings: json!({}),
        },
    )
    .await
    .unwrap();
    let id = authz_core::user::FederatedIdentity {
        connection_id: conn.id.clone(),
        subject: subject.into(),
        email: Some(format!("{subject}@example.test")),
        ..Default::default()
    };
    let (u, _) = authz_core::user::upsert_federated(&fx.store.db, clock, tenant, &id)
        .await
        .unwrap();
    let (cookie, _) =
        authz_core::session::create(&fx.store.db, clock, tenant, &u.id, &conn.id, auth_time)
            .await
            .unwrap();
    (u.id, cookie)
}

async fn call_session<S, B>(
    app: &S,
    method: &str,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
) -> (u16, String, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = test::TestRequest::default()
        .method(actix_web::http::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
        .uri(path)
        .cookie(actix_web::cookie::Cookie::new(
            "gh_session",
            cookie.to_string(),
        ))
        .set_json(json!({}));
    if let Some(c) = csrf {
        req = req.insert_header(("x-csrf-token", c.to_string()));
    }
    let r = test::call_service(app, req.to_request()).await;
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = test::read_body(r).await;
    (
        status,
        ct,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[actix_web::test]
async fn console_sessions_reach_tenant_endpoints_only_as_fresh_admins_with_the_csrf_header() {
    use authz_core::admin::role;
    use authz_core::clock::{Clock, MICROS};
    let fx = fixture().await;
    let app = app(&fx).await;
    let beta = tenant::find_by_slug(&fx.store.db, "beta").await.unwrap().id;
    let now = fx.clock.now_us();
    let (admin_id, admin) = console_session(&fx, &fx.acme, "ann", now, &fx.clock).await;
    let (_, plain) = console_session(&fx, &fx.acme, "pat", now, &fx.clock).await;
    let (stale_id, stale) =
        console_session(&fx, &fx.acme, "sam", now - 16 * 60 * MICROS, &fx.clock).await;
    let past = FixedClock::new(now - 9 * 3600 * MICROS);
    let (expired_id, expired) = console_session(&fx, &fx.acme, "eve", past.now_us(), &past).await;
    let (beta_id, beta_admin) = console_session(&fx, &beta, "bob", now, &fx.clock).await;
    let txn = fx.store.begin().await.unwrap();
    for (t, u) in [
        (&fx.acme, &admin_id),
        (&fx.acme, &stale_id),
        (&fx.acme, &expired_id),
        (&beta, &beta_id),
    ] {
        role::grant(&txn, &fx.clock, t, u, "operator", None, "operator")
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
    let csrf = |c: &str| admin_api::console::auth::admin_csrf(c);
    for (method, path) in operations() {
        let what = format!("{method} {path}");
        let write = method != "get";
        let cases: Vec<(&str, &str, Option<String>, &[u16])> = vec![
            ("a non-admin user", &plain, Some(csrf(&plain)), &[403]),
            (
                "an admin of another tenant",
                &beta_admin,
                Some(csrf(&beta_admin)),
                &[401],
            ),
            (
                "an expired admin session",
                &expired,
                Some(csrf(&expired)),
                &[401],
            ),
        ];
        for (who, cookie, token, want) in cases {
            if !path.contains("/tenants/acme/") {
                continue;
            }
            let (s, ct, b) = call_session(&app, &method, &path, cookie, token.as_deref()).await;
            assert!(want.contains(&s), "{what} by {who}: {s} {b}");
            is_problem(s, &ct, &b, s, &what);
        }
        if path.contains("/tenants/acme/") && write {
            let (s, _, b) = call_session(&app, &method, &path, &stale, Some(&csrf(&stale))).await;
            assert_eq!(
                s, 403,
                "{what} by an admin without fresh authentication: {b}"
            );
            assert!(b["detail"].as_str().unwrap().contains("15 minutes"), "{b}");
            let (s, _, b) = call_session(&app, &method, &path, &admin, None).await;
            assert_eq!(s, 403, "{what} by an admin without the CSRF header: {b}");
            assert!(
                b["detail"].as_str().unwrap().contains("X-CSRF-Token"),
                "{b}"
            );
        }
        if !path.contains("/tenants/acme/") {
            // Operator endpoints: a console session is no operator.
            let (s, _, b) = call_session(&app, &method, &path, &admin, Some(&csrf(&admin))).await;
            assert_eq!(s, 401, "{what} with a console session: {b}");
        }
    }
    // The fresh admin with the page's token gets through, audited as the person.
    let (s, _, b) = call_session(
        &app,
        "GET",
        "/admin/api/v1/tenants/acme/users",
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, _, b) = call_session(
        &app,
        "POST",
        "/admin/api/v1/tenants/acme/scim-tokens",
        &admin,
        Some(&csrf(&admin)),
    )
    .await;
    assert_eq!(
        s, 400,
        "reaches the handler (the empty body is invalid): {b}"
    );
    let r = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/admin/api/v1/tenants/acme/scim-tokens")
            .cookie(actix_web::cookie::Cookie::new("gh_session", admin.clone()))
            .insert_header(("x-csrf-token", csrf(&admin)))
            .set_json(json!({"name": "from the console"}))
            .to_request(),
    )
    .await;
    assert_eq!(r.status().as_u16(), 201);
    let last = authz_core::audit::search::search(
        &fx.store.db,
        &fx.acme,
        &authz_core::audit::search::AuditQuery {
            action_prefix: Some("scim_token.created".into()),
            limit: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        last[0].actor.as_deref(),
        Some(format!("admin:{admin_id}").as_str())
    );
}

#[actix_web::test]
async fn the_operator_registers_resources_and_clients_and_invites_a_tenant_admin() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let op = Some(fx.operator.as_str());
    let (s, _, r) = call(
        &app,
        "POST",
        "/admin/api/v1/resources",
        op,
        Some(
            json!({"uri": "https://crm.example.test/mcp", "display_name": "CRM",
            "scopes": [{"name": "crm:read", "description": "Read", "tier": "routine"},
                       {"name": "crm:billing:write", "description": "Billing", "tier": "critical"}],
            "tools": [{"name": "bill", "scopes": ["crm:billing:write"]}]}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    assert!(r["introspection_client_secret"].as_str().unwrap().len() > 20);
    let billing = r["resource"]["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "crm:billing:write")
        .unwrap();
    assert_eq!(billing["tier"], "critical");
    let (s, ct, b) = call(
        &app,
        "POST",
        "/admin/api/v1/resources",
        op,
        Some(
            json!({"uri": "https://x.example.test/mcp", "display_name": "X",
            "scopes": [{"name": "x", "description": "x", "tier": "extreme"}]}),
        ),
    )
    .await;
    is_problem(s, &ct, &b, 400, "an unknown tier");
    let (s, _, list) = call(&app, "GET", "/admin/api/v1/resources", op, None).await;
    assert_eq!(s, 200);
    assert_eq!(list[0]["uri"], "https://crm.example.test/mcp");
    assert!(list[0].get("introspection_client_secret").is_none());

    let (s, _, c) = call(
        &app,
        "POST",
        "/admin/api/v1/clients",
        op,
        Some(json!({"client_name": "Acme agent", "redirect_uris": ["https://agent.example.test/cb"], "confidential": true})),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(c["token_endpoint_auth_method"], "client_secret_basic");
    assert!(c["client_secret"].is_string());
    let (s, ct, b) = call(
        &app,
        "POST",
        "/admin/api/v1/clients",
        op,
        Some(json!({"client_name": "bad", "redirect_uris": ["http://evil.example.test/cb"]})),
    )
    .await;
    is_problem(s, &ct, &b, 400, "a non-https, non-loopback redirect URI");
    let (s, _, list) = call(&app, "GET", "/admin/api/v1/clients", op, None).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(
        list[0].get("client_secret").is_none(),
        "the secret is shown once"
    );

    let (s, _, inv) = call(
        &app,
        "POST",
        "/admin/api/v1/invitations",
        op,
        Some(json!({"tenant": "acme", "email": "First@Acme.test"})),
    )
    .await;
    assert_eq!(s, 201, "{inv}");
    assert_eq!(inv["email"], "first@acme.test");
    assert!(
        !inv.to_string().contains("/admin/invitations/"),
        "the link is not returned"
    );
    let (s, ct, b) = call(
        &app,
        "POST",
        "/admin/api/v1/invitations",
        op,
        Some(json!({"tenant": "nope", "email": "a@b.test"})),
    )
    .await;
    is_problem(s, &ct, &b, 404, "an unknown tenant");
}

#[actix_web::test]
async fn leaver_settings_are_set_through_the_admin_api_within_their_bounds() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let k = Some(fx.acme_admin.as_str());
    let url = "/admin/api/v1/tenants/acme/settings";
    for (bad, says) in [
        (json!({"upstream_check_minutes": -1}), "between 0 and 1440"),
        (json!({"reauth_after_hours": 0}), "between 1 and 720"),
        (json!({"refresh_lifetime_days": 91}), "between 1 and 90"),
        (json!({"refresh_grace_seconds": 61}), "between 0 and 60"),
    ] {
        let (s, ct, b) = call(&app, "PUT", url, k, Some(bad)).await;
        is_problem(s, &ct, &b, 400, says);
    }
    let (s, _, b) = call(&app, "PUT", url, k, Some(json!({"upstream_check_minutes": 0, "reauth_after_hours": 8, "refresh_lifetime_days": 90, "refresh_grace_seconds": 0}))).await;
    assert_eq!(s, 200, "{b}");
    let (s, _, b) = call(&app, "GET", url, k, None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["upstream_check_minutes"], 0);
    assert_eq!(b["reauth_after_hours"], 8);
    assert_eq!(b["refresh_lifetime_days"], 90);
    assert_eq!(b["refresh_grace_seconds"], 0);
}

#[actix_web::test]
async fn a_tenant_admin_manages_settings_domains_and_the_client_list() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let k = Some(fx.acme_admin.as_str());
    let (s, _, b) = call(&app, "GET", "/admin/api/v1/tenants/acme/settings", k, None).await;
    assert_eq!(s, 200, "{b}");
    let (s, ct, b) = call(
        &app,
        "PUT",
        "/admin/api/v1/tenants/acme/settings",
        k,
        Some(json!({"routine_token_minutes": 90})),
    )
    .await;
    is_problem(s, &ct, &b, 400, "above the 60-minute bound");
    let (s, _, b) = call(&app, "PUT", "/admin/api/v1/tenants/acme/settings", k, Some(json!({"routine_token_minutes": 20, "audit_retention_years": 7, "client_policy": "allowlist"}))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["routine_token_minutes"], 20);
    let (s, _, d) = call(
        &app,
        "POST",
        "/admin/api/v1/tenants/acme/domains",
        k,
        Some(json!({"domain": "acme-eu.test"})),
    )
    .await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["verified"], false);
    assert_eq!(d["txt_name"], "_gatehouse-challenge.acme-eu.test");
    assert!(d["txt_value"]
        .as_str()
        .unwrap()
        .starts_with("gatehouse-verification="));
    let (s, ct, b) = call(
        &app,
        "POST",
        "/admin/api/v1/tenants/acme/domains",
        k,
        Some(json!({"domain": "gmail.com"})),
    )
    .await;
    is_problem(s, &ct, &b, 400, "a consumer domain");
    let (s, ct, b) = call(
        &app,
        "POST",
        "/admin/api/v1/tenants/acme/domains",
        k,
        Some(json!({"domain": "beta.test"})),
    )
    .await;
    is_problem(s, &ct, &b, 409, "another tenant's domain");
    let (s, _, list) = call(&app, "GET", "/admin/api/v1/tenants/acme/domains", k, None).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let (s, ct, b) = call(
        &app,
        "PUT",
        "/admin/api/v1/tenants/acme/clients/nope/policy",
        k,
        Some(json!({"decision": "block"})),
    )
    .await;
    is_problem(s, &ct, &b, 404, "an unknown client");
    let (s, ct, b) = call(
        &app,
        "PUT",
        "/admin/api/v1/tenants/acme/clients/nope/policy",
        k,
        Some(json!({"decision": "maybe"})),
    )
    .await;
    is_problem(s, &ct, &b, 400, "an unknown decision");
    let (s, _, b) = call(&app, "GET", "/admin/api/v1/tenants/acme/clients", k, None).await;
    assert_eq!(s, 200, "{b}");
}

/// Review F11: the operator rotates a resource server's secret with an overlap (old and new
/// work during it, only the new after) and revokes every secret at once; both are audited on
/// the platform chain.
#[actix_web::test]
async fn the_operator_rotates_and_revokes_a_resource_secret() {
    use authz_core::clock::Clock;
    use authz_core::resource::authenticate;
    let fx = fixture().await;
    let app = app(&fx).await;
    let op = Some(fx.operator.as_str());
    let (s, _, r) = call(
        &app,
        "POST",
        "/admin/api/v1/resources",
        op,
        Some(
            json!({"uri": "https://crm.example.test/mcp", "display_name": "CRM",
            "scopes": [{"name": "crm:read", "description": "Read", "tier": "routine"}]}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    let id = r["resource"]["id"].as_str().unwrap().to_string();
    let client = r["introspection_client_id"].as_str().unwrap().to_string();
    let first = r["introspection_client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    let works = |secret: String| {
        let (db, now, client) = (fx.store.db.clone(), fx.clock.now_us(), client.clone());
        async move {
            authenticate(&db, now, &client, &secret)
                .await
                .unwrap()
                .is_some()
        }
    };

    // A tenant admin may not; nor may anyone for an unknown resource.
    let path = format!("/admin/api/v1/resources/{id}/rotate-secret");
    let (s, ct, b) = call(&app, "POST", &path, Some(&fx.acme_admin), None).await;
    is_problem(s, &ct, &b, 403, "a tenant admin rotating");
    let (s, ct, b) = call(
        &app,
        "POST",
        "/admin/api/v1/resources/nope/rotate-secret",
        op,
        None,
    )
    .await;
    is_problem(s, &ct, &b, 404, "an unknown resource");
    let (s, ct, b) = call(&app, "POST", &path, op, Some(json!({"overlap_secs": -1}))).await;
    is_problem(s, &ct, &b, 400, "a negative overlap");

    // Rotation with the default overlap (an hour): both work, then only the new one.
    let (s, _, rot) = call(&app, "POST", &path, op, None).await;
    assert_eq!(s, 200, "{rot}");
    assert_eq!(rot["introspection_client_id"], client.as_str());
    let second = rot["introspection_client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(second, first);
    assert!(rot["previous_secret_valid_until"].is_string(), "{rot}");
    assert!(works(first.clone()).await && works(second.clone()).await);
    fx.clock.advance_secs(3599);
    assert!(works(first.clone()).await, "still inside the overlap");
    fx.clock.advance_secs(1);
    assert!(!works(first.clone()).await, "the overlap has ended");
    assert!(works(second.clone()).await);

    // Rotation with no overlap: the old secret stops at once.
    let (s, _, rot) = call(&app, "POST", &path, op, Some(json!({"overlap_secs": 0}))).await;
    assert_eq!(s, 200, "{rot}");
    assert!(rot.get("previous_secret_valid_until").is_none(), "{rot}");
    let third = rot["introspection_client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!works(second.clone()).await && works(third.clone()).await);

    // Revocation: every secret, including one still inside an overlap, stops at once.
    let (s, _, rot) = call(&app, "POST", &path, op, Some(json!({"overlap_secs": 600}))).await;
    assert_eq!(s, 200, "{rot}");
    let fourth = rot["introspection_client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(works(third.clone()).await && works(fourth.clone()).await);
    let revoke = format!("/admin/api/v1/resources/{id}/revoke-secret");
    let (s, ct, b) = call(&app, "POST", &revoke, Some(&fx.acme_admin), None).await;
    is_problem(s, &ct, &b, 403, "a tenant admin revoking");
    let (s, _, _) = call(&app, "POST", &revoke, op, None).await;
    assert_eq!(s, 204);
    for old in [&first, &second, &third, &fourth] {
        assert!(!works(old.clone()).await);
    }
    // A new secret after a revocation has nothing to overlap with.
    let (s, _, rot) = call(&app, "POST", &path, op, None).await;
    assert_eq!(s, 200, "{rot}");
    assert!(rot.get("previous_secret_valid_until").is_none(), "{rot}");
    assert!(
        works(
            rot["introspection_client_secret"]
                .as_str()
                .unwrap()
                .to_string()
        )
        .await
    );
    assert!(!works(fourth.clone()).await);

    // Audited on the platform chain, by the operator key, without the secret.
    let evs = authz_core::audit::search::search(
        &fx.store.db,
        &TenantId::parse(authz_core::audit::PLATFORM_CHAIN).unwrap(),
        &authz_core::audit::search::AuditQuery {
            limit: 100,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let actions: Vec<_> = evs.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "resource.secret_rotated")
            .count(),
        4,
        "{actions:?}"
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "resource.secret_revoked")
            .count(),
        1,
        "{actions:?}"
    );
    for e in &evs {
        let text = format!("{e:?}");
        assert!(!text.contains(&second) && !text.contains(&third), "{text}");
    }
}

/// Issue 13 §2: the operator reads a catalogue, sees an update's diff without applying it, then
/// applies it (the version moves, the versions list grows); a tenant admin may do none of it,
/// and an invalid catalogue or a changed URI is a 400 that writes nothing.
#[actix_web::test]
async fn the_operator_updates_a_catalogue_after_a_dry_run() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let op = Some(fx.operator.as_str());
    let v1 = json!({"uri": "https://crm.example.test/mcp", "display_name": "CRM",
        "scopes": [{"name": "crm:read", "description": "Read", "tier": "routine"},
                   {"name": "crm:write", "description": "Write", "tier": "routine"}],
        "tools": [{"name": "search", "scopes": ["crm:read"]}]});
    let (s, _, r) = call(
        &app,
        "POST",
        "/admin/api/v1/resources",
        op,
        Some(v1.clone()),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    let id = r["resource"]["id"].as_str().unwrap().to_string();
    let catalogue = format!("/admin/api/v1/resources/{id}/catalogue");

    let (s, _, c) = call(&app, "GET", &catalogue, op, None).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["version"], 1);
    assert_eq!(c["catalogue"]["settings"]["filter_tools_list"], true);

    let mut v2 = v1.clone();
    v2["scopes"][1]["tier"] = json!("critical");
    v2["tools"] = json!([{"name": "search", "scopes": ["crm:read"], "description": "Search"},
                         {"name": "update", "scopes": ["crm:write"]}]);
    v2["settings"] = json!({"share_identity": true});
    let (s, _, d) = call(
        &app,
        "PUT",
        &format!("{catalogue}?dry_run=true"),
        op,
        Some(v2.clone()),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(
        (d["applied"].as_bool(), d["to_version"].as_i64()),
        (Some(false), Some(2))
    );
    assert_eq!(d["tools_added"], json!(["update"]));
    assert_eq!(d["tools_changed"], json!(["search"]));
    assert_eq!(d["revoking"], json!(["crm:write"]));
    assert_eq!(d["tiers_changed"][0]["to"], "critical");
    assert_eq!(d["settings_changed"][0]["setting"], "share_identity");
    assert_eq!(
        call(&app, "GET", &catalogue, op, None).await.2["version"],
        1
    );

    let (s, ct, b) = call(
        &app,
        "PUT",
        &catalogue,
        Some(&fx.acme_admin),
        Some(v2.clone()),
    )
    .await;
    is_problem(s, &ct, &b, 403, "a tenant admin updating");
    let mut bad = v2.clone();
    bad["tools"][1]["scopes"] = json!(["crm:nope"]);
    let (s, ct, b) = call(&app, "PUT", &catalogue, op, Some(bad)).await;
    is_problem(s, &ct, &b, 400, "a tool outside the catalogue");
    let mut moved = v2.clone();
    moved["uri"] = json!("https://other.example.test/mcp");
    let (s, ct, b) = call(&app, "PUT", &catalogue, op, Some(moved)).await;
    is_problem(s, &ct, &b, 400, "a changed URI");

    let (s, _, d) = call(&app, "PUT", &catalogue, op, Some(v2)).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["applied"], true);
    assert_eq!(d["revoked"]["tokens_revoked"], 0);
    let (s, _, c) = call(&app, "GET", &catalogue, op, None).await;
    assert_eq!((s, c["version"].as_i64()), (200, Some(2)));
    assert_eq!(c["catalogue"]["settings"]["share_identity"], true);
    let (s, _, v) = call(
        &app,
        "GET",
        &format!("/admin/api/v1/resources/{id}/versions"),
        op,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let by: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["changed_by"].as_str().unwrap())
        .collect();
    assert_eq!(by.len(), 2, "{v}");
    assert!(by[0].starts_with("operator-key:"), "{v}");
    let (s, ct, b) = call(
        &app,
        "GET",
        "/admin/api/v1/resources/nope/versions",
        op,
        None,
    )
    .await;
    is_problem(s, &ct, &b, 404, "an unknown resource");
}
