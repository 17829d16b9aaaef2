//! The admin console over a real app and store (SQLite, or PostgreSQL with
//! GATEHOUSE_TEST_DATABASE_URL): who may use which page, CSRF, step-up, invitations.
//! The route list comes from the console's own router table (`console::ROUTES`), so a route
//! added without the right extractor fails here.
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use admin_api::console::{self, Access, ConsoleState};
use authz_core::admin::{invitation, role};
use authz_core::clock::{Clock, FixedClock, MICROS};
use authz_core::crypto::sha256_hex;
use authz_core::testkit::{self, world};
use authz_core::user::FederatedIdentity;
use authz_core::{audit, connection, session, tenant, Store, TenantId};

mod guide;

pub(super) struct Who {
    pub(super) cookie: String,
}

pub(super) struct Fx {
    pub(super) store: Store,
    pub(super) clock: FixedClock,
    pub(super) acme: TenantId,
    pub(super) admin: Who,
    pub(super) admin_user: String,
    pub(super) plain: Who,
    pub(super) plain_user: String,
    stale: Who,
    expired: Who,
    beta_admin: Who,
}

async fn user_session(
    store: &Store,
    clock: &FixedClock,
    t: &TenantId,
    conn_id: &str,
    subject: &str,
    auth_time: i64,
) -> (String, String) {
    let id = FederatedIdentity {
        connection_id: conn_id.into(),
        subject: subject.into(),
        email: Some(format!("{subject}@example.test")),
        ..Default::default()
    };
    let (u, cookie) = world::signed_in_user(store, clock, t, &id, auth_time).await;
    (u.id, cookie)
}

async fn oidc_connection(store: &Store, clock: &FixedClock, t: &TenantId) -> String {
    world::add_oidc(
        store,
        clock,
        t,
        "IdP",
        "https://idp.example.test",
        "gh",
        "s3cret",
    )
    .await
    .id
}

pub(super) async fn fixture() -> Fx {
    let store = testkit::store().await;
    let clock = testkit::clock();
    let acme = world::add_tenant(&store, &clock, "acme", "Acme", &["acme.test"]).await;
    let beta = world::add_tenant(&store, &clock, "beta", "Beta", &["beta.test"]).await;
    let ca = oidc_connection(&store, &clock, &acme.id).await;
    let cb = oidc_connection(&store, &clock, &beta.id).await;
    let now = clock.now_us();
    let (admin_user, admin) = user_session(&store, &clock, &acme.id, &ca, "ann", now).await;
    let (plain_user, plain) = user_session(&store, &clock, &acme.id, &ca, "pat", now).await;
    // Authenticated at the IdP 16 minutes ago: outside the step-up window.
    let (stale_user, stale) =
        user_session(&store, &clock, &acme.id, &ca, "sam", now - 16 * 60 * MICROS).await;
    // A session started 9 hours ago has expired (sessions last 8 hours).
    let past = FixedClock::new(now - 9 * 3600 * MICROS);
    let (expired_user, expired) =
        user_session(&store, &past, &acme.id, &ca, "eve", past.now_us()).await;
    let (beta_user, beta_admin) = user_session(&store, &clock, &beta.id, &cb, "bob", now).await;
    let txn = store.begin().await.unwrap();
    for (t, u) in [
        (&acme.id, &admin_user),
        (&acme.id, &stale_user),
        (&acme.id, &expired_user),
        (&beta.id, &beta_user),
    ] {
        role::grant(&txn, &clock, t, u, "operator", None, "operator")
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
    Fx {
        acme: acme.id,
        admin: Who { cookie: admin },
        admin_user,
        plain: Who { cookie: plain },
        plain_user,
        stale: Who { cookie: stale },
        expired: Who { cookie: expired },
        beta_admin: Who { cookie: beta_admin },
        store,
        clock,
    }
}

pub(super) async fn app(
    fx: &Fx,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    app_with_dns(fx, "127.0.0.1:9".parse().unwrap()).await
}

async fn app_with_dns(
    fx: &Fx,
    dns: std::net::SocketAddr,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    let public = safe_fetch::SafeFetcher::new(&Default::default()).unwrap();
    app_with(fx, dns, public.clone(), public).await
}

/// `fetcher` is the operator's (private allow-list, extra CA); `public_fetcher` the one for URLs
/// typed in the console.
async fn app_with(
    fx: &Fx,
    dns: std::net::SocketAddr,
    fetcher: safe_fetch::SafeFetcher,
    public_fetcher: safe_fetch::SafeFetcher,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    let st = ConsoleState {
        store: fx.store.clone(),
        clock: Arc::new(fx.clock.clone()),
        issuer: "http://gatehouse.test".into(),
        master_key: Arc::new(testkit::master_key()),
        fetcher,
        public_fetcher,
        audit_keys: Arc::new(testkit::master_key().audit_verifying_keys()),
        dns: console::dns::Resolver::at(dns),
        templates: Arc::new(console::Templates::new()),
    };
    crate::http::world::Node::new(&fx.store, &fx.clock, "http://gatehouse.test")
        .console(st)
        .app()
        .await
}

/// The CSRF token the console derives for a session cookie (what its pages embed).
pub(super) fn csrf(cookie: &str) -> String {
    sha256_hex(&format!("console|admin|{cookie}"))
}

pub(super) async fn send<S, B>(
    app: &S,
    method: &str,
    path: &str,
    cookie: Option<(&str, &str)>,
    form: Option<String>,
) -> (u16, String, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = test::TestRequest::default()
        .method(actix_web::http::Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path);
    if let Some((name, value)) = cookie {
        req = req.cookie(actix_web::cookie::Cookie::new(
            name.to_string(),
            value.to_string(),
        ));
    }
    if let Some(f) = form {
        req = req
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(f);
    }
    let r = test::call_service(app, req.to_request()).await;
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = String::from_utf8_lossy(&test::read_body(r).await).to_string();
    (status, location, body)
}

fn concrete(path: &str, fx: &Fx) -> String {
    format!(
        "/admin/t/acme{}",
        path.replace("{connection_id}", "c-1")
            .replace("{domain}", "acme.test")
            .replace("{token_id}", "t-1")
            .replace("{client_id}", "cl-1")
            .replace("{user_id}", &fx.plain_user)
            .replace("{invitation_id}", "i-1")
            .replace("{event_id}", "1")
            .replace("{account_id}", "sa-1")
            .replace("{key_id}", "k-1")
    )
}

async fn audit_count(fx: &Fx) -> usize {
    audit::search::search(
        &fx.store.db,
        &fx.acme,
        &audit::search::AuditQuery {
            limit: 500,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .len()
}

#[actix_web::test]
async fn every_write_route_refuses_non_admins_other_tenants_expired_and_stale_sessions() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let writes: Vec<_> = console::ROUTES
        .iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert!(writes.len() >= 20, "{writes:?}");
    let before = audit_count(&fx).await;
    let callers: [(&str, Option<&str>, &[u16]); 5] = [
        ("no session", None, &[401]),
        ("a non-admin user", Some(&fx.plain.cookie), &[403]),
        (
            "an admin of another tenant",
            Some(&fx.beta_admin.cookie),
            &[401],
        ),
        ("an expired admin session", Some(&fx.expired.cookie), &[401]),
        (
            "an admin without fresh authentication",
            Some(&fx.stale.cookie),
            &[403],
        ),
    ];
    for r in &writes {
        let path = concrete(r.path, &fx);
        for (who, cookie, want) in &callers {
            // A valid CSRF token for the caller's own cookie: the refusal must come from who
            // they are, not from a missing token.
            let form = format!("csrf={}&name=x&email=x%40acme.test&enabled=true&decision=block&scope=s&resource_id=r&client_id=c&session_id=s&domain=acme.test", csrf(cookie.unwrap_or("none")));
            let (status, _, body) = send(
                &app,
                "POST",
                &path,
                cookie.map(|c| ("gh_session", c)),
                Some(form),
            )
            .await;
            assert!(
                want.contains(&status),
                "POST {path} by {who}: {status} (wanted {want:?})\n{body}"
            );
        }
    }
    assert_eq!(
        audit_count(&fx).await,
        before,
        "a refused write changed something"
    );
    // The stale admin is told how to continue: a fresh sign-in at the IdP.
    let (_, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/settings",
        Some(("gh_session", &fx.stale.cookie)),
        Some(format!("csrf={}", csrf(&fx.stale.cookie))),
    )
    .await;
    assert!(
        body.contains("login?step_up=1") && body.contains("Sign in again"),
        "{body}"
    );
}

#[actix_web::test]
async fn every_page_refuses_non_admins_and_redirects_the_signed_out() {
    let fx = fixture().await;
    let app = app(&fx).await;
    for r in console::ROUTES.iter().filter(|r| r.method == "GET") {
        let path = concrete(r.path, &fx);
        let (status, location, _) = send(&app, "GET", &path, None, None).await;
        assert_eq!(
            (status, location.as_str()),
            (303, "/admin/t/acme/login"),
            "GET {path} signed out"
        );
        let (status, _, _) = send(
            &app,
            "GET",
            &path,
            Some(("gh_session", &fx.plain.cookie)),
            None,
        )
        .await;
        assert_eq!(status, 403, "GET {path} by a non-admin");
        let (status, location, _) = send(
            &app,
            "GET",
            &path,
            Some(("gh_session", &fx.beta_admin.cookie)),
            None,
        )
        .await;
        assert_eq!(
            (status, location.as_str()),
            (303, "/admin/t/acme/login"),
            "GET {path} by beta's admin"
        );
    }
}

#[actix_web::test]
async fn the_settings_page_sets_how_leavers_lose_access() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let (status, _, body) = send(&app, "GET", "/admin/t/acme/settings", cookie, None).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("When people leave")
            && body.contains("name=\"upstream_check_minutes\" value=\"60\"")
            && body.contains("name=\"refresh_grace_seconds\" value=\"10\""),
        "{body}"
    );
    let form = format!(
        "upstream_check_minutes=0&reauth_after_hours=12&refresh_lifetime_days=60&refresh_grace_seconds=30&provisioning=jit&csrf={}",
        csrf(&fx.admin.cookie)
    );
    let (status, _, body) = send(&app, "POST", "/admin/t/acme/settings", cookie, Some(form)).await;
    assert_eq!(status, 303, "{body}");
    let s = authz_core::admin::settings::get(&fx.store.db, &fx.acme)
        .await
        .unwrap();
    assert_eq!(
        (
            s.upstream_check_minutes,
            s.reauth_after_hours,
            s.refresh_lifetime_days,
            s.refresh_grace_seconds
        ),
        (Some(0), Some(12), Some(60), Some(30))
    );
    let bad = format!("reauth_after_hours=721&csrf={}", csrf(&fx.admin.cookie));
    let (status, _, body) = send(&app, "POST", "/admin/t/acme/settings", cookie, Some(bad)).await;
    assert_eq!(status, 400);
    assert!(body.contains("between 1 and 720"), "{body}");
}

#[actix_web::test]
async fn a_fresh_admin_writes_with_the_page_token_only() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    // Pages render for the admin and embed the CSRF token.
    for r in console::ROUTES
        .iter()
        .filter(|r| r.method == "GET" && !r.path.contains('{'))
    {
        let (status, _, body) = send(
            &app,
            "GET",
            &format!("/admin/t/acme{}", r.path),
            cookie,
            None,
        )
        .await;
        assert_eq!(status, 200, "GET {}: {body}", r.path);
        if !r.path.starts_with("/audit/export") {
            assert!(
                body.contains(&csrf(&fx.admin.cookie)),
                "GET {} has no token",
                r.path
            );
        }
    }
    let form = "routine_token_minutes=30&sensitive_token_minutes=10&reconsent_days=30&audit_retention_years=3&provisioning=jit&alert_recipients=sec%40acme.test&admin_group=Gatehouse+Admins";
    // Without the token, or with another session's token: refused, nothing changes.
    let (status, _, _) = send(
        &app,
        "POST",
        "/admin/t/acme/settings",
        cookie,
        Some(form.into()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = send(
        &app,
        "POST",
        "/admin/t/acme/settings",
        cookie,
        Some(format!("{form}&csrf={}", csrf(&fx.plain.cookie))),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        authz_core::admin::settings::get(&fx.store.db, &fx.acme)
            .await
            .unwrap(),
        Default::default()
    );
    let (status, location, body) = send(
        &app,
        "POST",
        "/admin/t/acme/settings",
        cookie,
        Some(format!("{form}&csrf={}", csrf(&fx.admin.cookie))),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/t/acme/settings?saved=1"),
        "{body}"
    );
    let s = authz_core::admin::settings::get(&fx.store.db, &fx.acme)
        .await
        .unwrap();
    assert_eq!(s.routine_token_minutes, Some(30));
    assert_eq!(s.audit_retention_years, Some(3));
    assert_eq!(
        role::admin_group(&fx.store.db, &fx.acme)
            .await
            .unwrap()
            .as_deref(),
        Some("Gatehouse Admins")
    );
    // Out of DESIGN §5's bounds: a page saying what to fix, nothing stored.
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/settings",
        cookie,
        Some(format!(
            "routine_token_minutes=61&csrf={}",
            csrf(&fx.admin.cookie)
        )),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("between 5 and 60"), "{body}");
    // The change is audited with the admin as actor.
    let last = audit::search::search(
        &fx.store.db,
        &fx.acme,
        &audit::search::AuditQuery {
            action_prefix: Some("tenant.settings_changed".into()),
            limit: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        last[0].actor.as_deref(),
        Some(format!("admin:{}", fx.admin_user).as_str())
    );
}

#[actix_web::test]
async fn invitation_links_are_consumed_by_post_only_and_expire_with_a_page_saying_so() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let (inv, token) = invitation::create(
        &fx.store,
        &fx.clock,
        &fx.acme,
        "First.Admin@Acme.test",
        "operator",
    )
    .await
    .unwrap();
    assert_eq!(inv.email, "first.admin@acme.test");
    let link = format!("/admin/invitations/{token}");
    // A mail scanner (or the person) opening the link twice consumes nothing.
    for _ in 0..2 {
        let (status, _, body) = send(&app, "GET", &link, None, None).await;
        assert_eq!(status, 200);
        assert!(
            body.contains("Accept invitation") && body.contains("first.admin@acme.test"),
            "{body}"
        );
    }
    let (status, location, _) = send(&app, "POST", &link, None, Some(String::new())).await;
    assert_eq!((status, location.as_str()), (303, "/admin/t/acme/"));
    // Once only.
    let (status, _, body) = send(&app, "POST", &link, None, Some(String::new())).await;
    assert_eq!(status, 410);
    assert!(body.contains("already accepted"), "{body}");
    // The setup-only session reaches connections and nothing else.
    let setup = invitation::list(&fx.store.db, &fx.acme).await.unwrap();
    assert!(setup[0].accepted_at.is_some());

    // An expired link is refused with a page that says so; POST does not revive it.
    let (_, token2) =
        invitation::create(&fx.store, &fx.clock, &fx.acme, "late@acme.test", "operator")
            .await
            .unwrap();
    fx.clock.advance_secs(invitation::INVITE_SECS + 1);
    let link2 = format!("/admin/invitations/{token2}");
    let (status, _, body) = send(&app, "GET", &link2, None, None).await;
    assert_eq!(status, 410);
    assert!(body.contains("This invitation has expired"), "{body}");
    let (status, _, body) = send(&app, "POST", &link2, None, Some(String::new())).await;
    assert_eq!(status, 410);
    assert!(body.contains("This invitation has expired"), "{body}");
    let (status, _, body) = send(&app, "GET", "/admin/invitations/not-a-token", None, None).await;
    assert_eq!(status, 404);
    assert!(body.contains("Unknown invitation"), "{body}");
}

#[actix_web::test]
async fn a_setup_session_configures_connections_only_and_binds_admin_only_to_the_invited_email() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let (inv, token) = invitation::create(
        &fx.store,
        &fx.clock,
        &fx.acme,
        "first@acme.test",
        "operator",
    )
    .await
    .unwrap();
    let (_, secret) = invitation::accept(&fx.store, &fx.clock, &token)
        .await
        .unwrap();
    let setup = Some(("gh_setup", secret.as_str()));
    let setup_csrf = sha256_hex(&format!("console|setup|{secret}"));
    for r in console::ROUTES {
        let path = concrete(r.path, &fx);
        let (status, _, body) = match r.method {
            "GET" => send(&app, "GET", &path, setup, None).await,
            _ => {
                send(
                    &app,
                    "POST",
                    &path,
                    setup,
                    Some(format!("csrf={setup_csrf}")),
                )
                .await
            }
        };
        match r.access {
            Access::Admin => assert_eq!(
                status, 403,
                "{} {path} in a setup session: {body}",
                r.method
            ),
            Access::Setup => assert!(
                status != 401 && status != 403,
                "{} {path} in a setup session: {status} {body}",
                r.method
            ),
            Access::Operator => unreachable!("operator routes are not tenant routes"),
        }
    }
    // Someone the link was forwarded to signs in with another email: no admin role.
    let conns = connection::list(&fx.store.db, &fx.acme).await.unwrap();
    let txn = fx.store.begin().await.unwrap();
    let bound = invitation::bind(
        &txn,
        &fx.clock,
        &fx.acme,
        &inv.id,
        &fx.plain_user,
        Some("pat@example.test"),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    assert!(!bound);
    assert_eq!(
        role::admin_via(&fx.store.db, &fx.acme, &fx.plain_user, &[])
            .await
            .unwrap(),
        None
    );
    // The invitee, with the IdP asserting the invited address (any case): admin.
    let id = FederatedIdentity {
        connection_id: conns[0].id.clone(),
        subject: "first".into(),
        email: Some("First@Acme.test".into()),
        ..Default::default()
    };
    let (u, _) = authz_core::user::upsert_federated(&fx.store.db, &fx.clock, &fx.acme, &id)
        .await
        .unwrap();
    let txn = fx.store.begin().await.unwrap();
    assert!(invitation::bind(
        &txn,
        &fx.clock,
        &fx.acme,
        &inv.id,
        &u.id,
        id.email.as_deref()
    )
    .await
    .unwrap());
    txn.commit().await.unwrap();
    assert!(role::admin_via(&fx.store.db, &fx.acme, &u.id, &[])
        .await
        .unwrap()
        .is_some());
    // The setup session ends once bound.
    assert!(invitation::setup_session(&fx.store.db, &fx.clock, &secret)
        .await
        .unwrap()
        .is_none());
}

#[actix_web::test]
async fn the_admin_group_grants_the_role_by_idp_claim_for_that_session_only() {
    let fx = fixture().await;
    role::set_admin_group(
        &fx.store,
        &fx.clock,
        &fx.acme,
        Some("GH-Admins"),
        "operator",
    )
    .await
    .unwrap();
    assert_eq!(
        role::admin_via(&fx.store.db, &fx.acme, &fx.plain_user, &[])
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        role::admin_via(
            &fx.store.db,
            &fx.acme,
            &fx.plain_user,
            &["GH-Admins".into()]
        )
        .await
        .unwrap(),
        Some(role::AdminVia::IdpClaim("GH-Admins".into()))
    );
    // An exact value only: a claim differing in case names another group.
    assert_eq!(
        role::admin_via(
            &fx.store.db,
            &fx.acme,
            &fx.plain_user,
            &["gh-admins".into()]
        )
        .await
        .unwrap(),
        None
    );
}

#[actix_web::test]
async fn sign_out_needs_the_page_token_so_another_site_cannot_sign_an_admin_out() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let (status, _, _) = send(
        &app,
        "POST",
        "/admin/logout",
        cookie,
        Some("csrf=forged".into()),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        session::find_active(&fx.store.db, &fx.clock, &fx.admin.cookie)
            .await
            .unwrap()
            .is_some()
    );
    let (status, location, _) = send(
        &app,
        "POST",
        "/admin/logout",
        cookie,
        Some(format!("csrf={}", csrf(&fx.admin.cookie))),
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/admin"));
    assert!(
        session::find_active(&fx.store.db, &fx.clock, &fx.admin.cookie)
            .await
            .unwrap()
            .is_none()
    );
}

/// The audit list names people by email, not by id, and shows where a console action came
/// from; the id stays in the record's detail view (issue 16 §3).
#[actix_web::test]
async fn the_audit_list_names_people_and_shows_the_source_of_console_actions() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let form = format!(
        "upstream_check_minutes=30&provisioning=jit&csrf={}",
        csrf(&fx.admin.cookie)
    );
    let req = test::TestRequest::post()
        .uri("/admin/t/acme/settings")
        .peer_addr("192.0.2.44:51000".parse().unwrap())
        .insert_header(("user-agent", "console-test/1"))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .cookie(actix_web::cookie::Cookie::new(
            "gh_session",
            fx.admin.cookie.clone(),
        ))
        .set_payload(form);
    let r = test::call_service(&app, req.to_request()).await;
    assert_eq!(r.status(), 303);
    let (status, _, body) = send(&app, "GET", "/admin/t/acme/audit", cookie, None).await;
    assert_eq!(status, 200);
    assert!(body.contains("admin ann@example.test"), "{body}");
    assert!(
        !body.contains(&format!("admin:{}", fx.admin_user)),
        "no bare id in the list"
    );
    assert!(body.contains("192.0.2.44"), "the source address is shown");
    let rows = world::audit_rows(&fx.store, fx.acme.as_str()).await;
    let changed = rows
        .iter()
        .rev()
        .find(|r| r.action == "tenant.settings_changed")
        .unwrap();
    assert_eq!(changed.source_ip.as_deref(), Some("192.0.2.44"));
    assert_eq!(changed.user_agent.as_deref(), Some("console-test/1"));
    let (status, _, detail) = send(
        &app,
        "GET",
        &format!("/admin/t/acme/audit/events/{}", changed.id),
        cookie,
        None,
    )
    .await;
    assert_eq!(status, 200);
    // The name, then the id, marked as the detail view's id (issue 16 §3).
    assert!(
        detail.contains(&format!(
            "admin ann@example.test <span class=\"id meta\" data-id>admin:{}</span>",
            fx.admin_user
        )),
        "{detail}"
    );
}

/// Sign-out from an invitee's setup-only session ends it on the server: the old cookie no
/// longer opens the console, and the end is audited.
#[actix_web::test]
async fn sign_out_ends_a_setup_session_on_the_server() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let (_, token) = invitation::create(
        &fx.store,
        &fx.clock,
        &fx.acme,
        "first@acme.test",
        "operator",
    )
    .await
    .unwrap();
    let (_, secret) = invitation::accept(&fx.store, &fx.clock, &token)
        .await
        .unwrap();
    let setup = Some(("gh_setup", secret.as_str()));
    let (status, _, _) = send(&app, "GET", "/admin/t/acme/connections", setup, None).await;
    assert_eq!(status, 200);
    let setup_csrf = sha256_hex(&format!("console|setup|{secret}"));
    let (status, location, _) = send(
        &app,
        "POST",
        "/admin/logout",
        setup,
        Some(format!("csrf={setup_csrf}")),
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/admin"));
    let (status, _, _) = send(&app, "GET", "/admin/t/acme/connections", setup, None).await;
    assert!(
        status == 401 || status == 403 || status == 303,
        "the old setup cookie still opens the console: {status}"
    );
    assert!(invitation::setup_session(&fx.store.db, &fx.clock, &secret)
        .await
        .unwrap()
        .is_none());
    let ended = world::audit_rows(&fx.store, fx.acme.as_str())
        .await
        .into_iter()
        .filter(|r| r.action == "admin.setup_session_ended")
        .count();
    assert_eq!(ended, 1, "the end is audited");
}

/// A DNS server on loopback answering every question with these TXT strings (RFC 1035 wire
/// format, the answer name compressed to the question's).
async fn dns_server(answers: Vec<String>) -> std::net::SocketAddr {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    actix_web::rt::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = sock.recv_from(&mut buf).await {
            let q = &buf[..n];
            let mut r = q[0..2].to_vec();
            r.extend_from_slice(&[0x81, 0x80, 0, 1, 0, answers.len() as u8, 0, 0, 0, 0]);
            r.extend_from_slice(&q[12..]);
            for a in &answers {
                r.extend_from_slice(&[0xC0, 0x0C, 0, 16, 0, 1, 0, 0, 0, 60]);
                r.extend_from_slice(&((a.len() + 1) as u16).to_be_bytes());
                r.push(a.len() as u8);
                r.extend_from_slice(a.as_bytes());
            }
            let _ = sock.send_to(&r, peer).await;
        }
    });
    addr
}

#[actix_web::test]
async fn a_domain_is_verified_by_its_dns_txt_record_and_only_by_the_right_one() {
    use authz_core::admin::domain;
    let fx = fixture().await;
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let token = csrf(&fx.admin.cookie);
    // Added through the console: unverified, with a token to publish.
    let app = app(&fx).await;
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/domains",
        cookie,
        Some(format!("csrf={token}&domain=NewCo.test")),
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let d = domain::get(&fx.store.db, &fx.acme, "newco.test")
        .await
        .unwrap();
    assert!(!d.verified);
    let expected = d.txt_value().unwrap();
    let (_, _, page) = send(&app, "GET", "/admin/t/acme/domains", cookie, None).await;
    assert!(
        page.contains("_gatehouse-challenge.newco.test") && page.contains(&expected),
        "{page}"
    );
    assert!(
        tenant::find_by_email_domain(&fx.store.db, "x@newco.test")
            .await
            .unwrap()
            .is_none(),
        "unverified: no routing"
    );

    // A zone with other TXT records only: refused, with a page that says what is missing.
    let wrong = app_with_dns(
        &fx,
        dns_server(vec![
            "v=spf1 -all".into(),
            "gatehouse-verification=nope".into(),
        ])
        .await,
    )
    .await;
    let (status, _, body) = send(
        &wrong,
        "POST",
        "/admin/t/acme/domains/newco.test/verify",
        cookie,
        Some(format!("csrf={token}")),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no TXT record"), "{body}");
    assert!(
        !domain::get(&fx.store.db, &fx.acme, "newco.test")
            .await
            .unwrap()
            .verified
    );

    // The published record: verified, audited, and the domain now routes sign-ins.
    let right = app_with_dns(
        &fx,
        dns_server(vec!["v=spf1 -all".into(), expected.clone()]).await,
    )
    .await;
    let (status, location, body) = send(
        &right,
        "POST",
        "/admin/t/acme/domains/newco.test/verify",
        cookie,
        Some(format!("csrf={token}")),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/t/acme/domains"),
        "{body}"
    );
    let d = domain::get(&fx.store.db, &fx.acme, "newco.test")
        .await
        .unwrap();
    assert!(d.verified);
    assert_eq!(
        d.verified_by.as_deref(),
        Some(format!("dns:admin:{}", fx.admin_user).as_str())
    );
    assert_eq!(
        tenant::find_by_email_domain(&fx.store.db, "x@newco.test")
            .await
            .unwrap()
            .map(|t| t.slug),
        Some("acme".to_string())
    );
    // Another tenant's domain cannot be claimed.
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/domains",
        cookie,
        Some(format!("csrf={token}&domain=beta.test")),
    )
    .await;
    assert_eq!(status, 409, "{body}");
}

#[actix_web::test]
async fn a_connection_added_in_a_setup_session_vouches_for_no_admin_group_until_enabled() {
    let fx = fixture().await;
    role::set_admin_group(
        &fx.store,
        &fx.clock,
        &fx.acme,
        Some("GH-Admins"),
        "operator",
    )
    .await
    .unwrap();
    let (inv, _) = invitation::create(
        &fx.store,
        &fx.clock,
        &fx.acme,
        "first@acme.test",
        "operator",
    )
    .await
    .unwrap();
    // The invitee's (possibly attacker-controlled) IdP, added in the setup session: pending.
    let pending = connection::add_oidc_by(
        &fx.store,
        &fx.clock,
        &testkit::master_key(),
        &fx.acme,
        connection::NewOidcConnection {
            name: "Mine",
            issuer: "https://idp.attacker.test",
            client_id: "gh",
            client_secret: "s",
            preset: "generic",
            settings: serde_json::json!({}),
        },
        &format!("invitation:{}", inv.id),
        Some(&inv.id),
    )
    .await
    .unwrap();
    assert!(!pending.enabled);
    assert_eq!(
        connection::setup_invitation(&fx.store.db, &fx.acme, &pending.id)
            .await
            .unwrap()
            .as_deref(),
        Some(inv.id.as_str())
    );
    assert!(connection::list_enabled(&fx.store.db, &fx.acme)
        .await
        .unwrap()
        .iter()
        .all(|c| c.id != pending.id));
    // A session through it whose IdP claims the admin group: not an admin.
    let id = FederatedIdentity {
        connection_id: pending.id.clone(),
        subject: "mallory".into(),
        email: Some("mallory@acme.test".into()),
        groups: vec!["GH-Admins".into()],
        ..Default::default()
    };
    let (u, _) = authz_core::user::upsert_federated(&fx.store.db, &fx.clock, &fx.acme, &id)
        .await
        .unwrap();
    let (cookie, s) = session::create(
        &fx.store.db,
        &fx.clock,
        &fx.acme,
        &u.id,
        &pending.id,
        fx.clock.now_us(),
    )
    .await
    .unwrap();
    session::set_idp_groups(&fx.store.db, &s.id, &id.groups)
        .await
        .unwrap();
    assert_eq!(
        role::session_admin_via(&fx.store.db, &fx.acme, &s)
            .await
            .unwrap(),
        None
    );
    let app = app(&fx).await;
    let (status, _, _) = send(
        &app,
        "GET",
        "/admin/t/acme/settings",
        Some(("gh_session", &cookie)),
        None,
    )
    .await;
    assert_eq!(status, 403);
    // Once an admin enables it, it is a connection like any other.
    connection::set_enabled(&fx.store, &fx.clock, &fx.acme, &pending.id, true, "admin:x")
        .await
        .unwrap();
    assert_eq!(
        connection::setup_invitation(&fx.store.db, &fx.acme, &pending.id)
            .await
            .unwrap(),
        None
    );
    assert!(role::session_admin_via(&fx.store.db, &fx.acme, &s)
        .await
        .unwrap()
        .is_some());
}

#[actix_web::test]
async fn an_unverified_domain_is_reserved_for_a_week_only() {
    use authz_core::admin::domain;
    let fx = fixture().await;
    let beta = tenant::find_by_slug(&fx.store.db, "beta").await.unwrap().id;
    domain::add(
        &fx.store,
        &fx.clock,
        &beta,
        "bigcorp.test",
        "admin:squatter",
    )
    .await
    .unwrap();
    let err = domain::add(&fx.store, &fx.clock, &fx.acme, "bigcorp.test", "admin:x")
        .await
        .unwrap_err();
    assert!(matches!(err, authz_core::CoreError::Conflict(_)), "{err:?}");
    fx.clock.advance_secs(domain::UNVERIFIED_HOLD_SECS + 1);
    let d = domain::add(&fx.store, &fx.clock, &fx.acme, "bigcorp.test", "admin:x")
        .await
        .unwrap();
    assert!(!d.verified);
    assert!(domain::list(&fx.store.db, &beta)
        .await
        .unwrap()
        .iter()
        .all(|d| d.domain != "bigcorp.test"));
    // A verified domain is never taken over.
    fx.clock.advance_secs(domain::UNVERIFIED_HOLD_SECS + 1);
    let err = domain::add(&fx.store, &fx.clock, &beta, "acme.test", "admin:squatter")
        .await
        .unwrap_err();
    assert!(matches!(err, authz_core::CoreError::Conflict(_)), "{err:?}");
}

#[actix_web::test]
async fn user_search_is_a_case_insensitive_substring_not_a_pattern() {
    let fx = fixture().await;
    let conns = connection::list(&fx.store.db, &fx.acme).await.unwrap();
    let id = FederatedIdentity {
        connection_id: conns[0].id.clone(),
        subject: "zed".into(),
        email: Some("z_ed@acme.test".into()),
        name: Some("Zed Capital".into()),
        ..Default::default()
    };
    authz_core::user::upsert_federated(&fx.store.db, &fx.clock, &fx.acme, &id)
        .await
        .unwrap();
    let find = |q: &'static str| {
        let store = fx.store.clone();
        let t = fx.acme.clone();
        async move {
            authz_core::user::search(&store.db, &t, Some(q), 50)
                .await
                .unwrap()
                .into_iter()
                .map(|u| u.subject)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        find("capital").await,
        ["zed"],
        "names match whatever their case"
    );
    assert_eq!(find("z_e").await, ["zed"]);
    assert_eq!(
        find("_").await,
        ["zed"],
        "an underscore is itself, not any character"
    );
    assert!(
        find("%").await.is_empty(),
        "a percent sign is itself, not everything"
    );
}

#[actix_web::test]
async fn an_invitation_cannot_be_accepted_from_another_site() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let (_, token) = invitation::create(&fx.store, &fx.clock, &fx.acme, "x@acme.test", "operator")
        .await
        .unwrap();
    let post = |headers: Vec<(&'static str, &'static str)>| {
        let mut req = test::TestRequest::post().uri(&format!("/admin/invitations/{token}"));
        for h in headers {
            req = req.insert_header(h);
        }
        req.to_request()
    };
    for cross in [
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![("origin", "https://evil.example")],
    ] {
        let r = test::call_service(&app, post(cross.clone())).await;
        assert_eq!(r.status().as_u16(), 403, "{cross:?}");
    }
    assert!(invitation::list(&fx.store.db, &fx.acme).await.unwrap()[0]
        .accepted_at
        .is_none());
    // The page's own button: same-origin (Origin: null under no-referrer).
    let r = test::call_service(
        &app,
        post(vec![("sec-fetch-site", "same-origin"), ("origin", "null")]),
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
}

#[actix_web::test]
async fn the_front_door_finds_the_organisation_by_verified_email_domain() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let (status, _, body) = send(&app, "GET", "/admin", None, None).await;
    assert_eq!(status, 200);
    assert!(body.contains("Your work email"), "{body}");
    let (status, location, _) = send(
        &app,
        "POST",
        "/admin",
        None,
        Some("email=ann%40Acme.test".into()),
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/admin/t/acme/login"));
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin",
        None,
        Some("email=someone%40unknown.test".into()),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("No organisation signs in with that address"),
        "{body}"
    );
    let (status, _, _) = send(&app, "GET", "/admin/t/nope/", None, None).await;
    assert_eq!(
        status, 404,
        "an unknown organisation is a page that says so"
    );
}

#[actix_web::test]
async fn a_new_invitee_inherits_the_connection_a_lapsed_setup_session_left_pending() {
    let fx = fixture().await;
    let (first, t1) = invitation::create(
        &fx.store,
        &fx.clock,
        &fx.acme,
        "first@acme.test",
        "operator",
    )
    .await
    .unwrap();
    invitation::accept(&fx.store, &fx.clock, &t1).await.unwrap();
    let pending = connection::add_oidc_by(
        &fx.store,
        &fx.clock,
        &testkit::master_key(),
        &fx.acme,
        connection::NewOidcConnection {
            name: "Configured in time",
            issuer: "https://idp.example.test",
            client_id: "gh",
            client_secret: "s",
            preset: "generic",
            settings: serde_json::json!({}),
        },
        "invitation",
        Some(&first.id),
    )
    .await
    .unwrap();
    // The 24 hours pass before anyone signs in; the operator invites again.
    fx.clock.advance_secs(invitation::SETUP_SECS + 1);
    let (second, t2) = invitation::create(
        &fx.store,
        &fx.clock,
        &fx.acme,
        "first@acme.test",
        "operator",
    )
    .await
    .unwrap();
    invitation::accept(&fx.store, &fx.clock, &t2).await.unwrap();
    assert_eq!(
        connection::setup_invitation(&fx.store.db, &fx.acme, &pending.id)
            .await
            .unwrap()
            .as_deref(),
        Some(second.id.as_str())
    );
    // A live setup session's connections are never taken over.
    let (third, t3) = invitation::create(
        &fx.store,
        &fx.clock,
        &fx.acme,
        "other@acme.test",
        "operator",
    )
    .await
    .unwrap();
    invitation::accept(&fx.store, &fx.clock, &t3).await.unwrap();
    assert_eq!(
        connection::setup_invitation(&fx.store.db, &fx.acme, &pending.id)
            .await
            .unwrap()
            .as_deref(),
        Some(second.id.as_str()),
        "not moved to {}",
        third.id
    );
}

#[actix_web::test]
async fn client_decisions_are_posted_with_the_client_id_in_the_form() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let reg = authz_core::client::add_preregistered(
        &fx.store,
        &fx.clock,
        &Default::default(),
        "Agent",
        &["https://agent.example.test/cb".to_string()],
        false,
    )
    .await
    .unwrap();
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let form = format!(
        "csrf={}&client_id={}&decision=block",
        csrf(&fx.admin.cookie),
        reg.client.client_id
    );
    let (status, location, body) = send(
        &app,
        "POST",
        "/admin/t/acme/clients/policy",
        cookie,
        Some(form),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/t/acme/clients"),
        "{body}"
    );
    assert!(!authz_core::admin::client_policy::permits(
        &fx.store.db,
        &fx.acme,
        &reg.client.client_id
    )
    .await
    .unwrap());
    let (_, _, page) = send(&app, "GET", "/admin/t/acme/clients", cookie, None).await;
    assert!(
        page.contains("blocked") && page.contains(&reg.client.client_id),
        "{page}"
    );
}

/// An https server on 127.0.0.2 that answers every request with `body`: an internal service
/// only the operator's allow-list reaches. Returns (CA PEM, port).
fn internal_https_server(body: &'static str) -> (Vec<u8>, u16) {
    crate::http::tls::https_on_127_0_0_2(move |_, _| body.to_string())
}

const INTERNAL_BODY: &str = r#"{"issuer":"https://vault.corp.internal/","authorization_endpoint":"https://vault.corp.internal/auth","secret":"INTERNAL-SECRET-7f3a"}"#;

fn assert_nothing_leaked(what: &str, status: u16, body: &str) {
    assert_eq!(status, 400, "{what}: {body}");
    // The refused form comes back with the admin's own input kept (the URL they typed): what
    // must not leak is in the error shown, the `role="alert"` text.
    let body = &guide::alerts(body);
    for leak in [
        "INTERNAL-SECRET",
        "vault.corp.internal",
        "127.0.0.",
        "resolves to",
        "Connect",
        "deserialize",
    ] {
        assert!(
            !body.contains(leak),
            "{what}: the page shows `{leak}`:\n{body}"
        );
    }
}

/// Review F3: URLs a tenant admin types go through the public fetcher. The operator's
/// allow-list (here 127.0.0.0/8) and extra CA do not reach the console, and the error page
/// names the failed step only: no fetched body, no resolved address, no port state.
#[actix_web::test]
async fn console_urls_cannot_reach_the_operators_private_ranges_and_errors_reflect_nothing() {
    let fx = fixture().await;
    let (ca, port) = internal_https_server(INTERNAL_BODY);
    let (allow, resolve) =
        safe_fetch::FetchConfig::parse_lists("127.0.0.0/8", "internal.test=127.0.0.2").unwrap();
    let operator = safe_fetch::SafeFetcher::new(&safe_fetch::FetchConfig {
        extra_ca_pem: Some(ca.clone()),
        allow,
        resolve,
    })
    .unwrap();
    // The operator's fetcher does reach the internal server: the refusals below are the
    // console's choice of fetcher, not a broken test server.
    let got = operator
        .get(&format!("https://127.0.0.2:{port}/x"), "application/json")
        .await
        .expect("the operator's fetcher reaches 127.0.0.2");
    assert!(String::from_utf8_lossy(&got.body).contains("INTERNAL-SECRET"));
    let public = safe_fetch::SafeFetcher::new(&Default::default()).unwrap();
    let app = app_with(&fx, "127.0.0.1:9".parse().unwrap(), operator, public).await;
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let token = csrf(&fx.admin.cookie);
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();

    for url in [
        format!("https://127.0.0.2:{port}/.well-known/openid-configuration"),
        format!("https://internal.test:{port}/metadata"),
        "https://localhost:5432/x".to_string(),
    ] {
        let form = format!(
            "csrf={token}&preset=generic&name=p&metadata_url={}",
            enc(&url)
        );
        let (status, _, body) = send(
            &app,
            "POST",
            "/admin/t/acme/connections/saml",
            cookie,
            Some(form),
        )
        .await;
        assert_nothing_leaked(&url, status, &body);
        assert!(body.contains("could not be fetched"), "{body}");
    }
    for issuer in [
        format!("https://127.0.0.2:{port}"),
        format!("https://internal.test:{port}"),
        "https://localhost:5432/x".to_string(),
        "https://127.0.0.2:1".to_string(),
    ] {
        let form = format!(
            "csrf={token}&preset=generic&name=o&client_id=c&client_secret=s&issuer={}",
            enc(&issuer)
        );
        let (status, _, body) = send(
            &app,
            "POST",
            "/admin/t/acme/connections/oidc",
            cookie,
            Some(form),
        )
        .await;
        assert_nothing_leaked(&issuer, status, &body);
        assert!(
            body.contains("the discovery document could not be fetched"),
            "{body}"
        );
    }
    // An invitation's setup session is held to the same rules.
    let (_, invite) = invitation::create(
        &fx.store,
        &fx.clock,
        &fx.acme,
        "first@acme.test",
        "operator",
    )
    .await
    .unwrap();
    let (_, secret) = invitation::accept(&fx.store, &fx.clock, &invite)
        .await
        .unwrap();
    let setup_csrf = sha256_hex(&format!("console|setup|{secret}"));
    let form = format!(
        "csrf={setup_csrf}&preset=generic&name=p&metadata_url={}",
        enc(&format!("https://127.0.0.2:{port}/metadata"))
    );
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/connections/saml",
        Some(("gh_setup", secret.as_str())),
        Some(form),
    )
    .await;
    assert_nothing_leaked("setup session", status, &body);
    assert!(body.contains("could not be fetched"), "{body}");
    // Nothing was added.
    assert_eq!(
        connection::list(&fx.store.db, &fx.acme)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// A document that is not what the form asked for is refused by category: the parser's error,
/// which quotes the input, stays in the log.
#[actix_web::test]
async fn a_document_that_is_not_metadata_or_discovery_is_refused_without_quoting_it() {
    let fx = fixture().await;
    let (ca, port) = internal_https_server(INTERNAL_BODY);
    // A public fetcher that trusts the test CA and reaches 127.0.0.2: how the tests stand in
    // for a public IdP (GATEHOUSE_CONSOLE_FETCH_CA_FILE / _ALLOW_CIDRS).
    let (allow, resolve) = safe_fetch::FetchConfig::parse_lists("127.0.0.2/32", "").unwrap();
    let public = safe_fetch::SafeFetcher::new(&safe_fetch::FetchConfig {
        extra_ca_pem: Some(ca),
        allow,
        resolve,
    })
    .unwrap();
    let app = app_with(&fx, "127.0.0.1:9".parse().unwrap(), public.clone(), public).await;
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let token = csrf(&fx.admin.cookie);
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();

    let url = format!("https://127.0.0.2:{port}/metadata");
    let form = format!(
        "csrf={token}&preset=generic&name=p&metadata_url={}",
        enc(&url)
    );
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/connections/saml",
        cookie,
        Some(form),
    )
    .await;
    assert_nothing_leaked("fetched metadata", status, &body);
    assert!(body.contains("not SAML IdP metadata"), "{body}");
    // Pasted: the same.
    let form = format!(
        "csrf={token}&preset=generic&name=p&metadata={}",
        enc("<EntityDescriptor>INTERNAL-SECRET-pasted</Entity>")
    );
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/connections/saml",
        cookie,
        Some(form),
    )
    .await;
    assert_nothing_leaked("pasted metadata", status, &body);
    assert!(body.contains("not SAML IdP metadata"), "{body}");
    // A discovery document naming another issuer: the category, not the issuer it named.
    let form = format!(
        "csrf={token}&preset=generic&name=o&client_id=c&client_secret=s&issuer={}",
        enc(&format!("https://127.0.0.2:{port}"))
    );
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/connections/oidc",
        cookie,
        Some(form),
    )
    .await;
    assert_nothing_leaked("discovery", status, &body);
    assert!(
        body.contains("the discovery document is invalid") || body.contains("issuer mismatch"),
        "{body}"
    );
    assert_eq!(
        connection::list(&fx.store.db, &fx.acme)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[actix_web::test]
async fn a_users_page_lists_their_apps_by_name() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let spec: authz_core::resource::ResourceSpec = serde_json::from_value(serde_json::json!({
        "uri": "https://crm.example.test/mcp", "display_name": "Acme CRM",
        "scopes": [{"name": "crm:read", "description": "Read", "tier": "routine"}],
        "tools": []
    }))
    .unwrap();
    let res = authz_core::resource::register(&fx.store, &fx.clock, spec)
        .await
        .unwrap()
        .resource;
    // A client that is gone is shown by its id; one never used has no last use.
    authz_core::consent::remember(
        &fx.store.db,
        &fx.clock,
        &fx.acme,
        &fx.plain_user,
        "cl-gone",
        &res.id,
        &["crm:read".to_string()],
        authz_core::scope::Tier::Routine,
    )
    .await
    .unwrap();
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let (status, _, body) = send(
        &app,
        "GET",
        &format!("/admin/t/acme/users/{}", fx.plain_user),
        cookie,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<td>cl-gone</td><td>Acme CRM</td><td><code>crm:read</code>"),
        "{body}"
    );
    let apps = authz_core::consent::apps_of_user(&fx.store.db, &fx.acme, &fx.plain_user)
        .await
        .unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(
        (apps[0].client_name.as_deref(), apps[0].last_used),
        (None, None)
    );
}

#[actix_web::test]
async fn an_admin_creates_a_service_account_sees_the_secret_once_and_disables_it() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let spec: authz_core::resource::ResourceSpec = serde_json::from_value(serde_json::json!({
        "uri": "https://crm.example.test/mcp", "display_name": "Acme CRM",
        "scopes": [{"name": "crm:read", "description": "Read", "tier": "routine"},
                   {"name": "crm:admin", "description": "Admin", "tier": "critical"}],
        "tools": []
    }))
    .unwrap();
    authz_core::resource::register(&fx.store, &fx.clock, spec)
        .await
        .unwrap();
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let (status, _, page) = send(&app, "GET", "/admin/t/acme/service-accounts", cookie, None).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<code>crm:read</code>") && !page.contains("<code>crm:admin</code>"),
        "only grantable scopes are offered: {page}"
    );
    let form = |grants: &str| {
        serde_urlencoded::to_string([
            ("csrf", csrf(&fx.admin.cookie).as_str()),
            ("name", "nightly"),
            ("grants", grants),
            ("auth_method", "client_secret_basic"),
        ])
        .unwrap()
    };
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/service-accounts",
        cookie,
        Some(form("https://crm.example.test/mcp crm:read crm:admin")),
    )
    .await;
    assert_eq!(status, 400, "a critical scope is refused: {body}");
    assert!(body.contains("critical"), "{body}");
    let (status, _, body) = send(
        &app,
        "POST",
        "/admin/t/acme/service-accounts",
        cookie,
        Some(form("https://crm.example.test/mcp crm:read")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("ghsvc_") && body.contains("shown only once"),
        "{body}"
    );
    let accounts = authz_core::service_account::list(&fx.store.db, &fx.acme)
        .await
        .unwrap();
    let id = accounts[0].id.clone();
    let (status, _, page) = send(
        &app,
        "GET",
        &format!("/admin/t/acme/service-accounts/{id}"),
        cookie,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(!page.contains("ghsvc_"), "the secret is never shown again");
    let (status, location, _) = send(
        &app,
        "POST",
        &format!("/admin/t/acme/service-accounts/{id}/state"),
        cookie,
        Some(format!("csrf={}&state=disabled", csrf(&fx.admin.cookie))),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("/admin/t/acme/service-accounts/{id}").as_str())
    );
    assert!(
        !authz_core::service_account::get(&fx.store.db, &fx.acme, &id)
            .await
            .unwrap()
            .enabled()
    );
}

#[actix_web::test]
async fn the_admin_turns_personal_api_keys_on_sees_every_key_and_revokes_one() {
    use authz_core::personal_key::{self, NewKey, Status};
    let fx = fixture().await;
    let app = app(&fx).await;
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let (status, _, body) = send(&app, "GET", "/admin/t/acme/settings", cookie, None).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("name=\"api_keys_enabled\" >"),
        "off by default: {body}"
    );
    let form = format!(
        "api_keys_enabled=on&api_key_max_days=20&provisioning=jit&csrf={}",
        csrf(&fx.admin.cookie)
    );
    let (status, _, body) = send(&app, "POST", "/admin/t/acme/settings", cookie, Some(form)).await;
    assert_eq!(status, 303, "{body}");
    let s = authz_core::admin::settings::get(&fx.store.db, &fx.acme)
        .await
        .unwrap();
    assert!(s.api_keys_enabled());
    assert_eq!(s.api_key_max_days(), 20);
    // A member's key (the resource and grant the key needs).
    let reg = authz_core::resource::register(&fx.store, &fx.clock, world::crm_spec())
        .await
        .unwrap();
    authz_core::grant::add_for_everyone(
        &fx.store,
        &fx.clock,
        &fx.acme,
        &reg.resource,
        &[world::READ.to_string()],
    )
    .await
    .unwrap();
    let created = personal_key::create(
        &fx.store,
        &fx.clock,
        NewKey {
            tenant: &fx.acme,
            user_id: &fx.plain_user,
            auth_time: fx.clock.now_us(),
            resource: &reg.resource,
            name: "Pat's Cursor",
            client_label: "cursor",
            scopes: &[world::READ.to_string()],
            days: 20,
            actor: "user:pat",
        },
    )
    .await
    .unwrap();
    let (status, _, body) = send(&app, "GET", "/admin/t/acme/user-keys", cookie, None).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("Pat&#39;s Cursor") || body.contains("Pat&#x27;s Cursor"),
        "{body}"
    );
    assert!(body.contains(&created.key.id) && !body.contains(&created.secret));
    let form = format!("csrf={}", csrf(&fx.admin.cookie));
    let path = format!("/admin/t/acme/user-keys/{}/revoke", created.key.id);
    // Unconfirmed, the console asks first and says what stops; nothing is revoked yet.
    let (status, _, body) = send(&app, "POST", &path, cookie, Some(form.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("Remove API key?") && body.contains("1 credential stop working."),
        "{body}"
    );
    let k = personal_key::get(&fx.store.db, &fx.clock, &fx.acme, None, &created.key.id)
        .await
        .unwrap();
    assert_eq!(k.status, Status::Active);
    let form = format!("{form}&confirm=yes");
    let (status, location, _) = send(&app, "POST", &path, cookie, Some(form)).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/t/acme/user-keys?removed=API+key")
    );
    let k = personal_key::get(&fx.store.db, &fx.clock, &fx.acme, None, &created.key.id)
        .await
        .unwrap();
    assert_eq!(k.status, Status::Revoked);
}

#[actix_web::test]
async fn removing_a_connection_asks_says_what_it_revokes_and_signs_its_people_out() {
    use authz_core::entities::browser_sessions;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let fx = fixture().await;
    let app = app(&fx).await;
    let other = world::add_oidc(
        &fx.store,
        &fx.clock,
        &fx.acme,
        "Contractors IdP",
        "https://contractors.example.test",
        "gh",
        "s3cret",
    )
    .await
    .id;
    let now = fx.clock.now_us();
    let (zed, _) = user_session(&fx.store, &fx.clock, &fx.acme, &other, "zed", now).await;
    let cookie = Some(("gh_session", fx.admin.cookie.as_str()));
    let ask = format!("/admin/t/acme/connections/{other}/remove");
    let (status, _, page) = send(&app, "GET", &ask, cookie, None).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Contractors IdP"), "{page}");
    assert!(page.contains("1 signed-in session ended."), "{page}");
    assert!(page.contains("1 person loses access through it."), "{page}");
    // Another tenant's admin cannot even see the question.
    let beta = Some(("gh_session", fx.beta_admin.cookie.as_str()));
    let (status, _, _) = send(&app, "GET", &ask, beta, None).await;
    assert_ne!(status, 200);
    let live = || async {
        browser_sessions::Entity::find()
            .filter(browser_sessions::Column::UserId.eq(zed.clone()))
            .filter(browser_sessions::Column::RevokedAt.is_null())
            .all(&fx.store.db)
            .await
            .unwrap()
            .len()
    };
    // Without confirm=yes the POST asks again and removes nothing.
    let token = csrf(&fx.admin.cookie);
    let unconfirmed = serde_urlencoded::to_string([("csrf", token.as_str())]).unwrap();
    let (status, _, page) = send(&app, "POST", &ask, cookie, Some(unconfirmed)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("name=\"confirm\" value=\"yes\""), "{page}");
    assert_eq!(live().await, 1);
    let confirmed =
        serde_urlencoded::to_string([("csrf", token.as_str()), ("confirm", "yes")]).unwrap();
    let (status, location, _) = send(&app, "POST", &ask, cookie, Some(confirmed)).await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with("/admin/t/acme/connections"),
        "{location}"
    );
    assert_eq!(live().await, 0, "its people's sessions end at once");
    let (status, _, _) = send(
        &app,
        "GET",
        &format!("/admin/t/acme/connections/{other}"),
        cookie,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, _, list) = send(&app, "GET", "/admin/t/acme/connections", cookie, None).await;
    assert!(!list.contains("Contractors IdP"), "{list}");
}
