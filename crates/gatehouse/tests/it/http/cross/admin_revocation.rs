//! A tenant admin cuts access off through the admin API, and the tokens are inactive at the
//! very next introspection: one user's app, and a client tenant-wide. Issuer and admin API in one
//! app over one store (SQLite, or PostgreSQL with GATEHOUSE_TEST_DATABASE_URL).
use crate::http::issuer::common;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test;
use authz_core::api_key::{self, Scope};
use common::*;
use serde_json::{json, Value};

macro_rules! app {
    ($fx:expr) => {
        crate::http::world::Node::with_issuer($fx.state.clone())
            .admin(admin_api::AdminState {
                store: $fx.store.clone(),
                clock: Arc::new($fx.clock.clone()),
                redirect_policy: Default::default(),
                secure_cookies: $fx.state.config.secure_cookies(),
                rate_per_key_per_minute: admin_api::DEFAULT_RATE_PER_KEY_PER_MINUTE,
            })
            .app()
            .await
    };
}

async fn admin<S, B>(
    app: &S,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value)
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let mut req = test::TestRequest::default()
        .method(actix_web::http::Method::from_bytes(method.as_bytes()).unwrap())
        .uri(&format!("/admin/api/v1/tenants/acme{path}"))
        .insert_header(("authorization", format!("Bearer {key}")))
        .insert_header(("user-agent", "ir-console/1.0"))
        .peer_addr("198.51.100.23:5000".parse().unwrap());
    if let Some(b) = body {
        req = req.set_json(b);
    }
    let r = test::call_service(app, req.to_request()).await;
    let s = r.status().as_u16();
    (
        s,
        serde_json::from_slice(&test::read_body(r).await).unwrap_or(Value::Null),
    )
}

async fn tokens_for<S, B>(app: &S, fx: &Fx, client: &str, scope: &str) -> Value
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let code = code_for(app, fx, client, REDIRECT, scope).await;
    let (s, t) = token(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
            ("client_id", client),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    t
}

async fn active<S, B>(app: &S, fx: &Fx, token: &str) -> bool
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let (_, r) = post_form(
        app,
        "/oauth/introspect",
        &[("token", token)],
        Some((&fx.rs.0, &fx.rs.1)),
    )
    .await;
    r["active"].as_bool().unwrap()
}

#[actix_web::test]
async fn an_admin_revokes_a_users_app_and_a_client_and_the_tokens_die_at_once() {
    let fx = fixture().await;
    let app = app!(fx);
    let (_, key) = api_key::create(
        &fx.store,
        &fx.clock,
        Scope::TenantAdmin(fx.acme.id.clone()),
        "it",
        86_400,
    )
    .await
    .unwrap();
    let (_, c1) = dcr(&app, json!([REDIRECT])).await;
    let (_, c2) = dcr(&app, json!(["https://other.example.com/cb"])).await;
    let (c1, c2) = (
        c1["client_id"].as_str().unwrap(),
        c2["client_id"].as_str().unwrap(),
    );
    let t1 = tokens_for(&app, &fx, c1, "crm:customers:read").await;
    let at1 = t1["access_token"].as_str().unwrap();
    assert!(active(&app, &fx, at1).await);

    // The admin sees the app on the user, and revokes it.
    let user = &fx.acme.user_id;
    let (s, apps) = admin(&app, &key, "GET", &format!("/users/{user}/apps"), None).await;
    assert_eq!(s, 200, "{apps}");
    assert_eq!(apps[0]["client_id"], c1);
    assert_eq!(apps[0]["resource"], RES);
    let (s, r) = admin(
        &app,
        &key,
        "POST",
        &format!("/users/{user}/apps/revoke"),
        Some(json!({"client_id": c1, "resource": RES})),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert!(r["tokens_revoked"].as_u64().unwrap() >= 1);
    assert!(
        !active(&app, &fx, at1).await,
        "inactive at the very next introspection"
    );
    let (s, e) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t1["refresh_token"].as_str().unwrap()),
            ("client_id", c1),
        ],
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (_, apps) = admin(&app, &key, "GET", &format!("/users/{user}/apps"), None).await;
    assert_eq!(apps, json!([]));

    // A whole client, tenant-wide.
    let code2 = {
        let r = test::call_service(
            &app,
            with_cookies(
                test::TestRequest::get().uri(&authorize_url(
                    c2,
                    "https://other.example.com/cb",
                    &[("scope", "crm:customers:read")],
                )),
                &fx,
            )
            .to_request(),
        )
        .await;
        let path = location(&r).trim_start_matches(ISSUER).to_string();
        let r = test::call_service(
            &app,
            with_cookies(test::TestRequest::get().uri(&path), &fx).to_request(),
        )
        .await;
        let html = body_text(r).await;
        let (tx, csrf) = (hidden(&html, "tx"), hidden(&html, "csrf"));
        let r = test::call_service(
            &app,
            with_cookies(
                test::TestRequest::post()
                    .uri("/consent")
                    .insert_header(("content-type", "application/x-www-form-urlencoded"))
                    .set_payload(form(&[
                        ("tx", &tx),
                        ("csrf", &csrf),
                        ("decision", "allow"),
                        ("scope", "crm:customers:read"),
                    ])),
                &fx,
            )
            .to_request(),
        )
        .await;
        query_param(&location(&r), "code").unwrap()
    };
    let (_, t2) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code2),
            ("code_verifier", VERIFIER),
            ("redirect_uri", "https://other.example.com/cb"),
            ("client_id", c2),
        ],
    )
    .await;
    let at2 = t2["access_token"].as_str().unwrap();
    assert!(active(&app, &fx, at2).await);
    let (s, r) = admin(&app, &key, "POST", &format!("/clients/{c2}/revoke"), None).await;
    assert_eq!(
        (s, r["tokens_revoked"].as_u64().unwrap() >= 1),
        (200, true),
        "{r}"
    );
    assert!(!active(&app, &fx, at2).await);
    // Both actions are in the tenant's log with the admin key as actor.
    let (_, ev) = admin(
        &app,
        &key,
        "GET",
        "/audit/events?action=consent.revoked",
        None,
    )
    .await;
    assert!(
        ev[0]["actor"].as_str().unwrap().starts_with("admin-key:"),
        "{ev}"
    );
}

#[actix_web::test]
async fn admin_actions_are_audited_with_the_source_address_and_user_agent() {
    use authz_core::entities::audit_events;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let fx = fixture().await;
    let app = app!(fx);
    let (_, key) = api_key::create(
        &fx.store,
        &fx.clock,
        Scope::TenantAdmin(fx.acme.id.clone()),
        "ir",
        3600,
    )
    .await
    .unwrap();
    let (s, _) = admin(
        &app,
        &key,
        "POST",
        &format!("/users/{}/revoke", fx.acme.user_id),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let e = audit_events::Entity::find()
        .filter(audit_events::Column::Action.eq("user.tokens_revoked"))
        .order_by_desc(audit_events::Column::Id)
        .one(&fx.store.db)
        .await
        .unwrap()
        .expect("the revocation is audited");
    assert_eq!(e.source_ip.as_deref(), Some("198.51.100.23"));
    assert_eq!(e.user_agent.as_deref(), Some("ir-console/1.0"));
}

#[actix_web::test]
async fn a_suspended_tenant_is_inactive_at_introspection_until_resumed() {
    let fx = fixture().await;
    let app = app!(fx);
    let (_, c) = dcr(&app, json!([REDIRECT])).await;
    let client = c["client_id"].as_str().unwrap().to_string();
    let t = tokens_for(&app, &fx, &client, "crm:customers:read").await;
    let at = t["access_token"].as_str().unwrap().to_string();
    assert!(active(&app, &fx, &at).await);
    let (_, op) = api_key::create(&fx.store, &fx.clock, Scope::Operator, "ir", 3600)
        .await
        .unwrap();
    let call = |path: &'static str| {
        let (app, op) = (&app, op.clone());
        async move {
            let r = test::call_service(
                app,
                test::TestRequest::post()
                    .uri(path)
                    .insert_header(("authorization", format!("Bearer {op}")))
                    .to_request(),
            )
            .await;
            r.status().as_u16()
        }
    };
    assert_eq!(
        call("/admin/api/v1/incident/suspend-tenant/acme").await,
        200
    );
    assert!(!active(&app, &fx, &at).await, "inactive while suspended");
    let (s, b) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ("client_id", &client),
        ],
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(call("/admin/api/v1/incident/resume-tenant/acme").await, 200);
    assert!(active(&app, &fx, &at).await, "active again once resumed");
}
