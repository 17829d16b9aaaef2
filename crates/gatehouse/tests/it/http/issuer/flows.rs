//! End-to-end flows through the real HTTP surface (sign-in session pre-established; the
//! upstream IdP leg is covered by the interop suite against npm oidc-provider).
use super::common;

use actix_web::http::StatusCode;
use actix_web::test;
use common::*;
use serde_json::json;

/// Runs authorize → consent page → allow, returning the redirect to the client.
async fn authorize_and_consent<S, B>(
    app: &S,
    fx: &Fx,
    client_id: &str,
    redirect: &str,
    scope: &str,
) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let mut req =
        test::TestRequest::get().uri(&authorize_url(client_id, redirect, &[("scope", scope)]));
    for c in browser_cookies(Some(&fx.acme.session_cookie)) {
        req = req.cookie(c);
    }
    let r = test::call_service(app, req.to_request()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let consent = location(&r);
    assert!(
        consent.starts_with(&format!("{ISSUER}/consent?tx=")),
        "{consent}"
    );
    let path = consent.trim_start_matches(ISSUER).to_string();
    let mut req = test::TestRequest::get().uri(&path);
    for c in browser_cookies(Some(&fx.acme.session_cookie)) {
        req = req.cookie(c);
    }
    let r = test::call_service(app, req.to_request()).await;
    if r.status() == StatusCode::SEE_OTHER {
        return location(&r); // remembered consent applied silently
    }
    assert_eq!(r.status(), StatusCode::OK);
    let html = body_text(r).await;
    let tx = hidden(&html, "tx");
    let csrf = hidden(&html, "csrf");
    let mut pairs = vec![
        ("tx", tx.as_str()),
        ("csrf", csrf.as_str()),
        ("decision", "allow"),
    ];
    let scopes: Vec<String> = scope.split(' ').map(str::to_string).collect();
    for s in &scopes {
        pairs.push(("scope", s.as_str()));
    }
    let mut req = test::TestRequest::post()
        .uri("/consent")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(form(&pairs));
    for c in browser_cookies(Some(&fx.acme.session_cookie)) {
        req = req.cookie(c);
    }
    let r = test::call_service(app, req.to_request()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    location(&r)
}

#[actix_web::test]
async fn metadata_lists_only_what_is_implemented() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/.well-known/oauth-authorization-server")
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers().get("access-control-allow-origin").unwrap(), "*");
    let m = body_json(r).await;
    assert_eq!(m["issuer"], ISSUER);
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        m["grant_types_supported"],
        json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        ])
    );
    assert_eq!(m["token_endpoint_auth_methods_supported"][0], "none");
    assert_eq!(m["client_id_metadata_document_supported"], true);
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    assert!(m["scopes_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("offline_access")));
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/.well-known/openid-configuration")
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "not an OpenID provider");
    let r = test::call_service(
        &app,
        test::TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/oauth/token")
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "preflight never 401");
}

#[actix_web::test]
async fn full_flow_code_refresh_introspect_revoke() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let client_id = register_public(&app, REDIRECT).await;
    let back = authorize_and_consent(
        &app,
        &fx,
        &client_id,
        "http://127.0.0.1:53111/callback",
        "crm:customers:read offline_access openid",
    )
    .await;
    assert!(
        back.starts_with("http://127.0.0.1:53111/callback?"),
        "{back}"
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("st-123"));
    assert_eq!(query_param(&back, "iss").as_deref(), Some(ISSUER));
    let code = query_param(&back, "code").unwrap();

    let (s, tok) = post_form(
        &app,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", "http://127.0.0.1:53111/callback"),
            ("client_id", &client_id),
            ("resource", RES),
        ],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{tok}");
    assert_eq!(
        tok["scope"], "crm:customers:read",
        "unknown and openid scopes dropped, scope always stated"
    );
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["expires_in"], 3600);
    let at = tok["access_token"].as_str().unwrap().to_string();
    let rt = tok["refresh_token"].as_str().unwrap().to_string();
    assert!(at.len() >= 43);

    let (s, i) = post_form(
        &app,
        "/oauth/introspect",
        &[("token", &at)],
        Some((&fx.rs.0, &fx.rs.1)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(i["active"], true);
    assert_eq!(i["aud"], RES);
    assert_eq!(i["iss"], ISSUER);
    assert_eq!(i["client_id"], client_id.as_str());
    assert_eq!(i["sub"], fx.acme.user_id.as_str());
    assert_eq!(i["tenant"], fx.acme.id.as_str());
    assert_eq!(i["tier"], "routine");
    assert!(i["session_id"].is_string());

    let (s, t2) = post_form(
        &app,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t2}");
    let rt2 = t2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt2, rt, "refresh tokens rotate");

    let (s, _) = post_form(
        &app,
        "/oauth/revoke",
        &[("token", &rt2), ("client_id", &client_id)],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let at2 = t2["access_token"].as_str().unwrap();
    let (_, i) = post_form(
        &app,
        "/oauth/introspect",
        &[("token", at2)],
        Some((&fx.rs.0, &fx.rs.1)),
    )
    .await;
    assert_eq!(
        i["active"], false,
        "revoking the refresh token revokes its grant's access tokens"
    );
    let (s, e) = post_form(
        &app,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt2),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[actix_web::test]
async fn consent_page_shows_tiers_unverified_name_and_only_granted_scopes() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let client_id = register_public(&app, REDIRECT).await;
    let mut req = test::TestRequest::get().uri(&authorize_url(
        &client_id,
        REDIRECT,
        &[(
            "scope",
            "crm:customers:read crm:customers:export crm:customers:delete",
        )],
    ));
    for c in browser_cookies(Some(&fx.acme.session_cookie)) {
        req = req.cookie(c);
    }
    let r = test::call_service(&app, req.to_request()).await;
    let path = location(&r).trim_start_matches(ISSUER).to_string();
    let mut req = test::TestRequest::get().uri(&path);
    for c in browser_cookies(Some(&fx.acme.session_cookie)) {
        req = req.cookie(c);
    }
    let r = test::call_service(&app, req.to_request()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors 'none'"));
    let html = body_text(r).await;
    assert!(html.contains("Test Agent") && html.contains("unverified"));
    assert!(html.contains("crm:customers:read") && html.contains("tier-routine"));
    assert!(html.contains("crm:customers:export") && html.contains("tier-sensitive"));
    assert!(
        !html.contains("crm:customers:delete"),
        "not granted by the org, not offered"
    );
    assert!(html.contains("127.0.0.1"), "redirect host shown");

    // A consent POST without the browser binding's CSRF token is refused.
    let tx = hidden(&html, "tx");
    let mut req = test::TestRequest::post()
        .uri("/consent")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(form(&[
            ("tx", &tx),
            ("csrf", "forged"),
            ("decision", "allow"),
            ("scope", "crm:customers:read"),
        ]));
    for c in browser_cookies(Some(&fx.acme.session_cookie)) {
        req = req.cookie(c);
    }
    let r = test::call_service(&app, req.to_request()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Unticking everything / denying returns access_denied to the client.
    let csrf = hidden(&html, "csrf");
    let mut req = test::TestRequest::post()
        .uri("/consent")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(form(&[("tx", &tx), ("csrf", &csrf), ("decision", "deny")]));
    for c in browser_cookies(Some(&fx.acme.session_cookie)) {
        req = req.cookie(c);
    }
    let r = test::call_service(&app, req.to_request()).await;
    let back = location(&r);
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&back, "iss").as_deref(), Some(ISSUER));
}

#[actix_web::test]
async fn user_can_untick_scopes_and_sensitive_tier_shortens_lifetime() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let client_id = register_public(&app, REDIRECT).await;
    let back = authorize_and_consent(&app, &fx, &client_id, REDIRECT, "crm:customers:export").await;
    let code = query_param(&back, "code").unwrap();
    let (_, tok) = post_form(
        &app,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    assert_eq!(tok["scope"], "crm:customers:export");
    assert_eq!(tok["expires_in"], 900, "sensitive tier: 15 minutes");
}

#[actix_web::test]
async fn remembered_consent_is_silent_only_for_assured_clients() {
    let fx = fixture().await;
    let app = app(&fx).await;
    // Loopback public client: any local app could pose as it, so the page comes back.
    let loopback = register_public(&app, REDIRECT).await;
    authorize_and_consent(&app, &fx, &loopback, REDIRECT, "crm:customers:read").await;
    let mut req = test::TestRequest::get().uri(&authorize_url(&loopback, REDIRECT, &[]));
    for c in browser_cookies(Some(&fx.acme.session_cookie)) {
        req = req.cookie(c);
    }
    let r = test::call_service(&app, req.to_request()).await;
    let path = location(&r).trim_start_matches(ISSUER).to_string();
    let mut req = test::TestRequest::get().uri(&path);
    for c in browser_cookies(Some(&fx.acme.session_cookie)) {
        req = req.cookie(c);
    }
    let r = test::call_service(&app, req.to_request()).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "one-click confirmation for a loopback client"
    );
    assert!(body_text(r).await.contains("You approved this before"));

    // https redirect: identity assured by the redirect; the second authorization is silent.
    let web = register_public(&app, "https://claude.ai/api/mcp/auth_callback").await;
    authorize_and_consent(
        &app,
        &fx,
        &web,
        "https://claude.ai/api/mcp/auth_callback",
        "crm:customers:read",
    )
    .await;
    let back = authorize_and_consent(
        &app,
        &fx,
        &web,
        "https://claude.ai/api/mcp/auth_callback",
        "crm:customers:read",
    )
    .await;
    assert!(
        back.starts_with("https://claude.ai/api/mcp/auth_callback?code="),
        "{back}"
    );
}

#[actix_web::test]
async fn dcr_dedupes_public_clients_and_manages_confidential_ones() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let a = register_public(&app, "https://claude.ai/api/mcp/auth_callback").await;
    let b = register_public(&app, "https://claude.ai/api/mcp/auth_callback").await;
    assert_eq!(a, b, "identical public registrations share one client");

    let r = test::call_service(&app, test::TestRequest::post().uri("/oauth/register")
        .set_json(json!({"client_name": "Server app", "redirect_uris": ["https://app.example.com/cb"]})).to_request()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let c = body_json(r).await;
    assert_eq!(c["token_endpoint_auth_method"], "client_secret_basic");
    let id = c["client_id"].as_str().unwrap().to_string();
    let secret = c["client_secret"].as_str().unwrap().to_string();
    let rat = c["registration_access_token"].as_str().unwrap().to_string();
    let uri = c["registration_client_uri"]
        .as_str()
        .unwrap()
        .trim_start_matches(ISSUER)
        .to_string();

    let r = test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&uri)
            .insert_header(("authorization", format!("Bearer {rat}")))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = test::call_service(&app, test::TestRequest::put().uri(&uri).insert_header(("authorization", format!("Bearer {rat}")))
        .set_json(json!({"client_id": id, "client_name": "Renamed", "redirect_uris": ["https://app.example.com/cb2"]})).to_request()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        body_json(r).await["redirect_uris"],
        json!(["https://app.example.com/cb2"])
    );
    // The confidential client authenticates with Basic at the token endpoint.
    let (s, e) = post_form(
        &app,
        "/oauth/token",
        &[("grant_type", "authorization_code"), ("code", "x")],
        Some((&id, "wrong")),
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (s, e) = post_form(
        &app,
        "/oauth/token",
        &[("grant_type", "authorization_code"), ("code", "x")],
        Some((&id, &secret)),
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let r = test::call_service(
        &app,
        test::TestRequest::delete()
            .uri(&uri)
            .insert_header(("authorization", format!("Bearer {rat}")))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Shared public clients have no registration access token: they cannot be deleted.
    let r = test::call_service(
        &app,
        test::TestRequest::delete()
            .uri(&format!("/oauth/register/{a}"))
            .insert_header(("authorization", "Bearer anything"))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn resource_servers_post_tool_calls_to_the_audit_log() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let body = json!({"tenant": fx.acme.id.as_str(), "sub": fx.acme.user_id, "client_id": "c1", "session_id": "s1", "tool": "list_customers",
        "scopes": ["crm:customers:read"], "result": "success", "parameters": {"query": "acme", "api_key": "sk-live-123"}});
    let r = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/audit/v1/events")
            .set_json(body.clone())
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    use base64::Engine;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", fx.rs.0, fx.rs.1));
    let r = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/audit/v1/events")
            .insert_header(("authorization", format!("Basic {basic}")))
            .set_json(body.clone())
            .to_request(),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "no token was ever issued to this user for this resource"
    );
    let client_id = register_public(&app, REDIRECT).await;
    let back = authorize_and_consent(&app, &fx, &client_id, REDIRECT, "crm:customers:read").await;
    let code = query_param(&back, "code").unwrap();
    let (s, tok) = post_form(
        &app,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // The event names the client and session that actually held the token.
    let (_, i) = post_form(
        &app,
        "/oauth/introspect",
        &[("token", tok["access_token"].as_str().unwrap())],
        Some((&fx.rs.0, &fx.rs.1)),
    )
    .await;
    let mut body = body;
    body["client_id"] = json!(client_id);
    body["session_id"] = i["session_id"].clone();
    let r = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/audit/v1/events")
            .insert_header(("authorization", format!("Basic {basic}")))
            .set_json(body)
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let ev = authz_core::entities::audit_events::Entity::find()
        .filter(authz_core::entities::audit_events::Column::Action.eq("tool.called"))
        .one(&fx.store.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ev.tenant_id, fx.acme.id.as_str());
    assert!(ev.details.contains("list_customers") && ev.details.contains("acme"));
    assert!(
        !ev.details.contains("sk-live-123"),
        "secrets in parameters are redacted"
    );
    // A user of another tenant cannot be attributed.
    let other = json!({"tenant": fx.acme.id.as_str(), "sub": "not-a-user", "client_id": "c1", "tool": "t", "result": "success"});
    let r = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/audit/v1/events")
            .insert_header(("authorization", format!("Basic {basic}")))
            .set_json(other)
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_web::test]
async fn home_realm_discovery_offers_a_choice_when_a_tenant_has_several_connections() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let second = authz_core::connection::add_oidc(
        &fx.store,
        &fx.clock,
        &authz_core::testkit::master_key(),
        &fx.acme.id,
        authz_core::connection::NewOidcConnection {
            name: "New IdP",
            issuer: "https://idp2.example.test",
            client_id: "gh",
            client_secret: "s",
            preset: "generic",
            settings: json!({}),
        },
    )
    .await
    .unwrap();
    let other = add_tenant(&fx.store, &fx.clock, "globex", "globex.test", "hank").await;
    let client_id = register_public(&app, REDIRECT).await;
    // No session: authorize leads to the login page.
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&authorize_url(&client_id, REDIRECT, &[]))
            .cookie(actix_web::cookie::Cookie::new(BROWSER_COOKIE, browser()))
            .to_request(),
    )
    .await;
    let login = location(&r).trim_start_matches(ISSUER).to_string();
    assert!(login.starts_with("/login?tx="), "{login}");
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&login)
            .cookie(actix_web::cookie::Cookie::new(BROWSER_COOKIE, browser()))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = body_text(r).await;
    let (tx, csrf) = (hidden(&html, "tx"), hidden(&html, "csrf"));
    let post = |pairs: Vec<(&str, &str)>| {
        test::TestRequest::post()
            .uri("/login")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .cookie(actix_web::cookie::Cookie::new(BROWSER_COOKIE, browser()))
            .set_payload(form(&pairs))
            .to_request()
    };
    // An unknown domain is answered on the form itself.
    let r = test::call_service(
        &app,
        post(vec![
            ("tx", &tx),
            ("csrf", &csrf),
            ("email", "x@nowhere.test"),
        ]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(r).await.contains("No organisation signs in here"));
    // A forged CSRF token is refused.
    let r = test::call_service(
        &app,
        post(vec![
            ("tx", &tx),
            ("csrf", "forged"),
            ("email", "alice@acme.test"),
        ]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Two connections: the user chooses.
    let r = test::call_service(
        &app,
        post(vec![
            ("tx", &tx),
            ("csrf", &csrf),
            ("email", "alice@acme.test"),
        ]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = body_text(r).await;
    assert!(
        page.contains("several ways to sign in")
            && page.contains("New IdP")
            && page.contains(&second.id),
        "{page}"
    );
    // A connection of another tenant cannot be chosen for this address.
    let globex_conn = authz_core::connection::list_enabled(&fx.store.db, &other.id)
        .await
        .unwrap()
        .remove(0);
    let r = test::call_service(
        &app,
        post(vec![
            ("tx", &tx),
            ("csrf", &csrf),
            ("email", "alice@acme.test"),
            ("connection", &globex_conn.id),
        ]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(r)
        .await
        .contains("not available for this address"));
}

#[actix_web::test]
async fn the_user_sees_connected_apps_on_account_and_revoking_one_kills_its_tokens() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let client_id = register_public(&app, REDIRECT).await;
    let back = authorize_and_consent(&app, &fx, &client_id, REDIRECT, "crm:customers:read").await;
    let code = query_param(&back, "code").unwrap();
    let (_, tok) = post_form(
        &app,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    let at = tok["access_token"].as_str().unwrap().to_string();
    let session = actix_web::cookie::Cookie::new(SESSION_COOKIE, fx.acme.session_cookie.clone());
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/account")
            .cookie(session.clone())
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = body_text(r).await;
    assert!(
        html.contains("Test Agent")
            && html.contains("Acme CRM")
            && html.contains("crm:customers:read"),
        "{html}"
    );
    // When the app last obtained a token: the one just issued (the fixed test clock).
    assert!(html.contains("Last used: 2026-11-26 00:00 UTC"), "{html}");
    let csrf = hidden(&html, "csrf");
    let res = authz_core::resource::find_by_uri(&fx.store.db, RES)
        .await
        .unwrap()
        .unwrap();
    // Without the form's CSRF token nothing happens.
    let r = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/account/revoke")
            .cookie(session.clone())
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(form(&[
                ("csrf", "forged"),
                ("client_id", &client_id),
                ("resource_id", &res.id),
            ]))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/account/revoke")
            .cookie(session.clone())
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(form(&[
                ("csrf", &csrf),
                ("client_id", &client_id),
                ("resource_id", &res.id),
            ]))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, i) = post_form(
        &app,
        "/oauth/introspect",
        &[("token", &at)],
        Some((&fx.rs.0, &fx.rs.1)),
    )
    .await;
    assert_eq!(
        i["active"], false,
        "revoking the app revokes its tokens at once"
    );
    let r = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/account")
            .cookie(session)
            .to_request(),
    )
    .await;
    assert!(body_text(r)
        .await
        .contains("You have not allowed any application yet"));
    let r = test::call_service(&app, test::TestRequest::get().uri("/account").to_request()).await;
    assert!(body_text(r).await.contains("You are not signed in"));
}

#[actix_web::test]
async fn a_posted_authorization_request_continues_as_a_get_keeping_the_browser_binding() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let url = authorize_url("any-client", REDIRECT, &[]);
    let body = url.split_once('?').unwrap().1.to_string();
    let r = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/oauth/authorize")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(body.clone())
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers().get("set-cookie").is_none(),
        "no new binding cookie on a (possibly cross-site) POST"
    );
    let loc = location(&r);
    assert!(
        loc.starts_with(&format!("{ISSUER}/oauth/authorize?")),
        "{loc}"
    );
    assert_eq!(
        query_param(&loc, "code_challenge"),
        query_param(&format!("{ISSUER}{url}"), "code_challenge")
    );
}

/// An authorization the organisation's grants refuse is audited (who, which client, which
/// scopes, from where), and the client hears `access_denied` (issue 16 §3).
#[actix_web::test]
async fn an_authorization_refused_for_want_of_a_grant_is_audited() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let client_id = register_public(&app, REDIRECT).await;
    let mut req = test::TestRequest::get().uri(&authorize_url(
        &client_id,
        REDIRECT,
        &[("scope", "crm:customers:delete")],
    ));
    for c in browser_cookies(Some(&fx.acme.session_cookie)) {
        req = req.cookie(c);
    }
    let r = test::call_service(&app, req.to_request()).await;
    let path = location(&r).trim_start_matches(ISSUER).to_string();
    let mut req = test::TestRequest::get()
        .uri(&path)
        .peer_addr("198.51.100.7:40000".parse().unwrap())
        .insert_header(("user-agent", "denied-agent/1"));
    for c in browser_cookies(Some(&fx.acme.session_cookie)) {
        req = req.cookie(c);
    }
    let r = test::call_service(&app, req.to_request()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let back = location(&r);
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    let rows = authz_core::testkit::world::audit_rows(&fx.store, fx.acme.id.as_str()).await;
    let denied: Vec<_> = rows
        .iter()
        .filter(|r| r.action == "authorization.denied")
        .collect();
    assert_eq!(denied.len(), 1, "one record for the refusal");
    let d = denied[0];
    assert_eq!(d.result, "denied");
    assert_eq!(d.client_id.as_deref(), Some(client_id.as_str()));
    assert_eq!(d.scope.as_deref(), Some("crm:customers:delete"));
    assert!(d.details.contains("no_grant"), "{}", d.details);
    assert_eq!(d.source_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(d.user_agent.as_deref(), Some("denied-agent/1"));
}
