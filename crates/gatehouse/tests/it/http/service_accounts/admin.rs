//! The tenant admin API for service accounts: create (the secret once), list, show, rotate,
//! change scopes (critical refused as problem+json), disable, enable, remove, each audited; a
//! tenant admin of another tenant sees nothing.
use actix_web::test;
use authz_core::api_key::Scope;
use authz_core::testkit::world as tw;
use serde_json::{json, Value};

use super::fixture::*;
use crate::http::world::Node;

async fn call<S, B>(
    app: &S,
    method: &str,
    path: &str,
    key: &str,
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
        .method(method.parse().unwrap())
        .uri(path)
        .insert_header(("authorization", format!("Bearer {key}")));
    if let Some(b) = body {
        req = req
            .insert_header(("content-type", "application/json"))
            .set_payload(b.to_string());
    }
    let r = test::call_service(app, req.to_request()).await;
    let status = r.status().as_u16();
    let bytes = test::read_body(r).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

const BASE: &str = "/admin/api/v1/tenants/acme/service-accounts";

#[actix_web::test]
async fn a_tenant_admin_manages_service_accounts_through_the_api() {
    let fx = fixture().await;
    let key = tw::api_key(
        &fx.w.store,
        &fx.w.clock,
        Scope::TenantAdmin(fx.t.id().clone()),
    )
    .await;
    let app = Node::new(&fx.w.store, &fx.w.clock, ISSUER).app().await;
    let (s, body) = call(&app, "POST", BASE, &key, Some(json!({
        "name": "reporter", "grants": [{"resource": RESOURCE_URI, "scopes": [READ, tw::SETTINGS]}]
    }))).await;
    assert_eq!(s, 400, "a critical scope: {body}");
    assert!(
        body["detail"].as_str().unwrap().contains("critical"),
        "{body}"
    );
    let (s, body) = call(
        &app,
        "POST",
        BASE,
        &key,
        Some(json!({
            "name": "reporter", "grants": [{"resource": RESOURCE_URI, "scopes": [READ]}]
        })),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let client_id = body["client_id"].as_str().unwrap().to_string();
    let secret = body["client_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("ghsvc_"));
    let (s, _) = call(
        &app,
        "POST",
        BASE,
        &key,
        Some(json!({
            "name": "reporter", "grants": [{"resource": RESOURCE_URI, "scopes": [READ]}]
        })),
    )
    .await;
    assert_eq!(s, 409, "names are unique in the tenant");
    let (s, list) = call(&app, "GET", BASE, &key, None).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("client_secret").is_none(), "never listed");
    let (s, tok) = token(
        &app,
        Some(&basic(&client_id, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 200, "{tok}");
    let (s, rotated) = call(
        &app,
        "POST",
        &format!("{BASE}/{id}/rotate-secret"),
        &key,
        Some(json!({"overlap_secs": 0})),
    )
    .await;
    assert_eq!(s, 200, "{rotated}");
    let (s, _) = token(
        &app,
        Some(&basic(&client_id, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 401, "no overlap: the old secret stops at once");
    let (s, body) = call(&app, "POST", &format!("{BASE}/{id}/disable"), &key, None).await;
    assert_eq!(
        (
            s,
            body["enabled"].as_bool(),
            body["tokens_revoked"].as_u64()
        ),
        (200, Some(false), Some(1)),
        "{body}"
    );
    assert!(!fx.w.active(tok["access_token"].as_str().unwrap()).await);
    let new_secret = rotated["client_secret"].as_str().unwrap();
    let (s, _) = token(
        &app,
        Some(&basic(&client_id, new_secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 401, "a disabled account gets no token");
    let (s, _) = call(&app, "POST", &format!("{BASE}/{id}/enable"), &key, None).await;
    assert_eq!(s, 200);
    let (s, body) = call(
        &app,
        "PUT",
        &format!("{BASE}/{id}/grants"),
        &key,
        Some(json!({
            "grants": [{"resource": OTHER_RESOURCE_URI, "scopes": ["wiki:read"]}]
        })),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = call(&app, "GET", &format!("{BASE}/{client_id}"), &key, None).await;
    assert_eq!(
        (s, body["grants"].as_object().unwrap().len()),
        (200, 1),
        "{body}"
    );
    // Another tenant's admin cannot see or touch it.
    let beta = fx.w.tenant("beta", "beta.example", &[READ]).await;
    let other = tw::api_key(
        &fx.w.store,
        &fx.w.clock,
        Scope::TenantAdmin(beta.id().clone()),
    )
    .await;
    let (s, _) = call(&app, "GET", &format!("{BASE}/{id}"), &other, None).await;
    assert_eq!(s, 403);
    let (s, _) = call(
        &app,
        "GET",
        &format!("/admin/api/v1/tenants/beta/service-accounts/{id}"),
        &other,
        None,
    )
    .await;
    assert_eq!(s, 404);
    // A preview says what the removal ends and changes nothing; the removal then ends it.
    let (s, body) = call(
        &app,
        "DELETE",
        &format!("{BASE}/{id}?dry_run=true"),
        &key,
        None,
    )
    .await;
    assert_eq!(
        (s, &body["revoked"]["credentials"]),
        (200, &json!(1)),
        "{body}"
    );
    let (s, _) = call(&app, "GET", &format!("{BASE}/{id}"), &key, None).await;
    assert_eq!(s, 200, "a preview removes nothing");
    let (s, body) = call(&app, "DELETE", &format!("{BASE}/{id}"), &key, None).await;
    assert_eq!((s, &body["removed"]["id"]), (200, &json!(id)), "{body}");
    let (s, _) = call(&app, "GET", &format!("{BASE}/{id}"), &key, None).await;
    assert_eq!(s, 404);
    for action in [
        "service_account.created",
        "service_account.secret_rotated",
        "service_account.disabled",
        "service_account.updated",
        "service_account.removed",
    ] {
        assert!(!fx.audit(action).await.is_empty(), "{action} is audited");
    }
}

/// `PATCH` changes the name, scopes and state in one step (disabling revokes the tokens), and
/// `DELETE` says how many token grants it ends, previews that without removing, and ends them.
#[actix_web::test]
async fn a_service_account_is_updated_and_removed_with_what_it_revokes() {
    let fx = fixture().await;
    let key = tw::api_key(
        &fx.w.store,
        &fx.w.clock,
        Scope::TenantAdmin(fx.t.id().clone()),
    )
    .await;
    let app = Node::new(&fx.w.store, &fx.w.clock, ISSUER).app().await;
    let grants = json!([{"resource": RESOURCE_URI, "scopes": [READ]}]);
    let (s, body) = call(
        &app,
        "POST",
        BASE,
        &key,
        Some(json!({"name": "bot", "grants": grants})),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let basic_auth = basic(
        body["client_id"].as_str().unwrap(),
        body["client_secret"].as_str().unwrap(),
    );
    let cc = [("grant_type", "client_credentials")];
    let url = format!("{BASE}/{id}");
    for bad in [
        json!({"colour": "red"}),
        json!({"name": ""}),
        json!({"enabled": "no"}),
    ] {
        let (s, body) = call(&app, "PATCH", &url, &key, Some(bad.clone())).await;
        assert_eq!(s, 400, "{bad}: {body}");
    }
    let (s, tok) = token(&app, Some(&basic_auth), &cc).await;
    assert_eq!(s, 200, "{tok}");
    let (s, body) = call(
        &app,
        "PATCH",
        &url,
        &key,
        Some(json!({"name": "nightly bot", "enabled": false})),
    )
    .await;
    assert_eq!(
        (s, &body["name"], &body["enabled"], &body["tokens_revoked"]),
        (200, &json!("nightly bot"), &json!(false), &json!(1)),
        "{body}"
    );
    assert!(!fx.w.active(tok["access_token"].as_str().unwrap()).await);
    let (s, _) = call(&app, "PATCH", &url, &key, Some(json!({"enabled": true}))).await;
    assert_eq!(s, 200);
    let (s, tok) = token(&app, Some(&basic_auth), &cc).await;
    assert_eq!(s, 200, "{tok}");
    let access = tok["access_token"].as_str().unwrap();
    let (s, body) = call(&app, "DELETE", &format!("{url}?dry_run=true"), &key, None).await;
    assert_eq!((s, &body["revoked"]["grants"]), (200, &json!(1)), "{body}");
    assert!(fx.w.active(access).await, "a preview revokes nothing");
    let (s, body) = call(&app, "DELETE", &format!("{url}?dry_run=maybe"), &key, None).await;
    assert_eq!(s, 400, "{body}");
    let (s, body) = call(&app, "DELETE", &url, &key, None).await;
    assert_eq!(
        (s, &body["removed"]["name"], &body["revoked"]["grants"]),
        (200, &json!("nightly bot"), &json!(1)),
        "{body}"
    );
    assert!(!fx.w.active(access).await, "removal revokes at once");
    let (s, _) = token(&app, Some(&basic_auth), &cc).await;
    assert_eq!(s, 401);
}
