//! Issue 11 §4: per-caller limits on the hot paths (successful grants per client, introspection
//! and audit events per resource server), counted per node in memory (ADR 0008). Small limits,
//! a fixed clock: each surface answers 429 with `Retry-After` once over its limit, another
//! caller is unaffected, and the next window is open again.
use super::common;

use actix_web::http::StatusCode;
use actix_web::test;
use common::*;
use issuer::RateLimits;
use serde_json::{json, Value};

const LIMITS: RateLimits = RateLimits {
    grants_per_client: 2,
    introspections_per_rs: 3,
    audit_events_per_rs: 2,
};

/// The fixture with [`LIMITS`], half a minute into a window: every refusal says 30 seconds.
async fn limited() -> Fx {
    let mut fx = fixture().await;
    fx.state = fx.state.clone().with_rate_limits(LIMITS);
    fx.clock.advance_secs(30);
    fx
}

fn basic(rs: &(String, String)) -> String {
    use base64::Engine;
    let v = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", rs.0, rs.1));
    format!("Basic {v}")
}

fn form_post(uri: &str, body: &[(&str, &str)]) -> test::TestRequest {
    test::TestRequest::post()
        .uri(uri)
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(form(body))
}

/// Checks a 429 in OAuth form with `Retry-After: 30`.
async fn is_too_many<B: actix_web::body::MessageBody>(
    r: actix_web::dev::ServiceResponse<B>,
    what: &str,
) {
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{what}");
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("30"),
        "{what}: Retry-After counts to the end of the window"
    );
    let body = body_json(r).await;
    assert_eq!(body["error"], "too_many_requests", "{what}: {body}");
}

async fn exchange<S, B>(app: &S, client: &str, code: &str) -> (StatusCode, Value)
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
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
            ("client_id", client),
        ],
    )
    .await
}

fn refresh_form<'a>(client: &'a str, rt: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt),
        ("client_id", client),
    ]
}

#[actix_web::test]
async fn successful_grants_are_limited_per_client_and_a_refused_one_burns_nothing() {
    let fx = limited().await;
    let app = app(&fx).await;
    let (_, a) = dcr(&app, json!([REDIRECT])).await;
    let a = a["client_id"].as_str().unwrap().to_string();
    // Identical public registrations share a client; another name is another client.
    let r = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/oauth/register")
            .set_json(json!({"client_name": "Other", "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"]}))
            .to_request(),
    )
    .await;
    let b = body_json(r).await["client_id"]
        .as_str()
        .unwrap()
        .to_string();

    // Two grants this minute: a code exchange and a refresh.
    let code = code_for(&app, &fx, &a, REDIRECT, "crm:customers:read").await;
    let (s, t1) = exchange(&app, &a, &code).await;
    assert_eq!(s, StatusCode::OK, "{t1}");
    let rt1 = t1["refresh_token"].as_str().expect("refresh token");
    let (s, t2) = token(&app, &refresh_form(&a, rt1)).await;
    assert_eq!(s, StatusCode::OK, "{t2}");
    let rt2 = t2["refresh_token"].as_str().unwrap().to_string();

    // The third is refused before any work: neither the refresh token nor a new code is used.
    let r = test::call_service(
        &app,
        form_post("/oauth/token", &refresh_form(&a, &rt2)).to_request(),
    )
    .await;
    is_too_many(r, "a third refresh").await;
    let code2 = code_for(&app, &fx, &a, REDIRECT, "crm:customers:read").await;
    let r = test::call_service(
        &app,
        form_post(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code2),
                ("code_verifier", VERIFIER),
                ("redirect_uri", REDIRECT),
                ("client_id", &a),
            ],
        )
        .to_request(),
    )
    .await;
    is_too_many(r, "a third grant by code").await;

    // Another client is not affected.
    assert_ne!(a, b, "two clients");
    let code_b = code_for(&app, &fx, &b, REDIRECT, "crm:customers:read").await;
    let (s, tb) = exchange(&app, &b, &code_b).await;
    assert_eq!(s, StatusCode::OK, "{tb}");

    // After Retry-After, the refused code and refresh token still work: nothing was burned or
    // rotated (a rotated refresh token presented again would revoke its whole family).
    fx.clock.advance_secs(30);
    let (s, t) = exchange(&app, &a, &code2).await;
    assert_eq!(s, StatusCode::OK, "the refused code was not used: {t}");
    let (s, t3) = token(&app, &refresh_form(&a, &rt2)).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the refused refresh did not rotate: {t3}"
    );
    assert_ne!(t3["refresh_token"].as_str(), Some(rt2.as_str()));
    let (_, i) = post_form(
        &app,
        "/oauth/introspect",
        &[("token", t3["access_token"].as_str().unwrap())],
        Some((&fx.rs.0, &fx.rs.1)),
    )
    .await;
    assert_eq!(i["active"], true, "the family was not revoked as a replay");
}

#[actix_web::test]
async fn introspection_is_limited_per_resource_server() {
    let fx = limited().await;
    let app = app(&fx).await;
    let introspect = |rs: &(String, String)| {
        form_post("/oauth/introspect", &[("token", "not-a-token")])
            .insert_header(("authorization", basic(rs)))
            .to_request()
    };
    // Wrong secrets under the resource server's id are 401 and use none of its budget.
    let forged = (fx.rs.0.clone(), "wrong".to_string());
    for _ in 0..LIMITS.introspections_per_rs {
        let r = test::call_service(&app, introspect(&forged)).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    for _ in 0..LIMITS.introspections_per_rs {
        let r = test::call_service(&app, introspect(&fx.rs)).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = test::call_service(&app, introspect(&fx.rs)).await;
    is_too_many(r, "introspection over the limit").await;
    let r = test::call_service(&app, introspect(&fx.rs2)).await;
    assert_eq!(r.status(), StatusCode::OK, "another resource server");
    fx.clock.advance_secs(30);
    let r = test::call_service(&app, introspect(&fx.rs)).await;
    assert_eq!(r.status(), StatusCode::OK, "the next window");
}

/// Authorize and consent for `resource`; returns the code.
async fn code_for_resource<S, B>(app: &S, fx: &Fx, client: &str, resource: &str) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let url = authorize_url(client, REDIRECT, &[("resource", resource)]);
    let r = test::call_service(
        app,
        with_cookies(test::TestRequest::get().uri(&url), fx).to_request(),
    )
    .await;
    let path = location(&r).trim_start_matches(ISSUER).to_string();
    let r = test::call_service(
        app,
        with_cookies(test::TestRequest::get().uri(&path), fx).to_request(),
    )
    .await;
    let html = body_text(r).await;
    let (tx, csrf) = (hidden(&html, "tx"), hidden(&html, "csrf"));
    let r = test::call_service(
        app,
        with_cookies(
            form_post(
                "/consent",
                &[
                    ("tx", &tx),
                    ("csrf", &csrf),
                    ("decision", "allow"),
                    ("scope", "crm:customers:read"),
                ],
            ),
            fx,
        )
        .to_request(),
    )
    .await;
    query_param(&location(&r), "code").expect("code")
}

#[actix_web::test]
async fn audit_events_are_limited_per_resource_server() {
    let fx = limited().await;
    let app = app(&fx).await;
    let (_, c) = dcr(&app, json!([REDIRECT])).await;
    let client = c["client_id"].as_str().unwrap().to_string();
    // The user holds tokens for both resources, so both may report tool calls.
    for res in [RES, RES2] {
        let code = code_for_resource(&app, &fx, &client, res).await;
        let (s, t) = exchange(&app, &client, &code).await;
        assert_eq!(s, StatusCode::OK, "{t}");
    }
    let event = json!({"tenant": fx.acme.id.as_str(), "sub": fx.acme.user_id, "client_id": client,
        "tool": "list_customers", "result": "success"});
    let post = |rs: &(String, String)| {
        test::TestRequest::post()
            .uri("/audit/v1/events")
            .insert_header(("authorization", basic(rs)))
            .set_json(event.clone())
            .to_request()
    };
    for _ in 0..LIMITS.audit_events_per_rs {
        let r = test::call_service(&app, post(&fx.rs)).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    let r = test::call_service(&app, post(&fx.rs)).await;
    is_too_many(r, "audit events over the limit").await;
    let r = test::call_service(&app, post(&fx.rs2)).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED, "another resource server");
    fx.clock.advance_secs(30);
    let r = test::call_service(&app, post(&fx.rs)).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED, "the next window");
}
