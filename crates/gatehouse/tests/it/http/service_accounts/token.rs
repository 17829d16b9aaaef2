//! `grant_type=client_credentials` at the token endpoint (RFC 6749 §4.4): each client
//! authentication method, the scope and resource rules, and the refusals (each audited).
use authz_core::service_account::{self as sa, Keys};
use serde_json::json;

use super::fixture::*;
use crate::http::world::Node;

const CC: (&str, &str) = ("grant_type", "client_credentials");

#[actix_web::test]
async fn a_secret_account_gets_a_token_by_basic_and_by_post_without_a_refresh_token() {
    let fx = fixture().await;
    let (id, secret, account) = fx
        .secret_account("ci-bot", &[(RESOURCE_URI, &[READ, DELETE])])
        .await;
    let app = Node::new(&fx.w.store, &fx.w.clock, ISSUER).app().await;
    let (s, body) = token(
        &app,
        Some(&basic(&id, &secret)),
        &[CC, ("resource", RESOURCE_URI)],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        body.get("refresh_token").is_none(),
        "RFC 6749 §4.4.3: {body}"
    );
    let mut scopes: Vec<&str> = body["scope"].as_str().unwrap().split(' ').collect();
    scopes.sort();
    assert_eq!(scopes, [DELETE, READ]);
    // client_secret_post, and no resource: the account is granted exactly one.
    let (s, body) = token(
        &app,
        None,
        &[
            CC,
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", READ),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["scope"], READ);
    // Introspection names the account as a service subject.
    let i =
        fx.w.introspect(body["access_token"].as_str().unwrap())
            .await;
    assert!(i.active);
    assert_eq!(i.sub.as_deref(), Some(account.as_str()));
    assert_eq!(i.client_id.as_deref(), Some(id.as_str()));
    assert_eq!(i.subject_type, Some("service"));
    assert_eq!(
        i.credential_kind,
        Some(authz_core::token::CredentialKind::ClientCredentials)
    );
    let issued = fx.audit("token.issued").await;
    let last = issued.last().unwrap();
    assert_eq!(
        last.actor.as_deref(),
        Some(format!("service:{account}").as_str())
    );
    assert!(
        last.details.contains("client_credentials"),
        "{}",
        last.details
    );
}

#[actix_web::test]
async fn scopes_are_the_grant_intersected_with_the_request_and_resource_is_required_with_several() {
    let fx = fixture().await;
    let (id, secret, _) = fx
        .secret_account(
            "two-apps",
            &[
                (RESOURCE_URI, &[READ]),
                (OTHER_RESOURCE_URI, &["wiki:read"]),
            ],
        )
        .await;
    let app = Node::new(&fx.w.store, &fx.w.clock, ISSUER).app().await;
    let auth = basic(&id, &secret);
    let (s, body) = token(&app, Some(&auth), &[CC]).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_target")),
        "{body}"
    );
    let (s, body) = token(
        &app,
        Some(&auth),
        &[
            CC,
            ("resource", RESOURCE_URI),
            ("scope", &format!("{READ} {DELETE} openid")),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["scope"], READ, "only what is both granted and asked");
    let (s, body) = token(
        &app,
        Some(&auth),
        &[CC, ("resource", RESOURCE_URI), ("scope", DELETE)],
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );
    let (s, body) = token(
        &app,
        Some(&auth),
        &[CC, ("resource", "https://unknown.example/mcp")],
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_target")),
        "{body}"
    );
    let (s, body) = token(
        &app,
        Some(&auth),
        &[CC, ("resource", "https://wiki.example.com/mcp/")],
    )
    .await;
    assert_eq!(
        (s, body["scope"].as_str()),
        (200, Some("wiki:read")),
        "a trailing slash is the same resource: {body}"
    );
    assert!(fx.audit("token.refused").await.len() >= 3);
}

#[actix_web::test]
async fn critical_scopes_are_refused_at_creation_and_at_update() {
    let fx = fixture().await;
    let g = vec![(
        RESOURCE_URI.to_string(),
        vec![READ.to_string(), SETTINGS.to_string()],
    )];
    let err = sa::create(
        &fx.w.store,
        &fx.w.clock,
        fx.t.id(),
        sa::NewAccount {
            name: "root",
            grants: &g,
            method: sa::Method::ClientSecretBasic,
            keys: None,
        },
        "test",
    )
    .await
    .err()
    .expect("a critical scope is refused");
    assert!(err.to_string().contains("critical"), "{err}");
    let (id, _, _) = fx
        .secret_account("reader", &[(RESOURCE_URI, &[READ])])
        .await;
    let err = sa::set_grants(&fx.w.store, &fx.w.clock, fx.t.id(), &id, &g, "test")
        .await
        .expect_err("a critical scope is refused at update too");
    assert!(err.to_string().contains("critical"), "{err}");
}

#[actix_web::test]
async fn a_wrong_secret_and_the_old_secret_after_the_overlap_are_invalid_client() {
    let fx = fixture().await;
    let (id, old, account) = fx
        .secret_account("rotating", &[(RESOURCE_URI, &[READ])])
        .await;
    let app = Node::new(&fx.w.store, &fx.w.clock, ISSUER).app().await;
    let (s, body) = token(&app, Some(&basic(&id, "ghsvc_wrong")), &[CC]).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let (s, _) = token(&app, Some(&basic("svc_nobody", "x")), &[CC]).await;
    assert_eq!(s, 401);
    let r = sa::rotate_secret(&fx.w.store, &fx.w.clock, fx.t.id(), &account, 3600, "test")
        .await
        .unwrap();
    for secret in [&old, &r.secret] {
        let (s, body) = token(&app, Some(&basic(&id, secret)), &[CC]).await;
        assert_eq!(s, 200, "both work during the overlap: {body}");
    }
    fx.w.clock.advance_secs(3601);
    let (s, _) = token(&app, Some(&basic(&id, &old)), &[CC]).await;
    assert_eq!(s, 401, "the old secret stops at the deadline");
    let (s, _) = token(&app, Some(&basic(&id, &r.secret)), &[CC]).await;
    assert_eq!(s, 200);
    let refused = fx.audit("token.refused").await;
    assert!(
        refused
            .iter()
            .any(|r| r.details.contains("wrong client secret")),
        "refusals are audited"
    );
    // A client of the clients table is told the grant is not for it.
    let (s, body) = token(
        &app,
        None,
        &[
            CC,
            ("client_id", &fx.w.client.client_id),
            ("client_secret", "any"),
        ],
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
}

#[actix_web::test]
async fn private_key_jwt_with_an_inline_jwks_refuses_replay_wrong_audience_and_expiry() {
    let fx = fixture().await;
    let (sk, jwk) = key(3, "k1");
    let (id, _) = fx
        .key_account("signer", Keys::Inline(json!({"keys": [jwk]})))
        .await;
    let app = Node::new(&fx.w.store, &fx.w.clock, ISSUER).app().await;
    let now = fx.now();
    let send = |jwt: String| {
        let app = &app;
        async move {
            token(
                app,
                None,
                &[
                    CC,
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &jwt),
                ],
            )
            .await
        }
    };
    let good = assertion(&sk, "k1", &id, now, json!({}));
    let (s, body) = send(good.clone()).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["scope"], READ);
    let (s, body) = send(good).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (401, Some("invalid_client")),
        "a replayed jti: {body}"
    );
    let (s, _) = send(assertion(
        &sk,
        "k1",
        &id,
        now,
        json!({"aud": TOKEN_ENDPOINT}),
    ))
    .await;
    assert_eq!(s, 200, "the token endpoint URL is an audience too");
    let (s, _) = send(assertion(
        &sk,
        "k1",
        &id,
        now,
        json!({"aud": "https://elsewhere.example"}),
    ))
    .await;
    assert_eq!(s, 401, "wrong aud");
    let (s, _) = send(assertion(&sk, "k1", &id, now - 1000, json!({}))).await;
    assert_eq!(s, 401, "expired");
    let (other, _) = key(4, "k1");
    let (s, _) = send(assertion(&other, "k1", &id, now, json!({}))).await;
    assert_eq!(s, 401, "signed with another key");
    let (s, _) = token(
        &app,
        None,
        &[CC, ("client_id", &id), ("client_secret", "guess")],
    )
    .await;
    assert_eq!(s, 401, "a key account has no secret");
    let reasons: Vec<String> = fx
        .audit("token.refused")
        .await
        .into_iter()
        .map(|r| r.details)
        .collect();
    assert!(reasons.iter().any(|d| d.contains("replay")), "{reasons:?}");
    assert!(reasons.iter().any(|d| d.contains("aud")), "{reasons:?}");
    assert!(reasons.iter().any(|d| d.contains("expired")), "{reasons:?}");
}

#[actix_web::test]
async fn private_key_jwt_keys_at_a_jwks_uri_are_fetched_through_the_safe_fetcher() {
    let fx = fixture().await;
    let (sk, jwk) = key(5, "k5");
    let set = json!({"keys": [jwk]}).to_string();
    let (ca, port) = crate::http::tls::https_on_127_0_0_2(move |_, _| set.clone());
    let uri = format!("https://127.0.0.2:{port}/jwks");
    let (id, _) = fx.key_account("remote-keys", Keys::Uri(uri)).await;
    let jwt = || assertion(&sk, "k5", &id, fx.now(), json!({}));
    let form = |a: &str| {
        vec![
            CC,
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", a),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<Vec<_>>()
    };
    // The default (public) fetcher refuses a private address.
    let app = Node::new(&fx.w.store, &fx.w.clock, ISSUER).app().await;
    let a = jwt();
    let f = form(&a);
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (s, _) = token(&app, None, &pairs).await;
    assert_eq!(s, 401, "127.0.0.2 is not public");
    // A fetcher that trusts the test CA and reaches 127.0.0.0/8 fetches and verifies.
    let (allow, resolve) = safe_fetch::FetchConfig::parse_lists("127.0.0.0/8", "").unwrap();
    let fetcher = safe_fetch::SafeFetcher::new(&safe_fetch::FetchConfig {
        extra_ca_pem: Some(ca),
        allow,
        resolve,
    })
    .unwrap();
    let state = crate::http::world::issuer_state(
        &fx.w.store,
        std::sync::Arc::new(fx.w.clock.clone()),
        ISSUER,
        crate::http::world::default_fetcher(),
    )
    .with_console_fetcher(fetcher);
    let app = Node::with_issuer(state).app().await;
    let a = jwt();
    let f = form(&a);
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (s, body) = token(&app, None, &pairs).await;
    assert_eq!(s, 200, "{body}");
}

#[actix_web::test]
async fn metadata_lists_the_grant_and_private_key_jwt() {
    let fx = fixture().await;
    let app = Node::new(&fx.w.store, &fx.w.clock, ISSUER).app().await;
    let r = actix_web::test::call_service(
        &app,
        actix_web::test::TestRequest::get()
            .uri("/.well-known/oauth-authorization-server")
            .to_request(),
    )
    .await;
    let doc: serde_json::Value = actix_web::test::read_body_json(r).await;
    assert!(doc["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("client_credentials")));
    assert!(doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("private_key_jwt")));
    assert_eq!(
        doc["token_endpoint_auth_signing_alg_values_supported"],
        json!(authz_core::jose::SIGNING_ALGS)
    );
}

/// ADR 0022: the one-statement grant share-locks the account row as the transaction did, so a
/// disable racing token requests leaves no live token: a token issued before the disable is
/// revoked by it, and none is issued after it (the others are refused `invalid_client`).
#[actix_web::test]
async fn a_disable_racing_token_requests_leaves_no_live_token() {
    let fx = fixture().await;
    let (id, secret, account) = fx.secret_account("racer", &[(RESOURCE_URI, &[READ])]).await;
    let app = Node::new(&fx.w.store, &fx.w.clock, ISSUER).app().await;
    let auth = basic(&id, &secret);
    let form = [CC, ("resource", RESOURCE_URI)];
    let requests = futures::future::join_all((0..24).map(|_| token(&app, Some(&auth), &form)));
    let disable = async {
        // Let the first requests get going before the disable.
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        set_enabled(&fx.w, &fx.t, &account, false).await
    };
    let (answers, _) = futures::join!(requests, disable);
    for (status, body) in &answers {
        match status {
            200 => assert!(
                !fx.w.active(body["access_token"].as_str().unwrap()).await,
                "a token outlived the disable: {body}"
            ),
            _ => assert_eq!(body["error"], "invalid_client", "{status} {body}"),
        }
    }
    let (status, body) = token(&app, Some(&auth), &form).await;
    assert_eq!((status, &body["error"]), (401, &json!("invalid_client")));
}

/// A node remembers an account that proved its secret (ADR 0024): its next grant skips the
/// account's read, and the grant's guarded write re-checks the account. So every change made
/// meanwhile (here by the admin functions every node's API calls, with the clock standing
/// still) holds at the next request: a disable, a rotation without overlap, a removed scope.
#[actix_web::test]
async fn a_remembered_account_is_refused_at_once_after_a_change() {
    let fx = fixture().await;
    let (id, secret, account) = fx
        .secret_account("remembered", &[(RESOURCE_URI, &[READ, DELETE])])
        .await;
    let app = Node::new(&fx.w.store, &fx.w.clock, ISSUER).app().await;
    let form = [CC, ("resource", RESOURCE_URI)];
    let grant = |secret: String| {
        let auth = basic(&id, &secret);
        let app = &app;
        let form = &form;
        async move { token(app, Some(&auth), form).await }
    };
    // Twice: the second grant is by the remembered account (on PostgreSQL).
    for _ in 0..2 {
        let (s, body) = grant(secret.clone()).await;
        assert_eq!(s, 200, "{body}");
    }
    if fx.w.store.is_postgres() {
        // The mark of the last use is remembered with the account, so the next grants do not
        // write it again (it is written at most once a minute).
        let a = sa::remembered(&fx.w.clock, &id, &secret).expect("remembered");
        assert!(a.last_used_at.is_some(), "{a:?}");
    }
    // A scope removed: the next token carries only what is still granted.
    sa::set_grants(
        &fx.w.store,
        &fx.w.clock,
        fx.t.id(),
        &account,
        &[(RESOURCE_URI.to_string(), vec![READ.to_string()])],
        "admin:x",
    )
    .await
    .unwrap();
    let (s, body) = grant(secret.clone()).await;
    assert_eq!((s, body["scope"].as_str()), (200, Some(READ)), "{body}");
    // A rotation without overlap (a leaked secret): the old one is refused at once.
    let rotated = sa::rotate_secret(&fx.w.store, &fx.w.clock, fx.t.id(), &account, 0, "admin:x")
        .await
        .unwrap();
    let (s, body) = grant(secret.clone()).await;
    assert_eq!(
        (s, &body["error"]),
        (401, &json!("invalid_client")),
        "{body}"
    );
    let (s, body) = grant(rotated.secret.clone()).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = grant(rotated.secret.clone()).await;
    assert_eq!(s, 200, "{body}");
    // A disable: refused at once, and the tokens issued before are revoked.
    let before = body["access_token"].as_str().unwrap().to_string();
    set_enabled(&fx.w, &fx.t, &account, false).await;
    let (s, body) = grant(rotated.secret.clone()).await;
    assert_eq!(
        (s, &body["error"]),
        (401, &json!("invalid_client")),
        "{body}"
    );
    assert!(!fx.w.active(&before).await);
}

/// Group commit (ADR 0025): on PostgreSQL, grants that arrive together at a node are written
/// by one statement. Each keeps its own outcome. Here both accounts are remembered by the node
/// and the second is then disabled by the admin functions (as by another node), so the
/// grants of both meet in one write: every grant of the first gets its own live token and its
/// own audit record, and the guard refuses every grant of the second, which is then answered
/// `invalid_client` with nothing issued.
#[actix_web::test]
async fn grants_written_together_each_keep_their_own_outcome() {
    let fx = fixture().await;
    let (a_id, a_secret, a) = fx
        .secret_account("group-a", &[(RESOURCE_URI, &[READ])])
        .await;
    let (b_id, b_secret, b) = fx
        .secret_account("group-b", &[(RESOURCE_URI, &[READ])])
        .await;
    let app = Node::new(&fx.w.store, &fx.w.clock, ISSUER).app().await;
    let form = [CC, ("resource", RESOURCE_URI)];
    let (a_auth, b_auth) = (basic(&a_id, &a_secret), basic(&b_id, &b_secret));
    for auth in [&a_auth, &b_auth] {
        let (s, body) = token(&app, Some(auth), &form).await;
        assert_eq!(s, 200, "{body}");
    }
    set_enabled(&fx.w, &fx.t, &b, false).await;
    let groups = |text: &str| {
        let v = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // Grants written in groups of more than one: the sum of sizes less their count.
        v("gatehouse_grant_group_size_sum") - v("gatehouse_grant_group_size_count")
    };
    let before = groups(&authz_core::metrics::render(None, 0).await);
    let n = 16;
    let answers = futures::future::join_all((0..2 * n).map(|i| {
        let auth = if i % 2 == 0 { &a_auth } else { &b_auth };
        token(&app, Some(auth), &form)
    }))
    .await;
    let mut tokens = std::collections::HashSet::new();
    for (i, (status, body)) in answers.iter().enumerate() {
        if i % 2 == 0 {
            assert_eq!(*status, 200, "{body}");
            let t = body["access_token"].as_str().unwrap().to_string();
            assert!(fx.w.active(&t).await, "{body}");
            assert!(tokens.insert(t), "a token issued twice");
        } else {
            assert_eq!(
                (*status, &body["error"]),
                (401, &json!("invalid_client")),
                "{body}"
            );
        }
    }
    let issued = fx.audit("token.issued").await;
    let count = |account: &str| {
        issued
            .iter()
            .filter(|r| r.user_id.as_deref() == Some(account))
            .count()
    };
    assert_eq!(
        count(&a),
        n + 1,
        "one audit record per token of the live account"
    );
    assert_eq!(count(&b), 1, "nothing issued to the disabled account");
    if fx.w.store.is_postgres() {
        let after = groups(&authz_core::metrics::render(None, 0).await);
        assert!(
            after > before,
            "no grants were written together: {before} -> {after}"
        );
    }
}
