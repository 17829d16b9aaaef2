//! Issue 11 "Hardening" (security review 2026-12-03): what an attacker or a real client would
//! notice at the OAuth endpoints. Runs on SQLite and on PostgreSQL
//! (GATEHOUSE_TEST_DATABASE_URL); the PostgreSQL run is where a NUL used to be a 500.
use super::common;

use actix_web::http::StatusCode;
use actix_web::test;
use common::*;
use serde_json::{json, Value};

macro_rules! call {
    ($app:expr, $req:expr) => {
        test::call_service(&$app, $req.to_request()).await
    };
}

/// The JSON paths of every `null` in `v`.
fn nulls(v: &Value, path: &str) -> Vec<String> {
    match v {
        Value::Null => vec![path.to_string()],
        Value::Array(a) => a
            .iter()
            .enumerate()
            .flat_map(|(i, x)| nulls(x, &format!("{path}[{i}]")))
            .collect(),
        Value::Object(o) => o
            .iter()
            .flat_map(|(k, x)| nulls(x, &format!("{path}.{k}")))
            .collect(),
        _ => vec![],
    }
}

fn register(body: Value) -> test::TestRequest {
    test::TestRequest::post()
        .uri("/oauth/register")
        .set_json(body)
}

/// RFC 7591 §3.2.1 / RFC 7592 §3: members are strings; one without a value is left out. The
/// MCP TypeScript SDK rejects a registration response with any `null` member.
#[actix_web::test]
async fn registration_responses_leave_absent_members_out_instead_of_null() {
    let fx = fixture().await;
    let app = app(&fx).await;
    // Public, no scope.
    let r = call!(
        app,
        register(json!({"client_name": "Public", "redirect_uris": [REDIRECT],
                        "token_endpoint_auth_method": "none"}))
    );
    assert_eq!(r.status(), StatusCode::CREATED);
    let c = body_json(r).await;
    assert_eq!(nulls(&c, "$"), Vec::<String>::new(), "{c}");
    assert!(c.get("scope").is_none() && c.get("registration_client_uri").is_none());
    // Confidential, no scope: the registration, the RFC 7592 read and update answers.
    let r = call!(
        app,
        register(
            json!({"client_name": "Server app", "redirect_uris": ["https://app.example.com/cb"]})
        )
    );
    assert_eq!(r.status(), StatusCode::CREATED);
    let c = body_json(r).await;
    assert_eq!(nulls(&c, "$"), Vec::<String>::new(), "{c}");
    assert!(c.get("scope").is_none(), "{c}");
    let uri = c["registration_client_uri"]
        .as_str()
        .expect("management URI")
        .trim_start_matches(ISSUER)
        .to_string();
    let bearer = format!(
        "Bearer {}",
        c["registration_access_token"].as_str().unwrap()
    );
    let r = call!(
        app,
        test::TestRequest::get()
            .uri(&uri)
            .insert_header(("authorization", bearer.as_str()))
    );
    assert_eq!(r.status(), StatusCode::OK);
    let read = body_json(r).await;
    assert_eq!(nulls(&read, "$"), Vec::<String>::new(), "{read}");
    let r = call!(
        app,
        test::TestRequest::put()
            .uri(&uri)
            .insert_header(("authorization", bearer.as_str()))
            .set_json(
                json!({"client_id": c["client_id"], "client_name": "Server app 2",
                             "redirect_uris": ["https://app.example.com/cb"]})
            )
    );
    assert_eq!(r.status(), StatusCode::OK);
    let updated = body_json(r).await;
    assert_eq!(nulls(&updated, "$"), Vec::<String>::new(), "{updated}");
    // A registered scope is stated, and an update replaces it.
    let r = call!(
        app,
        test::TestRequest::put()
            .uri(&uri)
            .insert_header(("authorization", bearer.as_str()))
            .set_json(
                json!({"client_id": c["client_id"], "client_name": "Server app 2",
                             "redirect_uris": ["https://app.example.com/cb"],
                             "scope": "crm:customers:read"})
            )
    );
    assert_eq!(body_json(r).await["scope"], "crm:customers:read");
}

/// Security review F4: a client_id URL whose host resolves to a non-public address gets the
/// same page as any other unfetchable document, naming neither the address nor the reason.
#[actix_web::test]
async fn cimd_fetch_failures_do_not_reveal_addresses_to_anonymous_callers() {
    let fx = fixture_with_fetch("internal.test=10.20.30.40").await;
    let app = app(&fx).await;
    for url in [
        "https://localhost/c.json",
        "https://internal.test/c.json",
        "https://127.0.0.1/c.json",
    ] {
        let r = call!(
            app,
            test::TestRequest::get().uri(&authorize_url(url, REDIRECT, &[]))
        );
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{url}");
        let text = body_text(r).await;
        assert!(text.contains("could not be fetched"), "{url}: {text}");
        for leak in ["127.0.0.1", "::1", "10.20.30.40", "non-public", "resolves"] {
            assert!(!text.contains(leak), "{url} reveals {leak}: {text}");
        }
    }
}

fn form_post(uri: &str, body: &str) -> test::TestRequest {
    test::TestRequest::post()
        .uri(uri)
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(body.to_string())
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// Security review F5: a NUL in any query, form or JSON value is the client's mistake, a 400
/// in the endpoint's own format, never a 500 (PostgreSQL text cannot hold U+0000).
#[actix_web::test]
async fn a_nul_in_any_parameter_is_a_400_in_the_endpoints_own_format() {
    let fx = fixture().await;
    let app = app(&fx).await;
    // The authorization endpoint answers people: an HTML page, no redirect.
    for q in ["client_id=a%00b", "client_id=x&state=s%00", "resource%00=x"] {
        let r = call!(
            app,
            with_cookies(
                test::TestRequest::get().uri(&format!("/oauth/authorize?{q}")),
                &fx
            )
        );
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{q}");
        assert!(r.headers().get("location").is_none(), "{q}");
        let ct = r.headers().get("content-type").unwrap().to_str().unwrap();
        assert!(ct.starts_with("text/html"), "{q}: {ct}");
        assert!(body_text(r).await.contains("NUL"), "{q}");
    }
    let r = call!(
        app,
        form_post("/oauth/authorize", "client_id=a%00b&response_type=code")
    );
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Form endpoints: OAuth JSON invalid_request.
    let (rs_id, rs_secret) = fx.rs.clone();
    let rs_basic = basic(&rs_id, &rs_secret);
    let cases: Vec<(&str, &str, Option<String>)> = vec![
        (
            "/oauth/token",
            "grant_type=authorization_code&code=x&client_id=a%00",
            None,
        ),
        (
            "/oauth/token",
            "grant_type=refresh_token&refresh_token=x%00&client_id=a",
            None,
        ),
        ("/oauth/revoke", "token=x%00&client_id=a%00", None),
        ("/oauth/revoke", "token=x%00", None),
        (
            "/oauth/introspect",
            "token=x%00&client_id=rs%00&client_secret=x",
            None,
        ),
        ("/oauth/introspect", "token=x%00", Some(rs_basic.clone())),
    ];
    for (uri, body, auth) in cases {
        let mut req = form_post(uri, body);
        if let Some(a) = &auth {
            req = req.insert_header(("authorization", a.as_str()));
        }
        let r = call!(app, req);
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{uri} {body}");
        let e = body_json(r).await;
        assert_eq!(e["error"], "invalid_request", "{uri} {body}: {e}");
    }
    // A NUL hidden in Basic credentials is malformed credentials.
    let r = call!(
        app,
        form_post("/oauth/token", "grant_type=authorization_code&code=x")
            .insert_header(("authorization", basic("a\0b", "s")))
    );
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(r).await["error"], "invalid_client");
    // JSON bodies: every string, nested ones and keys included.
    for body in [
        json!({"redirect_uris": ["https://a.example/b"], "client_name": "x\u{0}y"}),
        json!({"redirect_uris": ["https://a.example/b"], "client_name": "x", "scope": "x\u{0}"}),
        json!({"redirect_uris": ["https://a.example/b\u{0}"], "client_name": "x"}),
        json!({"redirect_uris": ["https://a.example/b"], "grant_types": ["authorization_code", "\u{0}"]}),
        json!({"redirect_uris": ["https://a.example/b"], "x\u{0}": "y"}),
    ] {
        let r = call!(app, register(body.clone()));
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body_json(r).await["error"], "invalid_request", "{body}");
    }
    // RFC 7592 update of a managed client.
    let r = call!(
        app,
        register(
            json!({"client_name": "Server app", "redirect_uris": ["https://app.example.com/cb"]})
        )
    );
    let c = body_json(r).await;
    let uri = c["registration_client_uri"]
        .as_str()
        .unwrap()
        .trim_start_matches(ISSUER)
        .to_string();
    let r = call!(
        app,
        test::TestRequest::put()
            .uri(&uri)
            .insert_header((
                "authorization",
                format!(
                    "Bearer {}",
                    c["registration_access_token"].as_str().unwrap()
                )
            ))
            .set_json(
                json!({"client_name": "a\u{0}", "redirect_uris": ["https://app.example.com/cb"]})
            )
    );
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(r).await["error"], "invalid_request");
    // The resource servers' audit API.
    let event = json!({"tenant": fx.acme.id.as_str(), "sub": fx.acme.user_id, "client_id": "c",
        "tool": "list\u{0}customers", "result": "success", "scopes": ["crm:customers:read"]});
    let r = call!(
        app,
        test::TestRequest::post()
            .uri("/audit/v1/events")
            .insert_header(("authorization", rs_basic.as_str()))
            .set_json(event)
    );
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(r).await["error"], "invalid_request");
    let event = json!({"tenant": fx.acme.id.as_str(), "sub": fx.acme.user_id, "client_id": "c",
        "tool": "t", "result": "success", "parameters": {"q": ["ok", {"deep": "\u{0}"}]}});
    let r = call!(
        app,
        test::TestRequest::post()
            .uri("/audit/v1/events")
            .insert_header(("authorization", rs_basic.as_str()))
            .set_json(event)
    );
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

/// Security review F12: a client name is shown on the consent page; control, bidi-override
/// and zero-width characters would make it read as something else.
#[actix_web::test]
async fn client_names_with_control_or_invisible_characters_are_refused() {
    let fx = fixture().await;
    let app = app(&fx).await;
    for name in [
        "Claude\u{202e}\u{0007}\u{200b} (verified by Anthropic)",
        "Claude\u{202e}",
        "bell\u{0007}",
        "zero\u{200b}width",
        "\u{feff}BOM",
        "iso\u{2067}late",
        "new\nline",
    ] {
        let r = call!(
            app,
            register(json!({"client_name": name, "redirect_uris": [REDIRECT],
                            "token_endpoint_auth_method": "none"}))
        );
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name:?}");
        let e = body_json(r).await;
        assert_eq!(e["error"], "invalid_client_metadata", "{name:?}: {e}");
        assert!(
            e["error_description"]
                .as_str()
                .unwrap()
                .contains("client_name"),
            "{e}"
        );
    }
    let r = call!(
        app,
        register(
            json!({"client_name": "Café – Cursor 日本", "redirect_uris": [REDIRECT],
                        "token_endpoint_auth_method": "none"})
        )
    );
    assert_eq!(r.status(), StatusCode::CREATED);
}

fn peer(addr: &str) -> std::net::SocketAddr {
    std::net::SocketAddr::new(addr.parse().expect("address"), 40_000)
}

fn retry_after<B>(r: &actix_web::dev::ServiceResponse<B>) -> i64 {
    r.headers()
        .get("retry-after")
        .expect("a 429 carries Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

const CONNECTOR_REDIRECT: &str = "https://chatgpt.com/connector_platform_oauth_redirect";

/// Issue 11: a hosted connector registers a confidential client per connection from one
/// egress address, and each completes an authorization. A thousand in an hour are accepted.
#[actix_web::test]
async fn a_thousand_confidential_registrations_an_hour_from_one_address_are_accepted() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let egress = peer("203.0.113.7");
    for i in 0..1000 {
        if i % 500 == 499 {
            // The authorization endpoint's own limit is per minute.
            fx.clock.advance_secs(61);
        }
        let r = call!(
            app,
            register(
                json!({"client_name": "ChatGPT", "redirect_uris": [CONNECTOR_REDIRECT],
                            "grant_types": ["authorization_code", "refresh_token"]})
            )
            .peer_addr(egress)
        );
        assert_eq!(r.status(), StatusCode::CREATED, "registration {i}");
        let c = body_json(r).await;
        let (id, secret) = (
            c["client_id"].as_str().unwrap().to_string(),
            c["client_secret"].as_str().unwrap().to_string(),
        );
        let code = code_for(&app, &fx, &id, CONNECTOR_REDIRECT, "crm:customers:read").await;
        let (s, t) = post_form(
            &app,
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("redirect_uri", CONNECTOR_REDIRECT),
            ],
            Some((&id, &secret)),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "token {i}: {t}");
    }
}

/// What stays bounded is what costs: clients nobody uses. A network (an IPv6 /64 counts as
/// one address) may hold a few hundred of them; then 429 with `Retry-After`.
#[actix_web::test]
async fn unused_registrations_are_capped_per_network_with_retry_after() {
    let fx = fixture().await;
    let app = app(&fx).await;
    let cap = authz_core::client::DCR_UNUSED_CLIENTS_PER_SOURCE;
    let confidential =
        || register(json!({"client_name": "Probe", "redirect_uris": [CONNECTOR_REDIRECT]}));
    let mut first = None;
    for i in 0..cap {
        let r = call!(
            app,
            confidential().peer_addr(peer(&format!("2001:db8:1:2::{:x}", i + 1)))
        );
        assert_eq!(r.status(), StatusCode::CREATED, "registration {i}");
        first.get_or_insert(body_json(r).await);
    }
    let r = call!(app, confidential().peer_addr(peer("2001:db8:1:2:ffff::1")));
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        retry_after(&r),
        authz_core::client::DCR_UNUSED_EXPIRY_SECS,
        "until the oldest unused client stops counting"
    );
    assert_eq!(body_json(r).await["error"], "too_many_requests");
    // Another /64 is another network.
    let r = call!(app, confidential().peer_addr(peer("2001:db8:1:3::1")));
    assert_eq!(r.status(), StatusCode::CREATED);
    // A client that completes an authorization frees its place.
    let c = first.unwrap();
    let (id, secret) = (
        c["client_id"].as_str().unwrap(),
        c["client_secret"].as_str().unwrap(),
    );
    let code = code_for(&app, &fx, id, CONNECTOR_REDIRECT, "crm:customers:read").await;
    let (s, _) = post_form(
        &app,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", CONNECTOR_REDIRECT),
        ],
        Some((id, secret)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let r = call!(app, confidential().peer_addr(peer("2001:db8:1:2::beef")));
    assert_eq!(r.status(), StatusCode::CREATED);
    // Unused clients expire a day after registering; the used one stays.
    fx.clock
        .advance_secs(authz_core::client::DCR_UNUSED_EXPIRY_SECS + 1);
    let n = authz_core::client::expire_unused(&fx.store, &fx.clock)
        .await
        .unwrap();
    assert_eq!(n, cap + 1, "every unused registration of both networks");
    assert!(authz_core::client::get(&fx.store.db, id)
        .await
        .unwrap()
        .is_some());
}

/// Security review F9: two addresses of one IPv6 /64 are one source for every limit, and an
/// IPv4-mapped IPv6 address is its IPv4 address; every 429 says when to come back.
#[actix_web::test]
async fn addresses_of_one_ipv6_64_share_a_bucket_and_every_429_has_retry_after() {
    let fx = fixture_with_fetch("priv.test=10.0.0.8").await;
    let app = app(&fx).await;
    // Failed client authentication (30 a minute), spread over one /64.
    let fail = |addr: &str| {
        form_post(
            "/oauth/token",
            "grant_type=authorization_code&code=x&client_id=nope",
        )
        .peer_addr(peer(addr))
    };
    for i in 0..30 {
        let r = call!(app, fail(&format!("2001:db8:1:2::{:x}", i % 2 + 0xa)));
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "failure {i}");
    }
    let r = call!(app, fail("2001:db8:1:2:dead:beef:0:1"));
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&r);
    assert!((1..=60).contains(&wait), "{wait}");
    let r = call!(app, fail("2001:db8:1:3::a"));
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "another /64");
    // Login form posts (60 a minute): IPv4 and its IPv4-mapped IPv6 form are one source.
    for i in 0..60 {
        let addr = if i % 2 == 0 {
            "198.51.100.9"
        } else {
            "::ffff:198.51.100.9"
        };
        let r = call!(app, form_post("/login", "tx=nope").peer_addr(peer(addr)));
        assert_ne!(r.status(), StatusCode::TOO_MANY_REQUESTS, "post {i}");
    }
    let r = call!(
        app,
        form_post("/login", "tx=nope").peer_addr(peer("::ffff:198.51.100.9"))
    );
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=60).contains(&retry_after(&r)));
    // Authorization requests (600 a minute).
    let limit = 600;
    for i in 0..limit {
        let r = call!(
            app,
            test::TestRequest::get()
                .uri("/oauth/authorize?client_id=unknown")
                .peer_addr(peer(&format!("2001:db8:9:9::{:x}", i + 1)))
        );
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "request {i}");
    }
    let r = call!(
        app,
        test::TestRequest::get()
            .uri("/oauth/authorize?client_id=unknown")
            .peer_addr(peer("2001:db8:9:9::ffff"))
    );
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=60).contains(&retry_after(&r)));
    // New client metadata documents (30 an hour): a 429 page, no longer a 400.
    fx.clock.advance_secs(61);
    for i in 0..30 {
        let url = format!("https://priv.test/c{i}.json");
        let r = call!(
            app,
            test::TestRequest::get()
                .uri(&authorize_url(&url, REDIRECT, &[]))
                .peer_addr(peer(&format!("2001:db8:7:7::{:x}", i + 1)))
        );
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "document {i}");
    }
    let r = call!(
        app,
        test::TestRequest::get()
            .uri(&authorize_url("https://priv.test/c99.json", REDIRECT, &[]))
            .peer_addr(peer("2001:db8:7:7::ffff"))
    );
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=3600).contains(&retry_after(&r)));
}
