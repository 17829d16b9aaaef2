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
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::{PKey, Private};
    use openssl::rsa::Rsa;
    use openssl::ssl::{SslAcceptor, SslMethod};
    use openssl::x509::extension::{
        BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    };
    use openssl::x509::{X509Builder, X509NameBuilder};
    use std::io::{Read, Write};

    let name = |cn: &str| {
        let mut n = X509NameBuilder::new().unwrap();
        n.append_entry_by_text("CN", cn).unwrap();
        n.build()
    };
    let cert = |subject: &str, serial: u32, key: &PKey<Private>| {
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&BigNum::from_u32(serial).unwrap().to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name(subject)).unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
            .unwrap();
        b
    };
    let ca_key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut ca = cert("On-prem Test CA", 1, &ca_key);
    ca.set_issuer_name(&name("On-prem Test CA")).unwrap();
    ca.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    ca.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .unwrap(),
    )
    .unwrap();
    ca.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let ca = ca.build();
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut leaf = cert("idp", 2, &key);
    leaf.set_issuer_name(ca.subject_name()).unwrap();
    leaf.append_extension(BasicConstraints::new().build().unwrap())
        .unwrap();
    leaf.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .ip("127.0.0.2")
        .build(&leaf.x509v3_context(Some(&ca), None))
        .unwrap();
    leaf.append_extension(san).unwrap();
    leaf.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let leaf = leaf.build();

    let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    acceptor.set_private_key(&key).unwrap();
    acceptor.set_certificate(&leaf).unwrap();
    let acceptor = acceptor.build();
    let listener = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("https://127.0.0.2:{port}");
    let discovery = json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/auth"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    })
    .to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let Ok(mut tls) = acceptor.accept(stream) else {
                continue;
            };
            let mut buf = [0u8; 4096];
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let request = String::from_utf8_lossy(&seen);
            let body = if request.starts_with("GET /jwks ") {
                r#"{"keys":[]}"#
            } else {
                discovery.as_str()
            };
            let _ = write!(
                tls,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.shutdown();
        }
    });
    (ca.to_pem().unwrap(), port)
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
