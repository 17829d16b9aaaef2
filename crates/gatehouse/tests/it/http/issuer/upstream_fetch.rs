//! Review F3 at sign-in: an OIDC connection a tenant admin added in the console is fetched
//! (discovery, JWKS, token call) like any public URL; only connections the operator added may
//! reach the operator's private allow-list and CA.
use super::common;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test;
use authz_core::connection::{self, NewOidcConnection};
use authz_core::redirect::RedirectPolicy;
use authz_core::{tenant, testkit};
use common::*;
use issuer::{AppState, IssuerConfig};
use safe_fetch::{FetchConfig, SafeFetcher};
use serde_json::json;

/// An https IdP on 127.0.0.2, certified by a test CA: an on-premises IdP that only the
/// operator's allow-list reaches. It serves its discovery document. Returns (CA PEM, port).
fn on_prem_idp() -> (Vec<u8>, u16) {
    crate::http::tls::https_on_127_0_0_2(|port, request| {
        if request.starts_with("GET /jwks ") {
            return r#"{"keys":[]}"#.to_string();
        }
        let base = format!("https://127.0.0.2:{port}");
        json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/auth"),
            "token_endpoint": format!("{base}/token"),
            "jwks_uri": format!("{base}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })
        .to_string()
    })
}

#[actix_web::test]
async fn only_connections_the_operator_added_reach_the_operators_private_network_at_sign_in() {
    let fx = fixture().await;
    let (ca, port) = on_prem_idp();
    let issuer = format!("https://127.0.0.2:{port}");
    let (allow, resolve) = FetchConfig::parse_lists("127.0.0.0/8", "").unwrap();
    let operator = SafeFetcher::new(&FetchConfig {
        extra_ca_pem: Some(ca),
        allow,
        resolve,
    })
    .unwrap();
    let probe = oidc_federation::OidcRp::new(operator.clone());
    if let Err(e) = probe
        .discover(
            &issuer,
            true,
            &oidc_federation::Preset::parse("generic", None).unwrap(),
        )
        .await
    {
        panic!("the operator's fetcher reaches the on-prem IdP: {e}");
    }
    let state = AppState::new(
        fx.store.clone(),
        Arc::new(fx.clock.clone()),
        IssuerConfig {
            issuer: ISSUER.into(),
            redirect_policy: RedirectPolicy::default(),
            trusted_proxies: vec![],
        },
        testkit::master_key(),
        operator,
    );
    let app = crate::http::world::Node::with_issuer(state).app().await;
    let new = || NewOidcConnection {
        name: "On-prem IdP",
        issuer: issuer.as_str(),
        client_id: "gh",
        client_secret: "s3cret",
        preset: "generic",
        settings: json!({}),
    };
    // The operator connects initech's IdP with the CLI; globex's admin types the same URL in the
    // console.
    let initech = tenant::create(
        &fx.store,
        &fx.clock,
        "initech",
        "Initech",
        &["initech.test".into()],
    )
    .await
    .unwrap();
    connection::add_oidc(
        &fx.store,
        &fx.clock,
        &testkit::master_key(),
        &initech.id,
        new(),
    )
    .await
    .unwrap();
    let globex = tenant::create(
        &fx.store,
        &fx.clock,
        "globex",
        "Globex",
        &["globex.test".into()],
    )
    .await
    .unwrap();
    let c = connection::add_oidc_by(
        &fx.store,
        &fx.clock,
        &testkit::master_key(),
        &globex.id,
        new(),
        "admin:someone",
        None,
    )
    .await
    .unwrap();
    assert!(!c.operator_added);

    let (_, client) = dcr(&app, json!([REDIRECT])).await;
    let client = client["client_id"].as_str().unwrap().to_string();
    let sign_in = |email: &'static str| {
        let (app, client) = (&app, client.clone());
        async move {
            let browser = actix_web::cookie::Cookie::new(BROWSER_COOKIE, browser());
            let r = test::call_service(
                app,
                test::TestRequest::get()
                    .uri(&authorize_url(&client, REDIRECT, &[]))
                    .cookie(browser.clone())
                    .to_request(),
            )
            .await;
            let login = location(&r).trim_start_matches(ISSUER).to_string();
            let r = test::call_service(
                app,
                test::TestRequest::get()
                    .uri(&login)
                    .cookie(browser.clone())
                    .to_request(),
            )
            .await;
            let html = body_text(r).await;
            let (tx, csrf) = (hidden(&html, "tx"), hidden(&html, "csrf"));
            let r = test::call_service(
                app,
                test::TestRequest::post()
                    .uri("/login")
                    .insert_header(("content-type", "application/x-www-form-urlencoded"))
                    .cookie(browser)
                    .set_payload(form(&[("tx", &tx), ("csrf", &csrf), ("email", email)]))
                    .to_request(),
            )
            .await;
            let status = r.status();
            let to = location(&r);
            (status, to, body_text(r).await)
        }
    };
    let (status, to, body) = sign_in("pat@initech.test").await;
    assert!(status.is_redirection(), "{status} {body}");
    assert!(
        to.starts_with(&format!("{issuer}/auth?")),
        "the operator's connection reaches the on-prem IdP: {to}"
    );
    let (status, to, body) = sign_in("pat@globex.test").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{to} {body}");
    assert!(
        body.contains("could not reach the identity provider"),
        "{body}"
    );
    assert!(!body.contains("127.0.0.2"), "{body}");
}
