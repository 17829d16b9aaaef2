//! The person's side: the hand-off page creates nothing, the form creates one key shown once
//! with the exact IDE configuration, the account page lists and revokes it, the tenant's
//! limits refuse what they must, and introspection names the key.
use actix_web::http::StatusCode;
use authz_core::entities::{grant_families, mail_outbox, personal_api_keys};
use authz_core::{grant, personal_key, resource};
use sea_orm::{EntityTrait, PaginatorTrait};

use super::support::*;

const READ: &str = "crm:customers:read";
const EXPORT: &str = "crm:customers:export";

async fn stored_keys(fx: &Fx) -> (u64, u64) {
    let rows = personal_api_keys::Entity::find()
        .count(&fx.store.db)
        .await
        .unwrap();
    let families = grant_families::Entity::find()
        .all(&fx.store.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|f| f.kind == "api_key")
        .count() as u64;
    (rows, families)
}

#[actix_web::test]
async fn keys_are_refused_until_the_tenant_turns_them_on() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let (s, html) = get(
        &app,
        &fx,
        &format!("/account/keys/new?resource={RES}&client=cursor"),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(html.contains("not turned on personal API keys"), "{html}");
    let csrf = csrf(&app, &fx).await;
    let (s, _, _) = post(
        &app,
        &fx,
        "/account/keys",
        &[
            ("csrf", &csrf),
            ("resource", RES),
            ("name", "k"),
            ("client", "cursor"),
            ("scope", READ),
            ("days", "7"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(stored_keys(&fx).await, (0, 0));
}

#[actix_web::test]
async fn the_hand_off_page_creates_nothing_and_the_form_shows_the_key_once_with_ide_snippets() {
    let fx = fixture().await;
    set_keys(&fx, true, None).await;
    let app = app(&fx).await;
    // Not signed in: the account page's sign-in, which comes back here; nothing else.
    let r = actix_web::test::call_service(
        &app,
        actix_web::test::TestRequest::get()
            .uri(&format!("/account/keys/new?resource={RES}&client=cursor"))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = String::from_utf8_lossy(&actix_web::test::read_body(r).await).into_owned();
    assert!(html.contains(r#"action="/account/sign-in""#), "{html}");
    assert!(
        !html.contains(r#"action="/account/keys""#),
        "no key form without a session"
    );
    let (s, html) = get(
        &app,
        &fx,
        &format!("/account/keys/new?resource={RES}&client=cursor"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains(READ) && html.contains(EXPORT), "{html}");
    assert!(
        !html.contains("crm:billing:write"),
        "critical scopes are never offered"
    );
    assert!(html.contains("name=\"client\" value=\"cursor\""), "{html}");
    assert!(html.contains("max=\"30\""), "{html}");
    assert_eq!(stored_keys(&fx).await, (0, 0), "a GET creates nothing");

    let (html, key) = create(&app, &fx, &[READ], "7").await;
    assert!(personal_key::well_formed(&key), "{key}");
    assert!(html.contains("mcpServers"), "Cursor's mcp.json");
    assert!(
        html.contains(".vscode/mcp.json") && html.contains("\"type\": \"http\""),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "claude mcp add --transport http acme-crm {RES} --header \"Authorization: Bearer {key}\""
        )),
        "{html}"
    );
    assert!(
        html.contains("data-copy=\"snippet-cursor\""),
        "a copy button"
    );
    assert_eq!(stored_keys(&fx).await, (1, 1));
    // Stored hashed only.
    let row = personal_api_keys::Entity::find()
        .one(&fx.store.db)
        .await
        .unwrap()
        .unwrap();
    assert!(key.starts_with(&row.display_prefix));
    assert!(
        authz_core::entities::tokens::Entity::find_by_id(key.clone())
            .one(&fx.store.db)
            .await
            .unwrap()
            .is_none()
    );
    // The account page lists it, never the key itself.
    let (_, account) = get(&app, &fx, "/account").await;
    assert!(
        account.contains("Cursor on my laptop") && account.contains("active"),
        "{account}"
    );
    assert!(account.contains(&row.id) && account.contains(&row.display_prefix));
    assert!(!account.contains(&key));
    // Audited, and the person is told by email.
    let created = audited(&fx, "api_key.created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].client_id.as_deref(), Some("api-key:cursor"));
    let mails = mail_outbox::Entity::find().all(&fx.store.db).await.unwrap();
    let mail = mails
        .iter()
        .find(|m| m.kind == "api_key_created")
        .expect("notice queued");
    assert_eq!(mail.recipient, "alice@acme.test");
    assert!(mail.body_text.contains(&row.id) && !mail.body_text.contains(&key));
}

#[actix_web::test]
async fn the_created_page_may_run_the_copy_script_and_nothing_else() {
    let fx = fixture().await;
    set_keys(&fx, true, None).await;
    let app = app(&fx).await;
    let csrf = csrf(&app, &fx).await;
    let (s, csp, html) = post(
        &app,
        &fx,
        "/account/keys",
        &[
            ("csrf", &csrf),
            ("resource", RES),
            ("name", "VS Code"),
            ("client", "vscode"),
            ("scope", READ),
            ("days", "3"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(html.contains("src=\"/static/console.js\""));
}

#[actix_web::test]
async fn the_tenants_limits_refuse_what_they_must() {
    let fx = fixture().await;
    set_keys(&fx, true, Some(10)).await;
    let res = resource::find_by_uri(&fx.store.db, RES)
        .await
        .unwrap()
        .unwrap();
    grant::add_for_everyone_confirmed(
        &fx.store,
        &fx.clock,
        &fx.acme.id,
        &res,
        &["crm:billing:write".to_string()],
        true,
    )
    .await
    .unwrap();
    let app = app(&fx).await;
    let csrf = csrf(&app, &fx).await;
    let attempt = |scope: &'static str, days: &'static str| {
        let csrf = csrf.clone();
        let app = &app;
        let fx = &fx;
        async move {
            let (s, _, html) = post(
                app,
                fx,
                "/account/keys",
                &[
                    ("csrf", &csrf),
                    ("resource", RES),
                    ("name", "k"),
                    ("client", "cursor"),
                    ("scope", scope),
                    ("days", days),
                ],
            )
            .await;
            (s, html)
        }
    };
    // A scope the org does not grant this person.
    let (s, html) = attempt("crm:customers:delete", "5").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{html}");
    assert!(html.contains("does not grant you"), "{html}");
    // A critical scope, even granted.
    let (s, html) = attempt("crm:billing:write", "5").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("critical"), "{html}");
    // Longer than the tenant's maximum, or no lifetime.
    let (s, html) = attempt(READ, "11").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(html.contains("1 to 10 days"), "{html}");
    let (s, _) = attempt(READ, "0").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // A forged form.
    let (s, _, _) = post(
        &app,
        &fx,
        "/account/keys",
        &[
            ("csrf", "forged"),
            ("resource", RES),
            ("name", "k"),
            ("client", "cursor"),
            ("scope", READ),
            ("days", "5"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A cross-site POST with the right token.
    let r = actix_web::test::call_service(
        &app,
        actix_web::test::TestRequest::post()
            .uri("/account/keys")
            .cookie(actix_web::cookie::Cookie::new(
                SESSION_COOKIE,
                fx.acme.session_cookie.clone(),
            ))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .insert_header(("sec-fetch-site", "cross-site"))
            .set_payload(form(&[
                ("csrf", &csrf),
                ("resource", RES),
                ("name", "k"),
                ("client", "cursor"),
                ("scope", READ),
                ("days", "5"),
            ]))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(stored_keys(&fx).await, (0, 0));
    // Without SCIM, a key ends where the tenant caps life without a fresh sign-in (24 h).
    let (html, _) = create(&app, &fx, &[READ], "10").await;
    assert!(html.contains("expires earlier than you asked"), "{html}");
    let k = personal_key::list_for_tenant(&fx.store.db, &fx.clock, &fx.acme.id)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(k.expires_at - k.created_at, 24 * 3600 * 1_000_000);
}

#[actix_web::test]
async fn introspection_names_the_key_and_revocation_on_account_ends_it() {
    let fx = fixture().await;
    set_keys(&fx, true, None).await;
    let app = app(&fx).await;
    let (_, key) = create(&app, &fx, &[READ, EXPORT], "7").await;
    let i = introspect(&app, &fx.rs, &key).await;
    let k = personal_key::list_for_tenant(&fx.store.db, &fx.clock, &fx.acme.id)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(i["active"], true, "{i}");
    assert_eq!(i["credential_kind"], "api_key");
    assert_eq!(i["subject_type"], "user");
    assert_eq!(i["key_id"], k.id.as_str());
    assert_eq!(i["sub"], fx.acme.user_id.as_str());
    assert_eq!(i["tenant"], fx.acme.id.as_str());
    assert_eq!(i["client_id"], "api-key:cursor");
    assert_eq!(i["scope"], format!("{READ} {EXPORT}"));
    assert_eq!(i["aud"], RES);
    assert_eq!(i["exp"].as_i64().unwrap() * 1_000_000, k.expires_at);
    // Another resource server learns nothing (RFC 8707 audience).
    assert_eq!(introspect(&app, &fx.rs2, &key).await["active"], false);
    // The owner revokes it on /account.
    let csrf = csrf(&app, &fx).await;
    let (s, _, _) = post(
        &app,
        &fx,
        &format!("/account/keys/{}/revoke", k.id),
        &[("csrf", "forged")],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = post(
        &app,
        &fx,
        &format!("/account/keys/{}/revoke", k.id),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(introspect(&app, &fx.rs, &key).await["active"], false);
    let (_, account) = get(&app, &fx, "/account").await;
    assert!(account.contains("revoked"), "{account}");
    let revoked = audited(&fx, "api_key.revoked").await;
    assert_eq!(revoked.len(), 1);
    // Someone else's (or an unknown) key id is not found.
    let (s, _, _) = post(&app, &fx, "/account/keys/nope/revoke", &[("csrf", &csrf)]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn introspection_records_last_use_at_most_once_a_minute_and_expiry_once() {
    let fx = fixture().await;
    set_keys(&fx, true, None).await;
    let app = app(&fx).await;
    let (_, key) = create(&app, &fx, &[READ], "1").await;
    let used = || async {
        fx.state.key_usage.flush().await;
        audited(&fx, "api_key.used").await.len()
    };
    let t0 = authz_core::Clock::now_us(&fx.clock);
    introspect(&app, &fx.rs, &key).await;
    introspect(&app, &fx.rs, &key).await;
    assert_eq!(used().await, 1);
    fx.clock.advance_secs(59);
    introspect(&app, &fx.rs, &key).await;
    assert_eq!(used().await, 1);
    let k = &personal_key::list_for_tenant(&fx.store.db, &fx.clock, &fx.acme.id)
        .await
        .unwrap()[0];
    assert_eq!(k.last_used_at, Some(t0));
    fx.clock.advance_secs(2);
    introspect(&app, &fx.rs, &key).await;
    assert_eq!(used().await, 2);
    // A day later the key has expired: inactive, listed as expired, recorded once.
    fx.clock.advance_secs(86_400);
    assert_eq!(introspect(&app, &fx.rs, &key).await["active"], false);
    assert_eq!(
        personal_key::record_expired(&fx.store, &fx.clock)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        personal_key::record_expired(&fx.store, &fx.clock)
            .await
            .unwrap(),
        0
    );
    assert_eq!(audited(&fx, "api_key.expired").await.len(), 1);
    let k = &personal_key::list_for_tenant(&fx.store.db, &fx.clock, &fx.acme.id)
        .await
        .unwrap()[0];
    assert_eq!(k.status, personal_key::Status::Expired);
}
