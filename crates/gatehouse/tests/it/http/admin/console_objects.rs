//! The console's object pages (issue 16 §2): detail pages with their edit forms, and removals
//! that ask on a confirmation page saying what they revoke, remove only when confirmed, and
//! revoke at once. The fixture and helpers are the console tests'.
use authz_core::admin::{invitation, role};
use authz_core::clock::{Clock, FixedClock, MICROS};
use authz_core::session;
use authz_core::testkit::world;

use super::console::{app, csrf, fixture, send};

/// Issue 16 §2: the console's object pages and removals. An admin creates an admin API key
/// (shown once), renames it and removes it; a removal asks on a page that says what it revokes,
/// removes only when confirmed, and the revocation holds at once (the key, the SCIM token, the
/// removed administrator's session). Nobody removes themselves.
#[actix_web::test]
async fn console_object_pages_and_removals_that_ask_first() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let token = csrf(&fx.admin.cookie);
    // Admin API key: created (shown once), renamed, removed after confirmation.
    let form = format!("csrf={token}&name=Nightly+export&expires_in_days=30");
    let (status, _, body) =
        send(&app, "POST", "/admin/t/acme/admin-keys", cookie, Some(form)).await;
    assert_eq!(status, 200, "{body}");
    let secret = body
        .split("value=\"")
        .find_map(|s| s.strip_prefix("ghadm_"))
        .map(|s| format!("ghadm_{}", &s[..s.find('"').unwrap()]))
        .unwrap();
    let keys = authz_core::api_key::list(&fx.store.db, Some(&fx.acme))
        .await
        .unwrap();
    let id = keys
        .iter()
        .find(|k| k.name == "Nightly export")
        .unwrap()
        .id
        .clone();
    let (status, _, body) = send(&app, "GET", "/admin/t/acme/admin-keys", cookie, None).await;
    assert!(
        status == 200 && body.contains("Nightly export") && !body.contains(&secret),
        "{body}"
    );
    let path = format!("/admin/t/acme/admin-keys/{id}");
    let (status, location, _) = send(
        &app,
        "POST",
        &path,
        cookie,
        Some(format!("csrf={token}&name=Export")),
    )
    .await;
    assert_eq!((status, location.as_str()), (303, path.as_str()));
    let (status, _, body) = send(&app, "GET", &path, cookie, None).await;
    assert!(status == 200 && body.contains("Export"), "{body}");
    let (status, _, body) = send(&app, "GET", &format!("{path}/remove"), cookie, None).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("Remove admin API key?") && body.contains("1 credential stop working."),
        "{body}"
    );
    let works = |s: String| {
        let (db, clock) = (fx.store.db.clone(), fx.clock.clone());
        async move {
            authz_core::api_key::authenticate(&db, &clock, &s)
                .await
                .unwrap()
                .is_some()
        }
    };
    assert!(
        works(secret.clone()).await,
        "the confirmation page revokes nothing"
    );
    let (status, location, _) = send(
        &app,
        "POST",
        &format!("{path}/remove"),
        cookie,
        Some(format!("csrf={token}&confirm=yes")),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/t/acme/admin-keys?removed=admin+API+key")
    );
    assert!(!works(secret).await, "a removed key stops at once");
    let (_, _, body) = send(&app, "GET", &location, cookie, None).await;
    assert!(body.contains("The admin API key was removed"), "{body}");
    let crafted = "/admin/t/acme/admin-keys?removed=your+data";
    let (_, _, body) = send(&app, "GET", crafted, cookie, None).await;
    assert!(!body.contains("was removed"), "only a known kind is named");
    // SCIM token: its page, then a removal that says provisioning stops.
    let scim = world::scim_token(&fx.store, &fx.clock, &fx.acme, "Okta", 86_400).await;
    let t = authz_core::scim_token::list(&fx.store.db, &fx.acme)
        .await
        .unwrap()
        .remove(0);
    let path = format!("/admin/t/acme/scim/tokens/{}", t.id);
    let (status, _, body) = send(&app, "GET", &path, cookie, None).await;
    assert!(status == 200 && body.contains("Okta"), "{body}");
    let (status, _, body) = send(
        &app,
        "POST",
        &format!("{path}/revoke"),
        cookie,
        Some(format!("csrf={token}")),
    )
    .await;
    assert!(
        status == 200 && body.contains("provisioning with it stops"),
        "{body}"
    );
    let live = |s: String| {
        let (db, clock, t) = (fx.store.db.clone(), fx.clock.clone(), fx.acme.clone());
        async move {
            authz_core::scim_token::authenticate(&db, &clock, &t, &s)
                .await
                .unwrap()
                .is_some()
        }
    };
    assert!(live(scim.clone()).await);
    let (status, _, _) = send(
        &app,
        "POST",
        &format!("{path}/revoke"),
        cookie,
        Some(format!("csrf={token}&confirm=yes")),
    )
    .await;
    assert_eq!(status, 303);
    assert!(!live(scim).await);
    // Administrators: pat is made one, then removed; pat's session ends with it.
    let txn = fx.store.begin().await.unwrap();
    role::grant(
        &txn,
        &fx.clock,
        &fx.acme,
        &fx.plain_user,
        "operator",
        None,
        "operator",
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    let (status, _, body) = send(&app, "GET", "/admin/t/acme/admins", cookie, None).await;
    assert!(status == 200 && body.contains("pat@example.test"), "{body}");
    // The change an administrator takes: their security alerts, on then off.
    let page = format!("/admin/t/acme/admins/{}", fx.plain_user);
    let (status, _, body) = send(&app, "GET", &page, cookie, None).await;
    assert!(
        status == 200 && body.contains("Send them the alerts"),
        "{body}"
    );
    let on = Some(format!("csrf={token}&security_alerts=on"));
    let (status, _, _) = send(&app, "POST", &page, cookie, on).await;
    assert_eq!(status, 303);
    let recipients = authz_core::mail::alert_recipients(&fx.store.db, &fx.acme)
        .await
        .unwrap();
    assert_eq!(recipients, ["pat@example.test"]);
    let (_, _, body) = send(&app, "GET", &page, cookie, None).await;
    assert!(body.contains("Stop their alerts"), "{body}");
    let bad = Some(format!("csrf={token}&security_alerts=maybe"));
    let (status, _, _) = send(&app, "POST", &page, cookie, bad).await;
    assert_eq!(status, 400);
    let path = format!("/admin/t/acme/settings/admins/{}/remove", fx.plain_user);
    let (status, _, body) = send(&app, "GET", &path, cookie, None).await;
    assert!(
        status == 200 && body.contains("1 signed-in session ended."),
        "{body}"
    );
    let (status, _, _) = send(
        &app,
        "POST",
        &path,
        cookie,
        Some(format!("csrf={token}&confirm=yes")),
    )
    .await;
    assert_eq!(status, 303);
    let s = session::find_active(&fx.store.db, &fx.clock, &fx.plain.cookie)
        .await
        .unwrap();
    assert!(s.is_none(), "the removed admin's session ends at once");
    let me = format!("/admin/t/acme/settings/admins/{}/remove", fx.admin_user);
    let (status, _, body) = send(
        &app,
        "POST",
        &me,
        cookie,
        Some(format!("csrf={token}&confirm=yes")),
    )
    .await;
    assert!(
        status == 400 && body.contains("cannot remove yourself"),
        "{body}"
    );
}

/// Issue 16 §2: an org grant's console page changes its scopes (a scope taken out revokes the
/// tokens carrying it, as on every surface), its removal asks first; an invitation that expired
/// unused is extended from its page.
#[actix_web::test]
async fn console_grant_and_invitation_pages_change_and_remove() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let token = csrf(&fx.admin.cookie);
    let reg = authz_core::resource::register(&fx.store, &fx.clock, world::crm_spec())
        .await
        .unwrap();
    let scopes = [world::READ.to_string(), world::DELETE.to_string()];
    authz_core::grant::add_for_everyone(&fx.store, &fx.clock, &fx.acme, &reg.resource, &scopes)
        .await
        .unwrap();
    let path = format!("/admin/t/acme/apps/grants/{}~*", reg.resource.id);
    let (status, _, body) = send(&app, "GET", &path, cookie, None).await;
    assert!(status == 200 && body.contains(world::DELETE), "{body}");
    let form = format!("csrf={token}&scopes={}", world::READ);
    let (status, location, _) = send(&app, "POST", &path, cookie, Some(form)).await;
    assert_eq!((status, location.as_str()), (303, path.as_str()));
    let g = app::manage::grant::show(&fx.store.db, &fx.acme, &format!("{}~*", reg.resource.id))
        .await
        .unwrap();
    assert_eq!(g.scopes, [world::READ]);
    let (status, _, body) = send(
        &app,
        "POST",
        &path,
        cookie,
        Some(format!("csrf={token}&scopes=crm%3Anope")),
    )
    .await;
    assert!(
        status == 400 && body.contains("not in the catalogue"),
        "{body}"
    );
    let (status, _, body) = send(&app, "GET", &format!("{path}/remove"), cookie, None).await;
    assert!(status == 200 && body.contains("Remove grant?"), "{body}");
    let (status, _, _) = send(
        &app,
        "POST",
        &format!("{path}/remove"),
        cookie,
        Some(format!("csrf={token}&confirm=yes")),
    )
    .await;
    assert_eq!(status, 303);
    let (status, _, _) = send(&app, "GET", &path, cookie, None).await;
    assert_eq!(status, 404, "removed");
    // An invitation that expired unused gets seven more days.
    let past = FixedClock::new(fx.clock.now_us() - 8 * 86_400 * MICROS);
    let inv = invitation::create(&fx.store, &past, &fx.acme, "new@acme.test", "operator")
        .await
        .unwrap()
        .0;
    let path = format!("/admin/t/acme/invitations/{}", inv.id);
    let (status, _, body) = send(&app, "GET", "/admin/t/acme/invitations", cookie, None).await;
    assert!(
        status == 200 && body.contains("new@acme.test") && body.contains("expired"),
        "{body}"
    );
    let (status, _, _) = send(
        &app,
        "POST",
        &path,
        cookie,
        Some(format!("csrf={token}&extend=yes")),
    )
    .await;
    assert_eq!(status, 303);
    let i = app::manage::invitation::show(&fx.store.db, &fx.clock, &fx.acme, &inv.id)
        .await
        .unwrap();
    assert_eq!(i.status, "pending");
}
