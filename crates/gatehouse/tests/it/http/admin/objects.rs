//! Show, change and remove through the admin API (issue 16 §2) for the objects a tenant admin
//! creates: org grants, SCIM tokens, admin keys, admins, invitations and domains. Every removal
//! answers what it revoked, a `dry_run` preview changes nothing, the revocation holds at once
//! (introspection, the SCIM token check, the API key itself), another tenant's id is 404 and a
//! bad change is a 400 problem.
use actix_web::test;
use authz_core::api_key::Scope;
use authz_core::testkit::world::{self as tw, World, DELETE, ISSUER, READ};
use authz_core::user::FederatedIdentity;
use serde_json::{json, Value};

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

async fn admin_key(w: &World, t: &tw::TenantFx) -> String {
    // A month: one test moves the clock past an invitation's week.
    let scope = Scope::TenantAdmin(t.id().clone());
    authz_core::api_key::create(&w.store, &w.clock, scope, "test", 30 * 86_400)
        .await
        .unwrap()
        .1
}

const ACME: &str = "/admin/api/v1/tenants/acme";

#[actix_web::test]
async fn narrowing_or_removing_an_org_grant_revokes_the_tokens_carrying_its_scopes() {
    let w = World::new().await;
    let acme = w.tenant("acme", "acme.test", &[READ, DELETE]).await;
    let key = admin_key(&w, &acme).await;
    let app = Node::new(&w.store, &w.clock, ISSUER).app().await;
    let (s, list) = call(&app, "GET", &format!("{ACME}/grants"), &key, None).await;
    assert_eq!(s, 200);
    let id = format!("{}~*", w.resource.id);
    let url = format!("{ACME}/grants/{id}");
    let (s, g) = call(&app, "GET", &url, &key, None).await;
    assert_eq!(
        (s, &g["scopes"]),
        (200, &json!([DELETE, READ])),
        "{g} {list}"
    );
    let (s, _) = call(&app, "GET", &format!("{ACME}/grants/nope"), &key, None).await;
    assert_eq!(s, 404);
    for bad in [
        json!({"scopes": []}),
        json!({"scopes": [READ], "colour": 1}),
        json!({"scopes": ["crm:nope"]}),
    ] {
        let (s, b) = call(&app, "PATCH", &url, &key, Some(bad.clone())).await;
        assert_eq!(s, 400, "{bad}: {b}");
    }
    let tok = w.tokens(&acme, &[READ, DELETE]).await;
    assert!(w.active(&tok.access_token).await);
    // Dropping crm:delete ends the token that carries it, at once.
    let (s, g) = call(&app, "PATCH", &url, &key, Some(json!({"scopes": [READ]}))).await;
    assert_eq!(
        (s, &g["scopes"], &g["grants_revoked"]),
        (200, &json!([READ]), &json!(1)),
        "{g}"
    );
    assert!(!w.active(&tok.access_token).await);
    let tok = w.tokens(&acme, &[READ]).await;
    let (s, r) = call(&app, "DELETE", &format!("{url}?dry_run=true"), &key, None).await;
    assert_eq!((s, &r["revoked"]["grants"]), (200, &json!(1)), "{r}");
    assert!(
        w.active(&tok.access_token).await,
        "a preview revokes nothing"
    );
    let (s, r) = call(&app, "DELETE", &url, &key, None).await;
    assert_eq!(
        (s, &r["removed"]["scopes"], &r["revoked"]["grants"]),
        (200, &json!([READ]), &json!(1)),
        "{r}"
    );
    assert!(!w.active(&tok.access_token).await);
    let (s, _) = call(&app, "GET", &url, &key, None).await;
    assert_eq!(s, 404);
    let (s, _) = call(&app, "DELETE", &url, &key, None).await;
    assert_eq!(s, 404);
}

#[actix_web::test]
async fn scim_tokens_and_admin_keys_are_shown_renamed_and_removed_and_stop_working() {
    let w = World::new().await;
    let acme = w.tenant("acme", "acme.test", &[READ]).await;
    let beta = w.tenant("beta", "beta.test", &[READ]).await;
    let key = admin_key(&w, &acme).await;
    let beta_key = admin_key(&w, &beta).await;
    let app = Node::new(&w.store, &w.clock, ISSUER).app().await;
    // SCIM token.
    let secret = tw::scim_token(&w.store, &w.clock, acme.id(), "Okta", 86_400).await;
    let (_, list) = call(&app, "GET", &format!("{ACME}/scim-tokens"), &key, None).await;
    let id = list[0]["id"].as_str().unwrap().to_string();
    let url = format!("{ACME}/scim-tokens/{id}");
    let (s, t) = call(&app, "GET", &url, &key, None).await;
    assert_eq!(
        (s, &t["name"], &t["status"]),
        (200, &json!("Okta"), &json!("active")),
        "{t}"
    );
    let (s, _) = call(
        &app,
        "GET",
        &format!("/admin/api/v1/tenants/beta/scim-tokens/{id}"),
        &beta_key,
        None,
    )
    .await;
    assert_eq!(s, 404, "another tenant's token");
    for bad in [json!({"name": ""}), json!({"secret": "x"})] {
        let (s, b) = call(&app, "PATCH", &url, &key, Some(bad.clone())).await;
        assert_eq!(s, 400, "{bad}: {b}");
    }
    let (s, t) = call(
        &app,
        "PATCH",
        &url,
        &key,
        Some(json!({"name": "Okta production"})),
    )
    .await;
    assert_eq!((s, &t["name"]), (200, &json!("Okta production")), "{t}");
    let live = |s: String| {
        let (db, clock, t) = (w.store.db.clone(), w.clock.clone(), acme.id().clone());
        async move {
            authz_core::scim_token::authenticate(&db, &clock, &t, &s)
                .await
                .unwrap()
                .is_some()
        }
    };
    let (s, r) = call(&app, "DELETE", &format!("{url}?dry_run=true"), &key, None).await;
    assert_eq!((s, &r["revoked"]["credentials"]), (200, &json!(1)), "{r}");
    assert!(live(secret.clone()).await, "a preview revokes nothing");
    let (s, r) = call(&app, "DELETE", &url, &key, None).await;
    assert_eq!(
        (s, &r["removed"]["status"], &r["revoked"]["credentials"]),
        (200, &json!("revoked"), &json!(1)),
        "{r}"
    );
    assert!(!live(secret).await, "the IdP's token stops at once");
    // Admin key: a second key of acme, removed by the first.
    let (k2, k2_secret) = authz_core::api_key::create(
        &w.store,
        &w.clock,
        Scope::TenantAdmin(acme.id().clone()),
        "ci",
        86_400,
    )
    .await
    .unwrap();
    let (s, list) = call(&app, "GET", &format!("{ACME}/admin-keys"), &key, None).await;
    assert_eq!((s, list.as_array().unwrap().len()), (200, 2), "{list}");
    let url = format!("{ACME}/admin-keys/{}", k2.id);
    let (s, _) = call(
        &app,
        "GET",
        &format!("/admin/api/v1/tenants/beta/admin-keys/{}", k2.id),
        &beta_key,
        None,
    )
    .await;
    assert_eq!(s, 404, "another tenant's key");
    let (s, k) = call(
        &app,
        "PATCH",
        &url,
        &key,
        Some(json!({"name": "nightly export"})),
    )
    .await;
    assert_eq!(
        (s, &k["name"], &k["status"]),
        (200, &json!("nightly export"), &json!("active")),
        "{k}"
    );
    let (s, _) = call(
        &app,
        "PATCH",
        &url,
        &key,
        Some(json!({"expires_at": "never"})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, r) = call(&app, "DELETE", &format!("{url}?dry_run=true"), &key, None).await;
    assert_eq!((s, &r["revoked"]["credentials"]), (200, &json!(1)), "{r}");
    let (s, _) = call(&app, "GET", &format!("{ACME}/admin-keys"), &k2_secret, None).await;
    assert_eq!(s, 200, "the previewed key still works");
    let (s, r) = call(&app, "DELETE", &url, &key, None).await;
    assert_eq!(
        (s, &r["removed"]["status"]),
        (200, &json!("revoked")),
        "{r}"
    );
    let (s, _) = call(&app, "GET", &format!("{ACME}/admin-keys"), &k2_secret, None).await;
    assert_eq!(s, 401, "a removed key stops at once");
}

#[actix_web::test]
async fn admins_invitations_and_domains_are_listed_shown_changed_and_removed() {
    let w = World::new().await;
    let acme = w.tenant("acme", "acme.test", &[READ]).await;
    let beta = w.tenant("beta", "beta.test", &[READ]).await;
    let key = admin_key(&w, &acme).await;
    let beta_key = admin_key(&w, &beta).await;
    let app = Node::new(&w.store, &w.clock, ISSUER).app().await;
    let op = app::Operator::cli();
    // Two admins: alice (the fixture's user) and bob, who is signed in.
    let (bob, bob_cookie) = tw::signed_in_user(
        &w.store,
        &w.clock,
        acme.id(),
        &FederatedIdentity {
            connection_id: acme.connection.id.clone(),
            subject: "sub-bob".into(),
            email: Some("bob@acme.test".into()),
            name: Some("Bob".into()),
            ..Default::default()
        },
        w.clock_now(),
    )
    .await;
    for u in [&acme.user.id, &bob.id] {
        app::admin::grant::grant(&w.store, &w.clock, &op, acme.id(), u)
            .await
            .unwrap();
    }
    let (s, list) = call(&app, "GET", &format!("{ACME}/admins"), &key, None).await;
    assert_eq!(s, 200);
    let mut emails: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    emails.sort();
    assert_eq!(emails, ["alice@acme.test", "bob@acme.test"]);
    let url = format!("{ACME}/admins/{}", bob.id);
    let (s, a) = call(&app, "GET", &url, &key, None).await;
    assert_eq!((s, &a["email"]), (200, &json!("bob@acme.test")));
    assert_eq!(a["security_alerts"], json!(false));
    // The change an administrator takes: their part in the security alerts.
    let on = json!({ "security_alerts": true });
    let (s, a) = call(&app, "PATCH", &url, &key, Some(on)).await;
    assert_eq!((s, &a["security_alerts"]), (200, &json!(true)), "{a}");
    let recipients = authz_core::mail::alert_recipients(&w.store.db, acme.id())
        .await
        .unwrap();
    assert_eq!(recipients, ["bob@acme.test"]);
    let (s, b) = call(&app, "PATCH", &url, &key, Some(json!({ "role": "owner" }))).await;
    assert_eq!(s, 400, "an unknown field is refused: {b}");
    let off = json!({ "security_alerts": false });
    let (s, a) = call(&app, "PATCH", &url, &key, Some(off)).await;
    assert_eq!((s, &a["security_alerts"]), (200, &json!(false)), "{a}");
    let recipients = authz_core::mail::alert_recipients(&w.store.db, acme.id())
        .await
        .unwrap();
    assert!(recipients.is_empty(), "{recipients:?}");
    let (s, _) = call(
        &app,
        "GET",
        &format!("/admin/api/v1/tenants/beta/admins/{}", bob.id),
        &beta_key,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, r) = call(&app, "DELETE", &format!("{url}?dry_run=true"), &key, None).await;
    assert_eq!((s, &r["revoked"]["sessions"]), (200, &json!(1)), "{r}");
    assert!(
        authz_core::session::find_active(&w.store.db, &w.clock, &bob_cookie)
            .await
            .unwrap()
            .is_some(),
        "a preview ends nothing"
    );
    let (s, r) = call(&app, "DELETE", &url, &key, None).await;
    assert_eq!((s, &r["revoked"]["sessions"]), (200, &json!(1)), "{r}");
    assert!(
        authz_core::session::find_active(&w.store.db, &w.clock, &bob_cookie)
            .await
            .unwrap()
            .is_none(),
        "bob's session ends at once"
    );
    let last = format!("{ACME}/admins/{}", acme.user.id);
    let (s, b) = call(&app, "DELETE", &last, &key, None).await;
    assert_eq!(s, 409, "{b}");
    assert!(
        b["detail"].as_str().unwrap().contains("last administrator"),
        "{b}"
    );
    // Invitations.
    let by = app::admin::AdminActor::Operator {
        operator: op.clone(),
        tenant: acme.id().clone(),
    };
    let inv = app::admin::invite::invite(&w.store, &w.clock, &by, "carol@acme.test")
        .await
        .unwrap();
    let url = format!("{ACME}/invitations/{}", inv.id);
    let (s, list) = call(&app, "GET", &format!("{ACME}/invitations"), &key, None).await;
    assert_eq!(
        (s, &list[0]["email"], &list[0]["status"]),
        (200, &json!("carol@acme.test"), &json!("pending")),
        "{list}"
    );
    let (s, _) = call(
        &app,
        "GET",
        &format!("/admin/api/v1/tenants/beta/invitations/{}", inv.id),
        &beta_key,
        None,
    )
    .await;
    assert_eq!(s, 404);
    w.clock.advance_secs(8 * 86_400);
    let (s, i) = call(&app, "GET", &url, &key, None).await;
    assert_eq!((s, &i["status"]), (200, &json!("expired")));
    let (s, _) = call(&app, "PATCH", &url, &key, Some(json!({"extend": "please"}))).await;
    assert_eq!(s, 400);
    let (s, i) = call(&app, "PATCH", &url, &key, Some(json!({"extend": true}))).await;
    assert_eq!((s, &i["status"]), (200, &json!("pending")), "{i}");
    let (s, r) = call(&app, "DELETE", &url, &key, None).await;
    assert_eq!(
        (s, &r["removed"]["status"], &r["revoked"]["credentials"]),
        (200, &json!("revoked"), &json!(1)),
        "{r}"
    );
    let (s, _) = call(&app, "PATCH", &url, &key, Some(json!({"extend": true}))).await;
    assert_eq!(s, 400, "a withdrawn invitation is not extended");
    // Domains.
    let url = format!("{ACME}/domains/acme.test");
    let (s, d) = call(&app, "GET", &url, &key, None).await;
    assert_eq!((s, &d["domain"]), (200, &json!("acme.test")), "{d}");
    let (s, _) = call(
        &app,
        "GET",
        "/admin/api/v1/tenants/beta/domains/acme.test",
        &beta_key,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = call(&app, "PATCH", &url, &key, Some(json!({"verify": "yes"}))).await;
    assert_eq!(s, 400);
    let (s, r) = call(&app, "DELETE", &format!("{url}?dry_run=true"), &key, None).await;
    assert_eq!(
        (s, &r["removed"]["domain"]),
        (200, &json!("acme.test")),
        "{r}"
    );
    let (s, _) = call(&app, "GET", &url, &key, None).await;
    assert_eq!(s, 200, "a preview removes nothing");
    let (s, _) = call(&app, "DELETE", &url, &key, None).await;
    assert_eq!(s, 200);
    let (s, _) = call(&app, "GET", &url, &key, None).await;
    assert_eq!(s, 404);
}

/// A member's personal API key, as the tenant admin sees it: shown, renamed (the one thing an
/// admin changes on it), removed with a preview first; the key stops at once.
#[actix_web::test]
async fn a_members_api_key_is_shown_renamed_and_removed() {
    use authz_core::admin::settings;
    use authz_core::personal_key::{self, NewKey};
    let w = World::new().await;
    let acme = w.tenant("acme", "acme.test", &[READ]).await;
    let beta = w.tenant("beta", "beta.test", &[READ]).await;
    let key = admin_key(&w, &acme).await;
    let beta_key = admin_key(&w, &beta).await;
    let app = Node::new(&w.store, &w.clock, ISSUER).app().await;
    let on = settings::TenantSettings {
        api_keys_enabled: Some(true),
        ..Default::default()
    };
    settings::set(&w.store, &w.clock, acme.id(), &on, "test")
        .await
        .unwrap();
    let created = personal_key::create(
        &w.store,
        &w.clock,
        NewKey {
            tenant: acme.id(),
            user_id: &acme.user.id,
            auth_time: w.clock_now(),
            resource: &w.resource,
            name: "Alice's Cursor",
            client_label: "cursor",
            scopes: &[READ.to_string()],
            days: 20,
            actor: "user:alice",
        },
    )
    .await
    .unwrap();
    let url = format!("{ACME}/user-keys/{}", created.key.id);
    let (s, k) = call(&app, "GET", &url, &key, None).await;
    assert_eq!(
        (s, &k["name"], &k["status"]),
        (200, &json!("Alice's Cursor"), &json!("active")),
        "{k}"
    );
    assert!(!k.to_string().contains(&created.secret), "never the secret");
    let other = format!("/admin/api/v1/tenants/beta/user-keys/{}", created.key.id);
    let (s, _) = call(&app, "GET", &other, &beta_key, None).await;
    assert_eq!(s, 404, "another tenant's key");
    for bad in [json!({"name": ""}), json!({"scopes": ["x"]})] {
        let (s, b) = call(&app, "PATCH", &url, &key, Some(bad.clone())).await;
        assert_eq!(s, 400, "{bad}: {b}");
    }
    let (s, k) = call(&app, "PATCH", &url, &key, Some(json!({"name": "Laptop"}))).await;
    assert_eq!((s, &k["name"]), (200, &json!("Laptop")), "{k}");
    let (s, r) = call(&app, "DELETE", &format!("{url}?dry_run=true"), &key, None).await;
    assert_eq!((s, &r["revoked"]["credentials"]), (200, &json!(1)), "{r}");
    assert!(w.active(&created.secret).await, "a preview revokes nothing");
    let (s, r) = call(&app, "DELETE", &url, &key, None).await;
    assert_eq!(
        (s, &r["removed"]["status"], &r["revoked"]["credentials"]),
        (200, &json!("revoked"), &json!(1)),
        "{r}"
    );
    assert!(!w.active(&created.secret).await, "the key stops at once");
    let (s, r) = call(&app, "DELETE", &url, &key, None).await;
    assert_eq!(
        (s, &r["revoked"]["credentials"]),
        (200, &json!(0)),
        "nothing left to revoke: {r}"
    );
}
