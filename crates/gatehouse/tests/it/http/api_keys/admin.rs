//! The tenant admin's side, through the admin API: every key of the tenant listed (never a
//! secret), any revoked, and turning keys off revokes every existing one (they stop working,
//! not only new ones). Another tenant's admin sees none of them.
use actix_web::http::StatusCode;
use actix_web::test;
use authz_core::api_key::Scope;
use authz_core::testkit::world;
use serde_json::{json, Value};

use super::support::*;

const READ: &str = "crm:customers:read";

async fn api<S, B>(
    app: &S,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value)
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
        .uri(&format!("/admin/api/v1{path}"))
        .insert_header(("authorization", format!("Bearer {key}")));
    if let Some(b) = body {
        req = req.set_json(b);
    }
    let r = test::call_service(app, req.to_request()).await;
    let s = r.status();
    (s, body_json(r).await)
}

#[actix_web::test]
async fn an_admin_lists_and_revokes_keys_and_turning_keys_off_revokes_them_all() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let admin = world::api_key(&fx.store, &fx.clock, Scope::TenantAdmin(fx.acme.id.clone())).await;
    // Keys are off by default; the admin turns them on with a 14-day maximum.
    let (s, v) = api(&app, &admin, "GET", "/tenants/acme/settings", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v.get("api_keys_enabled").is_none_or(|v| v.is_null()), "{v}");
    let (s, v) = api(
        &app,
        &admin,
        "PUT",
        "/tenants/acme/settings",
        Some(json!({"api_keys_enabled": true, "api_key_max_days": 14})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = api(
        &app,
        &admin,
        "PUT",
        "/tenants/acme/settings",
        Some(json!({"api_keys_enabled": true, "api_key_max_days": 91})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (_, first) = create(&app, &fx, &[READ], "14").await;
    let (_, second) = create(&app, &fx, &[READ], "3").await;
    let (s, list) = api(&app, &admin, "GET", "/tenants/acme/user-keys", None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert!(list
        .iter()
        .all(|k| k["status"] == "active" && k["user_id"] == fx.acme.user_id.as_str()));
    assert!(
        !list.iter().any(|k| k.to_string().contains(&first[14..])),
        "no secret in the list"
    );
    // Revoke one: at once inactive at introspection.
    let id = list
        .iter()
        .find(|k| first.starts_with(k["prefix"].as_str().unwrap()))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, k) = api(
        &app,
        &admin,
        "POST",
        &format!("/tenants/acme/user-keys/{id}/revoke"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{k}");
    assert_eq!(k["status"], "revoked");
    assert_eq!(introspect(&app, &fx.rs, &first).await["active"], false);
    assert_eq!(introspect(&app, &fx.rs, &second).await["active"], true);
    let (s, _) = api(
        &app,
        &admin,
        "POST",
        "/tenants/acme/user-keys/unknown/revoke",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Another tenant's admin neither sees nor revokes them.
    let other = add_tenant(&fx.store, &fx.clock, "globex", "globex.test", "bob").await;
    let other_admin =
        world::api_key(&fx.store, &fx.clock, Scope::TenantAdmin(other.id.clone())).await;
    let (s, v) = api(&app, &other_admin, "GET", "/tenants/globex/user-keys", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!([]));
    let (s, _) = api(
        &app,
        &other_admin,
        "POST",
        &format!("/tenants/globex/user-keys/{id}/revoke"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api(&app, &other_admin, "GET", "/tenants/acme/user-keys", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Turning keys off revokes every key, audited per key.
    let (s, _) = api(
        &app,
        &admin,
        "PUT",
        "/tenants/acme/settings",
        Some(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(introspect(&app, &fx.rs, &second).await["active"], false);
    let revoked = audited(&fx, "api_key.revoked").await;
    assert_eq!(revoked.len(), 2);
    assert!(
        revoked[1].details.contains("api_keys_disabled"),
        "{}",
        revoked[1].details
    );
    let (_, list) = api(&app, &admin, "GET", "/tenants/acme/user-keys", None).await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["status"] == "revoked"));
}
