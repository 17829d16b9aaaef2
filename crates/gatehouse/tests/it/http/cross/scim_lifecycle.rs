//! What SCIM changes do to access (DESIGN §6.4, issue "SCIM"): deactivation and deletion cut a
//! signed-in user off at once; group loss revokes the tokens carrying scopes the user no
//! longer has (and only those); SSO never re-creates or re-activates a user the directory
//! removed; the `scim` provisioning policy admits only provisioned users. Issuer and SCIM run
//! in one app over one store (SQLite, or PostgreSQL with GATEHOUSE_TEST_DATABASE_URL).
use crate::http::issuer::common;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test;
use authz_core::connection::{self, Connection};
use authz_core::directory::{admission, Provisioning};
use authz_core::user::FederatedIdentity;
use authz_core::{consent, grant, resource, scim_token};
use common::*;
use serde_json::{json, Value};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct World {
    fx: Fx,
    scim_token: String,
    conn: Connection,
    client: String,
}

async fn world() -> World {
    let fx = fixture().await;
    let (_, scim_token) = scim_token::create(&fx.store, &fx.clock, &fx.acme.id, "idp", 86_400)
        .await
        .unwrap();
    let conn = connection::list(&fx.store.db, &fx.acme.id)
        .await
        .unwrap()
        .remove(0);
    World {
        fx,
        scim_token,
        conn,
        client: String::new(),
    }
}

macro_rules! app {
    ($w:expr) => {
        crate::http::world::Node::with_issuer($w.fx.state.clone())
            .scim(scim::ScimState::new(
                $w.fx.store.clone(),
                Arc::new($w.fx.clock.clone()),
                ISSUER,
            ))
            .app()
            .await
    };
}

async fn scim<S, B>(
    app: &S,
    w: &World,
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
        .uri(&format!("/scim/v2/acme{path}"))
        .insert_header(("authorization", format!("Bearer {}", w.scim_token)));
    if let Some(b) = body {
        req = req
            .insert_header(("content-type", "application/scim+json"))
            .set_payload(b.to_string());
    }
    let r = test::call_service(app, req.to_request()).await;
    let s = r.status().as_u16();
    let bytes = test::read_body(r).await;
    (s, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn provision<S, B>(app: &S, w: &World, user_name: &str, external_id: &str) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let (s, u) = scim(
        app,
        w,
        "POST",
        "/Users",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name, "externalId": external_id, "active": true
        })),
    )
    .await;
    assert_eq!(s, 201, "{u}");
    u["id"].as_str().unwrap().to_string()
}

fn set_active(active: bool) -> Option<Value> {
    Some(
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": if active { "True" } else { "False" }}]}),
    )
}

/// An SSO sign-in of `subject` through the tenant's connection, under its policy.
async fn sign_in(w: &World, subject: &str) -> Result<String, String> {
    admission::admit(
        &w.fx.store.db,
        &w.fx.clock,
        &w.fx.acme.id,
        &w.conn,
        &FederatedIdentity {
            connection_id: w.conn.id.clone(),
            subject: subject.into(),
            ..Default::default()
        },
    )
    .await
    .map(|(u, _)| u.id)
    .map_err(|e| e.to_string())
}

/// Authorization code + PKCE with alice's session; returns the token response.
async fn tokens<S, B>(app: &S, w: &World, scope: &str) -> Value
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let code = code_for(app, &w.fx, &w.client, REDIRECT, scope).await;
    let (s, t) = token(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
            ("client_id", &w.client),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    t
}

async fn active<S, B>(app: &S, w: &World, token: &str) -> bool
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let (s, r) = post_form(
        app,
        "/oauth/introspect",
        &[("token", token)],
        Some((&w.fx.rs.0, &w.fx.rs.1)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    r["active"].as_bool().unwrap()
}

async fn refresh<S, B>(app: &S, w: &World, rt: &str) -> (StatusCode, Value)
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    token(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", &w.client),
        ],
    )
    .await
}

#[actix_web::test]
async fn deactivation_cuts_off_a_signed_in_user_at_once_and_reactivation_restores_nothing() {
    let mut w = world().await;
    let app = app!(w);
    let (_, c) = dcr(&app, json!([REDIRECT])).await;
    w.client = c["client_id"].as_str().unwrap().to_string();
    // Alice signed in (JIT) before the IdP provisioned her (externalId = the OIDC subject):
    // the SCIM creation links her existing identity, with no further sign-in.
    assert_eq!(sign_in(&w, "alice").await.unwrap(), w.fx.acme.user_id);
    let scim_id = provision(&app, &w, "alice@acme.test", "alice").await;
    let t = tokens(&app, &w, "crm:customers:read").await;
    let (at, rt) = (
        t["access_token"].as_str().unwrap(),
        t["refresh_token"].as_str().unwrap(),
    );
    assert!(active(&app, &w, at).await);

    let (s, u) = scim(
        &app,
        &w,
        "PATCH",
        &format!("/Users/{scim_id}"),
        set_active(false),
    )
    .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["active"], false);
    // The very next introspection, refresh and sign-in.
    assert!(!active(&app, &w, at).await, "access token inactive at once");
    let (s, e) = refresh(&app, &w, rt).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"], "invalid_grant");
    let refused = sign_in(&w, "alice").await.unwrap_err();
    assert!(refused.contains("deactivated"), "{refused}");
    assert!(
        consent::list_for_user(&w.fx.store.db, &w.fx.acme.id, &w.fx.acme.user_id)
            .await
            .unwrap()
            .is_empty()
    );
    // SSO did not re-activate the SCIM user.
    let (_, u) = scim(&app, &w, "GET", &format!("/Users/{scim_id}"), None).await;
    assert_eq!(u["active"], false);

    // Reactivation allows sign-in again, and nothing more.
    let (s, _) = scim(
        &app,
        &w,
        "PATCH",
        &format!("/Users/{scim_id}"),
        set_active(true),
    )
    .await;
    assert_eq!(s, 200);
    assert!(sign_in(&w, "alice").await.is_ok());
    assert!(!active(&app, &w, at).await);
    assert_eq!(refresh(&app, &w, rt).await.0, StatusCode::BAD_REQUEST);
    assert!(
        consent::list_for_user(&w.fx.store.db, &w.fx.acme.id, &w.fx.acme.user_id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[actix_web::test]
async fn losing_a_group_revokes_the_tokens_carrying_its_scopes_and_only_those() {
    let mut w = world().await;
    let app = app!(w);
    let (_, c) = dcr(&app, json!([REDIRECT])).await;
    w.client = c["client_id"].as_str().unwrap().to_string();
    let alice = provision(&app, &w, "alice@acme.test", "alice").await;
    sign_in(&w, "alice").await.unwrap();
    let (s, g) = scim(
        &app,
        &w,
        "POST",
        "/Groups",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Exporters",
            "members": [{"value": alice}]
        })),
    )
    .await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    let res = resource::find_by_uri(&w.fx.store.db, RES)
        .await
        .unwrap()
        .unwrap();
    // The sensitive delete scope goes to the group only.
    grant::add(
        &w.fx.store,
        &w.fx.clock,
        &w.fx.acme.id,
        &res,
        &["crm:customers:delete".to_string()],
        Some(&gid),
        false,
        "admin",
    )
    .await
    .unwrap();

    let with = tokens(&app, &w, "crm:customers:read crm:customers:delete").await;
    assert_eq!(with["scope"], "crm:customers:read crm:customers:delete");
    let without = tokens(&app, &w, "crm:customers:read").await;
    // A refresh keeps the scope the group grants (on PostgreSQL the one-statement refresh reads
    // the group's grant with the token: `token::refresh_reads`).
    let other = tokens(&app, &w, "crm:customers:read crm:customers:delete").await;
    let (s, t) = refresh(&app, &w, other["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["scope"], "crm:customers:read crm:customers:delete");
    let with_at = with["access_token"].as_str().unwrap();
    let without_at = without["access_token"].as_str().unwrap();

    // Entra's member removal.
    let (s, _) = scim(
        &app,
        &w,
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "Remove", "path": "members", "value": [{"value": alice}]}]})),
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        !active(&app, &w, with_at).await,
        "no token of hers still carries the group's scope"
    );
    let (s, e) = refresh(&app, &w, with["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // Rule: a token family holding only still-granted scopes survives.
    assert!(active(&app, &w, without_at).await);
    let (s, t) = refresh(&app, &w, without["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    // And the scope is no longer granted to her: a new request does not get it.
    let again = tokens(&app, &w, "crm:customers:read crm:customers:delete").await;
    assert_eq!(again["scope"], "crm:customers:read");

    // Back in the group, then the group is deleted: same effect, and its grant goes with it.
    scim(
        &app,
        &w,
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": alice}]}]})),
    )
    .await;
    let with = tokens(&app, &w, "crm:customers:read crm:customers:delete").await;
    assert_eq!(with["scope"], "crm:customers:read crm:customers:delete");
    let (s, _) = scim(&app, &w, "DELETE", &format!("/Groups/{gid}"), None).await;
    assert_eq!(s, 204);
    assert!(!active(&app, &w, with["access_token"].as_str().unwrap()).await);
    let granted =
        grant::granted_to_user(&w.fx.store.db, &w.fx.acme.id, &res.id, &w.fx.acme.user_id)
            .await
            .unwrap();
    assert!(!granted.contains(&"crm:customers:delete".to_string()));
}

#[actix_web::test]
async fn a_hard_delete_leaves_a_tombstone_so_jit_sign_in_does_not_recreate_the_user() {
    let w = world().await;
    let app = app!(w);
    assert_eq!(
        authz_core::directory::policy::get(&w.fx.store.db, &w.fx.acme.id)
            .await
            .unwrap(),
        Provisioning::Jit
    );
    let bob = provision(&app, &w, "bob@acme.test", "BOB-ID").await;
    let bob_user = sign_in(&w, "bob-id")
        .await
        .expect("linked, case-insensitively");
    let (s, _) = scim(&app, &w, "DELETE", &format!("/Users/{bob}"), None).await;
    assert_eq!(s, 204);
    let refused = sign_in(&w, "bob-id").await.unwrap_err();
    assert!(refused.contains("removed"), "{refused}");
    let u = authz_core::user::get(&w.fx.store.db, &w.fx.acme.id, &bob_user)
        .await
        .unwrap();
    assert!(
        !u.active && u.email.is_none(),
        "the identity is a scrubbed tombstone"
    );
    // Deleted before ever signing in: refused by its externalId alone.
    let carol = provision(&app, &w, "carol@acme.test", "carol-id").await;
    scim(&app, &w, "DELETE", &format!("/Users/{carol}"), None).await;
    assert!(sign_in(&w, "carol-id")
        .await
        .unwrap_err()
        .contains("removed"));
    // The IdP provisions bob again: the same identity signs in again.
    provision(&app, &w, "bob@acme.test", "bob-id").await;
    assert_eq!(sign_in(&w, "bob-id").await.unwrap(), bob_user);
}

#[actix_web::test]
async fn scim_policy_admits_only_provisioned_active_users() {
    let w = world().await;
    let app = app!(w);
    authz_core::directory::policy::set(
        &w.fx.store,
        &w.fx.clock,
        &w.fx.acme.id,
        Provisioning::Scim,
        "operator",
    )
    .await
    .unwrap();
    let refused = sign_in(&w, "dave").await.unwrap_err();
    assert!(refused.contains("not been provisioned"), "{refused}");
    let dave = provision(&app, &w, "dave@acme.test", "dave").await;
    assert!(sign_in(&w, "dave").await.is_ok());
    scim(
        &app,
        &w,
        "PATCH",
        &format!("/Users/{dave}"),
        set_active(false),
    )
    .await;
    assert!(sign_in(&w, "dave").await.is_err());
    // The same person through an identity whose link value the directory never named.
    assert!(sign_in(&w, "dave-other-account").await.is_err());
    // A connection may link on userName instead of externalId (never on email).
    connection::set_scim_link(
        &w.fx.store,
        &w.fx.clock,
        &w.fx.acme.id,
        &w.conn.id,
        "userName",
    )
    .await
    .unwrap();
    let mut w = w;
    w.conn = connection::get(&w.fx.store.db, &w.fx.acme.id, &w.conn.id)
        .await
        .unwrap();
    provision(&app, &w, "Erin.Upn@acme.test", "some-object-id").await;
    assert!(sign_in(&w, "erin.upn@acme.test").await.is_ok());
    assert!(
        sign_in(&w, "some-object-id").await.is_err(),
        "externalId no longer links"
    );
    assert!(connection::set_scim_link(
        &w.fx.store,
        &w.fx.clock,
        &w.fx.acme.id,
        &w.conn.id,
        "emails"
    )
    .await
    .is_err());
}

/// The admin group is named by identifier (SCIM `id` or `externalId`, or an exact IdP claim
/// value), never by display name: anyone who can create a group in the IdP can name it like the
/// admin group (DESIGN §7, issue 11 §4).
#[actix_web::test]
async fn a_group_named_like_the_admin_group_makes_nobody_an_admin() {
    use authz_core::admin::role::{self, AdminVia};
    let w = world().await;
    let app = app!(w);
    let mallory = provision(&app, &w, "mallory@acme.test", "mallory").await;
    let alice = provision(&app, &w, "alice@acme.test", "alice").await;
    let mallory_user = sign_in(&w, "mallory").await.unwrap();
    let alice_user = sign_in(&w, "alice").await.unwrap();
    // The real admin group, pushed with the IdP's own id as externalId; the tenant's admin
    // once configured it as "Gatehouse Admins" (its name in an IdP claim, say).
    let (s, admins) = scim(
        &app,
        &w,
        "POST",
        "/Groups",
        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Platform Admins",
            "externalId": "7f3c-admins-object-id", "members": [{"value": alice}]})),
    )
    .await;
    assert_eq!(s, 201, "{admins}");
    // A group created in the IdP by someone who may create groups, named like that value.
    let (s, fake) = scim(
        &app,
        &w,
        "POST",
        "/Groups",
        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Gatehouse Admins",
            "members": [{"value": mallory}]})),
    )
    .await;
    assert_eq!(s, 201, "{fake}");
    let fx = &w.fx;
    let set = |g: String| async move {
        role::set_admin_group(&fx.store, &fx.clock, &fx.acme.id, Some(&g), "operator").await
    };
    let via = |u: String| async move { role::admin_via(&fx.store.db, &fx.acme.id, &u, &[]).await };
    // Configured by display name: nobody is admin through SCIM.
    set("Gatehouse Admins".into()).await.unwrap();
    assert_eq!(via(alice_user.clone()).await.unwrap(), None);
    assert_eq!(via(mallory_user.clone()).await.unwrap(), None);
    // By the IdP's id (externalId) or Gatehouse's SCIM id: the real members only.
    set("7f3c-admins-object-id".into()).await.unwrap();
    assert_eq!(
        via(alice_user.clone()).await.unwrap(),
        Some(AdminVia::ScimGroup("7f3c-admins-object-id".into()))
    );
    assert_eq!(via(mallory_user.clone()).await.unwrap(), None);
    let id = admins["id"].as_str().unwrap();
    set(id.to_string()).await.unwrap();
    assert!(via(alice_user.clone()).await.unwrap().is_some());
    assert_eq!(via(mallory_user.clone()).await.unwrap(), None);
    // A claim value must match exactly.
    assert_eq!(
        role::admin_via(
            &w.fx.store.db,
            &w.fx.acme.id,
            &mallory_user,
            &[id.to_uppercase()]
        )
        .await
        .unwrap(),
        None
    );
}
