//! The operator area of the console (ADR 0021): signed in by pasting an operator key (never a
//! tenant admin's), a database session that signing out or revoking the key ends, a CSRF token
//! on every form, and removals that ask first and really revoke. Every route of
//! `OPERATOR_ROUTES` refuses a caller without the session.
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use admin_api::console::operator::OPERATOR_ROUTES;
use authz_core::api_key::{self, Scope};
use authz_core::crypto::sha256_hex;
use authz_core::testkit::world::{self, World, READ};

struct Answer {
    status: u16,
    location: String,
    set_cookie: String,
    body: String,
}

async fn send<S, B>(
    app: &S,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<String>,
) -> Answer
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = test::TestRequest::default()
        .method(actix_web::http::Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path);
    if let Some(c) = cookie {
        req = req.cookie(actix_web::cookie::Cookie::new(
            "__Host-gh_operator",
            c.to_string(),
        ));
    }
    if let Some(f) = form {
        req = req
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(f);
    }
    let r = test::call_service(app, req.to_request()).await;
    let header = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (status, location, set_cookie) = (
        r.status().as_u16(),
        header("location"),
        header("set-cookie"),
    );
    let body = String::from_utf8_lossy(&test::read_body(r).await).to_string();
    Answer {
        status,
        location,
        set_cookie,
        body,
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

/// The session cookie's value from a `Set-Cookie` header.
fn cookie_value(set_cookie: &str) -> String {
    let first = set_cookie.split(';').next().unwrap();
    first
        .strip_prefix("__Host-gh_operator=")
        .expect(set_cookie)
        .to_string()
}

#[actix_web::test]
async fn the_operator_signs_in_with_a_key_and_removes_with_confirmation() {
    let w = World::new().await;
    let acme = w.tenant("acme", "acme.test", &[READ]).await;
    let tokens = w.tokens(&acme, &[READ]).await;
    let (op_key, op_secret) = api_key::create(&w.store, &w.clock, Scope::Operator, "ops", 3600)
        .await
        .unwrap();
    let admin = world::api_key(&w.store, &w.clock, Scope::TenantAdmin(acme.id().clone())).await;
    let app = crate::http::world::Node::new(&w.store, &w.clock, world::ISSUER)
        .app()
        .await;

    let a = send(&app, "GET", "/admin/operator", None, None).await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("name=\"key\""), "{}", a.body);
    // A tenant admin's key, or anything else, opens nothing; the error is next to the field.
    for wrong in [admin.as_str(), "ghop_nope", ""] {
        let a = send(
            &app,
            "POST",
            "/admin/operator/sign-in",
            None,
            Some(form(&[("key", wrong)])),
        )
        .await;
        assert_eq!(a.status, 401, "{wrong}");
        assert!(a.body.contains("role=\"alert\""), "{}", a.body);
        assert!(a.set_cookie.is_empty());
    }
    let a = send(
        &app,
        "POST",
        "/admin/operator/sign-in",
        None,
        Some(form(&[("key", &op_secret)])),
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.location, "/admin/operator/tenants");
    assert!(
        a.set_cookie.contains("HttpOnly") && a.set_cookie.contains("SameSite=Strict"),
        "{}",
        a.set_cookie
    );
    let cookie = cookie_value(&a.set_cookie);
    let csrf = sha256_hex(&format!("console|operator|{cookie}"));

    // Every route refuses a caller without the session, and every POST one without the token.
    for r in OPERATOR_ROUTES {
        let path = format!(
            "/admin/operator{}",
            r.path
                .replace("{tenant}", "acme")
                .replace("{resource_id}", &w.resource.id)
                .replace("{client_id}", &w.client.client_id)
                .replace("{key_id}", &op_key.id)
        );
        let a = send(
            &app,
            r.method,
            &path,
            None,
            (r.method == "POST").then(|| form(&[("csrf", &csrf)])),
        )
        .await;
        assert_eq!(
            (a.status, a.location.as_str()),
            (303, "/admin/operator"),
            "{} {path} signed out",
            r.method
        );
        let a = send(&app, r.method, &path, Some("forged"), None).await;
        assert_eq!(a.status, 303, "{} {path} with a made-up cookie", r.method);
        if r.method == "POST" {
            let a = send(
                &app,
                "POST",
                &path,
                Some(&cookie),
                Some(form(&[("confirm", "yes")])),
            )
            .await;
            assert_eq!(a.status, 403, "{path} without the CSRF token: {}", a.body);
        }
    }

    let a = send(&app, "GET", "/admin/operator/tenants", Some(&cookie), None).await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("acme.test"), "{}", a.body);
    let a = send(
        &app,
        "GET",
        "/admin/operator/resources",
        Some(&cookie),
        None,
    )
    .await;
    assert!(a.body.contains("Acme CRM"), "{}", a.body);
    let res = format!("/admin/operator/resources/{}", w.resource.id);
    let a = send(
        &app,
        "POST",
        &res,
        Some(&cookie),
        Some(form(&[("csrf", &csrf), ("display_name", "CRM")])),
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let a = send(&app, "GET", &res, Some(&cookie), None).await;
    assert!(a.body.contains("<h1>CRM</h1>"), "{}", a.body);
    let client = format!("/admin/operator/clients/{}", w.client.client_id);
    let a = send(
        &app,
        "GET",
        &format!("{client}/remove"),
        Some(&cookie),
        None,
    )
    .await;
    assert!(
        a.body.contains("1 active token grant revoked at once."),
        "{}",
        a.body
    );

    let a = send(
        &app,
        "POST",
        &client,
        Some(&cookie),
        Some(form(&[("csrf", &csrf), ("client_name", "Claude AI")])),
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert!(send(&app, "GET", &client, Some(&cookie), None)
        .await
        .body
        .contains("<h1>Claude AI</h1>"));
    let t = "/admin/operator/tenants/acme";
    let change = form(&[
        ("csrf", &csrf),
        ("name", "Acme Corp"),
        ("provisioning", "scim"),
    ]);
    assert_eq!(
        send(&app, "POST", t, Some(&cookie), Some(change))
            .await
            .status,
        303
    );
    let a = send(&app, "GET", t, Some(&cookie), None).await;
    assert!(
        a.body.contains("<h1>Acme Corp</h1>") && a.body.contains("value=\"scim\" selected"),
        "{}",
        a.body
    );
    let bad = form(&[("csrf", &csrf), ("provisioning", "ldap")]);
    let a = send(&app, "POST", t, Some(&cookie), Some(bad)).await;
    assert_eq!(a.status, 400, "{}", a.body);

    // The tenant: the page says what goes, an unconfirmed POST asks again, a confirmed one removes.
    let ask = "/admin/operator/tenants/acme/remove";
    let a = send(&app, "GET", ask, Some(&cookie), None).await;
    assert_eq!(a.status, 200);
    assert!(
        a.body.contains("1 active token grant revoked at once."),
        "{}",
        a.body
    );
    assert!(a.body.contains("1 signed-in session ended."), "{}", a.body);
    let a = send(
        &app,
        "POST",
        ask,
        Some(&cookie),
        Some(form(&[("csrf", &csrf)])),
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(w.active(&tokens.access_token).await);
    let a = send(
        &app,
        "POST",
        ask,
        Some(&cookie),
        Some(form(&[("csrf", &csrf), ("confirm", "yes")])),
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert!(
        !w.active(&tokens.access_token).await,
        "the tenant's tokens are revoked"
    );
    let a = send(&app, "GET", "/admin/operator/tenants", Some(&cookie), None).await;
    assert!(!a.body.contains("acme.test"), "{}", a.body);
    let rows = world::audit_rows(&w.store, acme.id().as_str()).await;
    let removed = rows
        .iter()
        .find(|r| r.action == "tenant.removed")
        .expect("audited");
    assert_eq!(removed.actor, Some(format!("operator-key:{}", op_key.id)));

    // Operator keys: renamed on their page; removing a spare one says it ends nothing else.
    let (spare, _) = api_key::create(&w.store, &w.clock, Scope::Operator, "spare", 3600)
        .await
        .unwrap();
    let page = format!("/admin/operator/operator-keys/{}", spare.id);
    let a = send(
        &app,
        "POST",
        &page,
        Some(&cookie),
        Some(form(&[("csrf", &csrf), ("name", "ci")])),
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let a = send(
        &app,
        "GET",
        "/admin/operator/operator-keys",
        Some(&cookie),
        None,
    )
    .await;
    assert!(
        a.body.contains(">ci</a>") && a.body.contains("(this session's)"),
        "{}",
        a.body
    );
    let a = send(&app, "GET", &format!("{page}/remove"), Some(&cookie), None).await;
    assert!(a.body.contains("1 credential stop working."), "{}", a.body);
    let a = send(
        &app,
        "POST",
        &format!("{page}/remove"),
        Some(&cookie),
        Some(form(&[("csrf", &csrf), ("confirm", "yes")])),
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let a = send(&app, "GET", &page, Some(&cookie), None).await;
    assert!(a.body.contains("revoked"), "{}", a.body);

    // Signing out ends the session on the server: the same cookie opens nothing.
    let a = send(
        &app,
        "POST",
        "/admin/operator/sign-out",
        Some(&cookie),
        Some(form(&[("csrf", &csrf)])),
    )
    .await;
    assert_eq!(a.status, 303);
    let a = send(&app, "GET", "/admin/operator/tenants", Some(&cookie), None).await;
    assert_eq!((a.status, a.location.as_str()), (303, "/admin/operator"));

    // Revoking the key ends a session opened with it.
    let a = send(
        &app,
        "POST",
        "/admin/operator/sign-in",
        None,
        Some(form(&[("key", &op_secret)])),
    )
    .await;
    let again = cookie_value(&a.set_cookie);
    assert_eq!(
        send(&app, "GET", "/admin/operator/clients", Some(&again), None)
            .await
            .status,
        200
    );
    api_key::revoke(&w.store, &w.clock, None, &op_key.id, "test")
        .await
        .unwrap();
    assert_eq!(
        send(&app, "GET", "/admin/operator/clients", Some(&again), None)
            .await
            .status,
        303
    );
}

/// The key-paste form is not an oracle to hammer: past the per-minute attempts of one network,
/// even the right key is refused until the window ends, and every refusal is audited.
#[actix_web::test]
async fn operator_sign_in_attempts_are_limited_and_audited() {
    let w = World::new().await;
    let (_, op_secret) = api_key::create(&w.store, &w.clock, Scope::Operator, "ops", 3600)
        .await
        .unwrap();
    let app = crate::http::world::Node::new(&w.store, &w.clock, world::ISSUER)
        .app()
        .await;
    let limit = authz_core::operator_session::SIGN_IN_PER_MINUTE;
    for _ in 0..limit {
        let wrong = Some(form(&[("key", "ghop_guess")]));
        let a = send(&app, "POST", "/admin/operator/sign-in", None, wrong).await;
        assert_eq!(a.status, 401);
    }
    let right = Some(form(&[("key", op_secret.as_str())]));
    let a = send(&app, "POST", "/admin/operator/sign-in", None, right).await;
    assert_eq!(a.status, 401, "over the limit, the right key waits too");
    assert!(a.body.contains("too many sign-in attempts"), "{}", a.body);
    assert!(a.set_cookie.is_empty());
    let failed = world::audit_rows(&w.store, authz_core::audit::PLATFORM_CHAIN)
        .await
        .into_iter()
        .filter(|e| e.action == "operator_console.sign_in_failed")
        .count();
    assert_eq!(failed as i64, limit, "each wrong key is audited");
    // A minute later the right key opens a session.
    w.clock.advance_secs(61);
    let right = Some(form(&[("key", op_secret.as_str())]));
    let a = send(&app, "POST", "/admin/operator/sign-in", None, right).await;
    assert_eq!(a.status, 303, "{}", a.body);
}
