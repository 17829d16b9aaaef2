//! ADR 0019: with the database out of reach (here: the store's pool closed, which sqlx reports
//! as a closed pool, as it reports a dead server as a refused connection or a pool timeout),
//! every surface answers 503 with `Retry-After`, in its own format, and never 500: OAuth JSON
//! `temporarily_unavailable`, SCIM's error, the admin API's problem+json, a page for people
//! (authorize, the OIDC federation callback, the SAML ACS, the console's sign-in) and `/readyz`.
use actix_web::http::StatusCode;
use actix_web::test;
use authz_core::api_key::Scope;
use authz_core::testkit::world::{self, World};
use serde_json::Value;

use crate::http::world::Node;

#[actix_web::test]
async fn every_surface_answers_503_with_retry_after_while_the_database_is_unreachable() {
    let w = World::new().await;
    let t = w.tenant("acme", "acme.test", &[]).await;
    let scim = world::scim_token(&w.store, &w.clock, t.id(), "hr", 3600).await;
    let key = world::api_key(&w.store, &w.clock, Scope::TenantAdmin(t.id().clone())).await;
    let app = Node::new(&w.store, &w.clock, "https://auth.example.com")
        .app()
        .await;
    w.store.db.clone().close().await.expect("close the pool");

    let basic = |id: &str, secret: &str| {
        use base64::Engine as _;
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        ("authorization", format!("Basic {b}"))
    };
    let form = "application/x-www-form-urlencoded";
    let conn = &t.connection.id;
    let calls: Vec<(&str, test::TestRequest, &str)> = vec![
        ("token", test::TestRequest::post().uri("/oauth/token").insert_header(("content-type", form))
            .set_payload(format!("grant_type=refresh_token&refresh_token=x&client_id={}", w.client.client_id)), "oauth"),
        ("introspect", test::TestRequest::post().uri("/oauth/introspect").insert_header(("content-type", form))
            .insert_header(basic(&w.resource.rs_client_id, &w.rs_secret)).set_payload("token=x"), "oauth"),
        ("scim", test::TestRequest::get().uri("/scim/v2/acme/Users")
            .insert_header(("authorization", format!("Bearer {scim}"))), "scim"),
        ("admin api", test::TestRequest::get().uri("/admin/api/v1/tenants/acme/users")
            .insert_header(("authorization", format!("Bearer {key}"))), "problem"),
        ("authorize", test::TestRequest::get().uri(&format!(
            "/oauth/authorize?response_type=code&client_id={}&redirect_uri=x&code_challenge=x&code_challenge_method=S256&state=s",
            w.client.client_id)), "html"),
        ("federation callback", test::TestRequest::get()
            .uri(&format!("/federation/oidc/{conn}/callback?state=s&code=c")), "html"),
        ("saml acs", test::TestRequest::post().uri(&format!("/federation/saml/{conn}/acs"))
            .insert_header(("content-type", form)).set_payload("SAMLResponse=eA%3D%3D&RelayState=r"), "html"),
        ("console sign-in", test::TestRequest::get().uri("/admin/t/acme/login"), "html"),
        ("readyz", test::TestRequest::get().uri("/readyz"), "json"),
    ];
    for (what, req, format) in calls {
        let r = test::call_service(
            &app,
            req.peer_addr("198.51.100.7:4000".parse().unwrap())
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
        let retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(retry.as_deref(), Some("3"), "{what}: Retry-After");
        let ctype = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = test::read_body(r).await;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        match format {
            "oauth" => assert_eq!(json["error"], "temporarily_unavailable", "{what}"),
            "scim" => assert_eq!(json["status"], "503", "{what}"),
            "problem" => {
                assert!(
                    ctype.starts_with("application/problem+json"),
                    "{what}: {ctype}"
                );
                assert_eq!(json["type"], "/admin/api/v1/problems/unavailable", "{what}");
            }
            "html" => {
                assert!(ctype.starts_with("text/html"), "{what}: {ctype}");
                let text = String::from_utf8_lossy(&body);
                assert!(text.contains("Temporarily unavailable"), "{what}: {text}");
            }
            _ => assert_eq!(json["status"], "unavailable", "{what}"),
        }
    }
}
