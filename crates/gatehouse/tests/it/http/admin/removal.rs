//! Connections and tenants on the admin API (issue 16 §2): show, change, remove with its
//! preview; removal really revokes (introspection answers inactive) and another tenant's id is
//! not found. SQLite, or PostgreSQL with GATEHOUSE_TEST_DATABASE_URL.
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use authz_core::api_key::Scope;
use authz_core::testkit::world::{self, World, READ};
use serde_json::{json, Value};

async fn call<S, B>(
    app: &S,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = test::TestRequest::default()
        .method(actix_web::http::Method::from_bytes(method.as_bytes()).unwrap())
        .uri(&format!("{}{path}", admin_api::BASE))
        .insert_header(("authorization", format!("Bearer {key}")));
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
    if status >= 400 {
        assert!(ct.starts_with("application/problem+json"), "{status} {ct}");
    }
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn saml_metadata() -> String {
    let p = format!(
        "{}/../saml/tests/fixtures/idp-metadata.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

#[actix_web::test]
async fn a_connection_is_shown_changed_and_removed_and_its_people_lose_access() {
    let w = World::new().await;
    let acme = w.tenant("acme", "acme.test", &[READ]).await;
    let beta = w.tenant("beta", "beta.test", &[READ]).await;
    let tokens = w.tokens(&acme, &[READ]).await;
    let beta_tokens = w.tokens(&beta, &[READ]).await;
    let admin = world::api_key(&w.store, &w.clock, Scope::TenantAdmin(acme.id().clone())).await;
    let beta_admin =
        world::api_key(&w.store, &w.clock, Scope::TenantAdmin(beta.id().clone())).await;
    let app = crate::http::world::Node::new(&w.store, &w.clock, world::ISSUER)
        .app()
        .await;
    let id = acme.connection.id.clone();
    let one = format!("/tenants/acme/connections/{id}");

    let (s, c) = call(&app, "GET", &one, &admin, None).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["id"], id.as_str());
    assert_eq!(c["name"], "OIDC");
    assert!(c.get("client_secret").is_none(), "{c}");
    // Another tenant's connection is not found, whoever asks.
    let (s, _) = call(
        &app,
        "GET",
        &format!("/tenants/beta/connections/{id}"),
        &beta_admin,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = call(
        &app,
        "DELETE",
        &format!("/tenants/beta/connections/{id}"),
        &beta_admin,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = call(&app, "GET", &one, &beta_admin, None).await;
    assert_eq!(s, 403);

    // Bad changes are refused with problem+json, nothing changed.
    for bad in [
        json!({"colour": "blue"}),
        json!({}),
        json!({"name": ""}),
        json!({"enabled": "yes"}),
    ] {
        let (s, p) = call(&app, "PATCH", &one, &admin, Some(bad.clone())).await;
        assert_eq!(s, 400, "{bad}: {p}");
    }
    let (s, c) = call(
        &app,
        "PATCH",
        &one,
        &admin,
        Some(json!({"name": "Okta prod", "client_secret": "rotated"})),
    )
    .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["name"], "Okta prod");
    assert!(
        !c.to_string().contains("rotated"),
        "the secret is never echoed: {c}"
    );

    // The preview says what the removal ends, and ends nothing.
    let (s, preview) = call(&app, "DELETE", &format!("{one}?dry_run=true"), &admin, None).await;
    assert_eq!(s, 200, "{preview}");
    assert_eq!(preview["removed"]["id"], id.as_str());
    assert_eq!(preview["revoked"]["grants"], 1, "{preview}");
    assert_eq!(preview["revoked"]["sessions"], 1, "{preview}");
    assert_eq!(preview["revoked"]["users"], 1, "{preview}");
    assert!(w.active(&tokens.access_token).await);
    let (s, _) = call(&app, "GET", &one, &admin, None).await;
    assert_eq!(s, 200);
    let (s, p) = call(
        &app,
        "DELETE",
        &format!("{one}?dry_run=maybe"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 400, "{p}");

    // The removal ends exactly that, at once.
    let (s, r) = call(&app, "DELETE", &one, &admin, None).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["revoked"], preview["revoked"],
        "the preview said what the removal did"
    );
    assert_eq!(r["revoked"]["grants"], 1);
    assert!(
        !w.active(&tokens.access_token).await,
        "the token is revoked"
    );
    assert!(
        w.active(&beta_tokens.access_token).await,
        "another tenant's is not"
    );
    let (s, _) = call(&app, "GET", &one, &admin, None).await;
    assert_eq!(s, 404);
    let (s, _) = call(&app, "DELETE", &one, &admin, None).await;
    assert_eq!(s, 404);
    let (s, list) = call(&app, "GET", "/tenants/acme/connections", &admin, None).await;
    assert_eq!(s, 200);
    assert!(!list.to_string().contains(&id), "{list}");
    let rows = w.audit_rows(acme.id().as_str()).await;
    assert!(rows.iter().any(|r| r.action == "connection.removed"));
}

#[actix_web::test]
async fn a_connection_is_added_through_the_api_with_the_consoles_checks() {
    let w = World::new().await;
    let acme = w.tenant("acme", "acme.test", &[]).await;
    let admin = world::api_key(&w.store, &w.clock, Scope::TenantAdmin(acme.id().clone())).await;
    let app = crate::http::world::Node::new(&w.store, &w.clock, world::ISSUER)
        .app()
        .await;
    let path = "/tenants/acme/connections";
    let (s, c) = call(
        &app,
        "POST",
        path,
        &admin,
        Some(json!({"kind": "saml", "name": "Corp SAML", "metadata_xml": saml_metadata()})),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(c["kind"], "saml");
    assert_eq!(c["name"], "Corp SAML");
    let refused = [
        json!({"kind": "ldap"}),
        json!({"kind": "saml"}),
        json!({"kind": "saml", "metadata_xml": "<not-metadata/>"}),
        json!({"kind": "oidc", "issuer": "https://idp.example.test"}),
        json!({"kind": "oidc", "issuer": "http://idp.example.test", "client_id": "a", "client_secret": "s3cret-value"}),
        json!({"kind": "oidc", "preset": "nope", "client_id": "a", "client_secret": "s"}),
        json!({"kind": "oidc", "surprise": true}),
    ];
    for body in refused {
        let (s, p) = call(&app, "POST", path, &admin, Some(body.clone())).await;
        assert_eq!(s, 400, "{body}: {p}");
        assert!(!p.to_string().contains("s3cret-value"), "{p}");
    }
    let (s, list) = call(&app, "GET", path, &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
}

#[actix_web::test]
async fn a_tenant_is_shown_changed_and_removed_by_the_operator_only() {
    let w = World::new().await;
    let acme = w.tenant("acme", "acme.test", &[READ]).await;
    let beta = w.tenant("beta", "beta.test", &[READ]).await;
    let tokens = w.tokens(&acme, &[READ]).await;
    let beta_tokens = w.tokens(&beta, &[READ]).await;
    let op = world::api_key(&w.store, &w.clock, Scope::Operator).await;
    let admin = world::api_key(&w.store, &w.clock, Scope::TenantAdmin(acme.id().clone())).await;
    let app = crate::http::world::Node::new(&w.store, &w.clock, world::ISSUER)
        .app()
        .await;

    let (s, t) = call(&app, "GET", "/tenants/acme", &op, None).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["slug"], "acme");
    assert_eq!(t["domains"], json!(["acme.test"]));
    assert_eq!(t["provisioning"], "jit");
    for m in ["GET", "PATCH", "DELETE"] {
        let (s, _) = call(&app, m, "/tenants/acme", &admin, Some(json!({"name": "x"}))).await;
        assert_eq!(s, 403, "{m}: a tenant admin is not the operator");
    }
    let (s, _) = call(&app, "GET", "/tenants/nope", &op, None).await;
    assert_eq!(s, 404);

    for bad in [
        json!({"provisioning": "ldap"}),
        json!({"colour": 1}),
        json!({}),
        json!({"name": " "}),
    ] {
        let (s, p) = call(&app, "PATCH", "/tenants/acme", &op, Some(bad.clone())).await;
        assert_eq!(s, 400, "{bad}: {p}");
    }
    let change =
        json!({"name": "Acme Corp", "provisioning": "scim", "alert_recipients": ["sec@acme.test"]});
    let (s, t) = call(&app, "PATCH", "/tenants/acme", &op, Some(change)).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["name"], "Acme Corp");
    assert_eq!(t["provisioning"], "scim");
    assert_eq!(t["alert_recipients"], json!(["sec@acme.test"]));

    let (s, p) = call(&app, "DELETE", "/tenants/acme?dry_run=true", &op, None).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["revoked"]["grants"], 1, "{p}");
    assert_eq!(p["revoked"]["sessions"], 1, "{p}");
    assert!(
        p["revoked"]["credentials"].as_u64().unwrap() >= 1,
        "the admin key: {p}"
    );
    assert!(w.active(&tokens.access_token).await);

    let (s, r) = call(&app, "DELETE", "/tenants/acme", &op, None).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["revoked"], p["revoked"],
        "the preview said what the removal did"
    );
    assert!(
        !w.active(&tokens.access_token).await,
        "the tenant's tokens are revoked"
    );
    assert!(
        w.active(&beta_tokens.access_token).await,
        "another tenant's are not"
    );
    let (s, _) = call(&app, "GET", "/tenants/acme/users", &admin, None).await;
    assert_eq!(s, 401, "the tenant's admin key stops working");
    let (s, _) = call(&app, "GET", "/tenants/acme", &op, None).await;
    assert_eq!(s, 404);
    let (s, list) = call(&app, "GET", "/tenants", &op, None).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    // The slug and the domain are free again.
    let again = json!({"slug": "acme", "name": "Acme again", "domains": ["acme.test"]});
    let (s, t) = call(&app, "POST", "/tenants", &op, Some(again)).await;
    assert_eq!(s, 201, "{t}");
    let rows = w.audit_rows(acme.id().as_str()).await;
    assert!(
        rows.iter().any(|r| r.action == "tenant.removed"),
        "the audit log is kept"
    );
}

#[actix_web::test]
async fn a_client_is_shown_renamed_and_removed_with_its_tokens_in_every_tenant() {
    let w = World::new().await;
    let acme = w.tenant("acme", "acme.test", &[READ]).await;
    let beta = w.tenant("beta", "beta.test", &[READ]).await;
    let tokens = w.tokens(&acme, &[READ]).await;
    let beta_tokens = w.tokens(&beta, &[READ]).await;
    let op = world::api_key(&w.store, &w.clock, Scope::Operator).await;
    let admin = world::api_key(&w.store, &w.clock, Scope::TenantAdmin(acme.id().clone())).await;
    let app = crate::http::world::Node::new(&w.store, &w.clock, world::ISSUER)
        .app()
        .await;
    let one = format!("/clients/{}", w.client.client_id);

    let (s, c) = call(&app, "GET", &one, &op, None).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["kind"], "preregistered");
    let (s, _) = call(&app, "GET", &one, &admin, None).await;
    assert_eq!(s, 403, "a tenant admin is not the operator");
    let (s, _) = call(&app, "GET", "/clients/pre_nope", &op, None).await;
    assert_eq!(s, 404);
    for bad in [
        json!({}),
        json!({"client_name": ""}),
        json!({"redirect_uris": []}),
    ] {
        let (s, p) = call(&app, "PATCH", &one, &op, Some(bad.clone())).await;
        assert_eq!(s, 400, "{bad}: {p}");
    }
    let (s, c) = call(
        &app,
        "PATCH",
        &one,
        &op,
        Some(json!({"client_name": "Claude Desktop"})),
    )
    .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["client_name"], "Claude Desktop");

    let (s, preview) = call(&app, "DELETE", &format!("{one}?dry_run=true"), &op, None).await;
    assert_eq!(s, 200, "{preview}");
    assert_eq!(
        preview["revoked"]["grants"], 2,
        "one in each tenant: {preview}"
    );
    assert!(w.active(&tokens.access_token).await);
    let (s, r) = call(&app, "DELETE", &one, &op, None).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["revoked"], preview["revoked"]);
    assert!(!w.active(&tokens.access_token).await);
    assert!(!w.active(&beta_tokens.access_token).await);
    let (s, _) = call(&app, "GET", &one, &op, None).await;
    assert_eq!(s, 404);
}

#[actix_web::test]
async fn a_resource_is_shown_renamed_and_removed_with_every_grant_for_it() {
    let w = World::new().await;
    let acme = w.tenant("acme", "acme.test", &[READ]).await;
    let tokens = w.tokens(&acme, &[READ]).await;
    let op = world::api_key(&w.store, &w.clock, Scope::Operator).await;
    let admin = world::api_key(&w.store, &w.clock, Scope::TenantAdmin(acme.id().clone())).await;
    let app = crate::http::world::Node::new(&w.store, &w.clock, world::ISSUER)
        .app()
        .await;
    let one = format!("/resources/{}", w.resource.id);

    let (s, r) = call(&app, "GET", &one, &op, None).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["uri"], world::RESOURCE_URI);
    assert!(
        r["scopes"].as_array().unwrap().contains(&json!(READ)),
        "{r}"
    );
    let (s, _) = call(&app, "GET", &one, &admin, None).await;
    assert_eq!(s, 403);
    let (s, _) = call(&app, "GET", "/resources/nope", &op, None).await;
    assert_eq!(s, 404);
    for bad in [json!({}), json!({"display_name": ""}), json!({"uri": "x"})] {
        let (s, p) = call(&app, "PATCH", &one, &op, Some(bad.clone())).await;
        assert_eq!(s, 400, "{bad}: {p}");
    }
    let (s, r) = call(
        &app,
        "PATCH",
        &one,
        &op,
        Some(json!({"display_name": "CRM"})),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["display_name"], "CRM");

    let (s, preview) = call(&app, "DELETE", &format!("{one}?dry_run=true"), &op, None).await;
    assert_eq!(s, 200, "{preview}");
    assert_eq!(preview["revoked"]["grants"], 1, "{preview}");
    assert_eq!(
        preview["revoked"]["cascades"][0],
        json!(["org grants", 1]),
        "{preview}"
    );
    assert!(w.active(&tokens.access_token).await);
    let (s, r) = call(&app, "DELETE", &one, &op, None).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["revoked"], preview["revoked"]);
    assert!(
        !w.active(&tokens.access_token).await,
        "its tokens are revoked"
    );
    let (s, _) = call(&app, "GET", &one, &op, None).await;
    assert_eq!(s, 404);
    let (s, grants) = call(&app, "GET", "/tenants/acme/grants", &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(grants, json!([]), "its org grants are gone");
}

#[actix_web::test]
async fn operator_keys_are_listed_renamed_and_removed_by_the_operator_only() {
    let w = World::new().await;
    let acme = w.tenant("acme", "acme.test", &[]).await;
    let op = world::api_key(&w.store, &w.clock, Scope::Operator).await;
    let (spare, spare_secret) =
        authz_core::api_key::create(&w.store, &w.clock, Scope::Operator, "spare", 3600)
            .await
            .unwrap();
    let admin = world::api_key(&w.store, &w.clock, Scope::TenantAdmin(acme.id().clone())).await;
    let app = crate::http::world::Node::new(&w.store, &w.clock, world::ISSUER)
        .app()
        .await;
    let (s, list) = call(&app, "GET", "/operator-keys", &op, None).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert!(!list.to_string().contains("ghop_"), "no secret: {list}");
    let (s, _) = call(&app, "GET", "/operator-keys", &admin, None).await;
    assert_eq!(s, 403);
    let one = format!("/operator-keys/{}", spare.id);
    let (s, k) = call(&app, "GET", &one, &op, None).await;
    assert_eq!((s, k["status"].as_str()), (200, Some("active")), "{k}");
    // A tenant admin key is not an operator key.
    let admin_id = authz_core::api_key::list(&w.store.db, Some(acme.id()))
        .await
        .unwrap()[0]
        .id
        .clone();
    let (s, _) = call(
        &app,
        "GET",
        &format!("/operator-keys/{admin_id}"),
        &op,
        None,
    )
    .await;
    assert_eq!(s, 404);
    for bad in [json!({}), json!({"name": ""}), json!({"scope": "x"})] {
        let (s, p) = call(&app, "PATCH", &one, &op, Some(bad.clone())).await;
        assert_eq!(s, 400, "{bad}: {p}");
    }
    let (s, k) = call(&app, "PATCH", &one, &op, Some(json!({"name": "ci"}))).await;
    assert_eq!((s, k["name"].as_str()), (200, Some("ci")), "{k}");
    let (s, p) = call(&app, "DELETE", &format!("{one}?dry_run=true"), &op, None).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["revoked"]["credentials"], 1);
    let (s, _) = call(&app, "GET", "/operator-keys", &spare_secret, None).await;
    assert_eq!(s, 200, "the preview revoked nothing");
    let (s, r) = call(&app, "DELETE", &one, &op, None).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["revoked"], p["revoked"]);
    let (s, _) = call(&app, "GET", "/operator-keys", &spare_secret, None).await;
    assert_eq!(s, 401, "the removed key stops working at once");
}
