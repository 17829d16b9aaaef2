//! Codes, access and refresh tokens, introspection, revocation and client registration, driven
//! through the real domain functions with an injected clock.

use authz_core::client::{self, ClientMetadata, RegistrationError, DCR_UNUSED_CLIENTS_PER_SOURCE};
use authz_core::redirect::RedirectPolicy;
use authz_core::testkit::world::*;
use authz_core::token::code::{self, CodeExchange};
use authz_core::token::introspect;
use authz_core::token::refresh::{self, RefreshRequest};
use authz_core::token::revoke::{self, Revoked};
use authz_core::token::{IssuedTokens, TokenError};

fn assert_err(r: Result<IssuedTokens, TokenError>, code: &str, description: &str) {
    match r {
        Err(e) => {
            assert_eq!(e.code, code, "{e}");
            assert_eq!(e.description, description);
        }
        Ok(t) => panic!("expected {code}, got tokens (scope {})", t.scope),
    }
}

async fn refresh_with(
    w: &World,
    rt: &str,
    scope: Option<&str>,
) -> Result<IssuedTokens, TokenError> {
    refresh::refresh(
        &w.store,
        &w.clock,
        &w.client,
        RefreshRequest {
            dpop_jkt: None,
            refresh_token: rt,
            scope,
            resource: None,
        },
    )
    .await
}

async fn setup() -> (World, TenantFx) {
    let w = World::new().await;
    let t = w.tenant("acme", "acme.example", &[READ, DELETE]).await;
    (w, t)
}

#[tokio::test]
async fn code_exchanges_once_and_a_replay_revokes_what_it_issued() {
    let (w, t) = setup().await;
    let code = w.code_for(&t, &w.client, &[READ]).await;
    let first = w.exchange(&w.client, &code).await.expect("first exchange");
    assert_eq!(first.token_type, "Bearer");
    assert_eq!(first.scope, READ);
    assert_eq!(first.expires_in, 3600);
    let rt = first
        .refresh_token
        .clone()
        .expect("pre-registered client gets a refresh token");
    assert!(w.active(&first.access_token).await);

    assert_err(
        w.exchange(&w.client, &code).await,
        "invalid_grant",
        "the authorization code was already used; tokens issued from it are revoked",
    );
    assert!(
        !w.active(&first.access_token).await,
        "tokens of a replayed code are revoked"
    );
    assert_err(
        refresh_with(&w, &rt, None).await,
        "invalid_grant",
        "the refresh token has been revoked",
    );
    let replay = w
        .audit_rows(t.id().as_str())
        .await
        .into_iter()
        .find(|r| r.action == "code.replay_detected");
    let replay = replay.expect("replay is audited");
    assert_eq!(replay.result, "denied");
}

/// The audit record of a token event says what happened: how many tokens a replay, a reuse or
/// a user revocation revoked, and which kind of token was revoked. These are not secrets.
#[tokio::test]
async fn token_event_audit_details_keep_counts_and_kinds() {
    let (w, t) = setup().await;
    // Code replay: the first exchange's access and refresh token are revoked.
    let code = w.code_for(&t, &w.client, &[READ]).await;
    w.exchange(&w.client, &code).await.unwrap();
    w.exchange(&w.client, &code).await.unwrap_err();
    // Refresh reuse: three access and three refresh tokens of the family.
    // (The clock moves between rotations, as it does outside a test: a rotation's successors
    // are the tokens issued after the rotated-out one.)
    let rt1 = w.tokens(&t, &[READ]).await.refresh_token.unwrap();
    w.clock.advance_secs(1);
    let rt2 = refresh_with(&w, &rt1, None)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    w.clock.advance_secs(1);
    refresh_with(&w, &rt2, None).await.unwrap();
    refresh_with(&w, &rt1, None).await.unwrap_err();
    // Revocation of one access token.
    let a = w.tokens(&t, &[READ]).await;
    revoke::revoke_by_client(&w.store, &w.clock, &w.client, &a.access_token)
        .await
        .unwrap();

    let rows = w.audit_rows(t.id().as_str()).await;
    let details = |action: &str| -> serde_json::Value {
        let r = rows
            .iter()
            .find(|r| r.action == action)
            .unwrap_or_else(|| panic!("no {action} record"));
        serde_json::from_str(&r.details).unwrap()
    };
    let issued = details("token.issued");
    assert_eq!(
        issued["refresh_token"],
        serde_json::json!(true),
        "token.issued details: {issued}"
    );
    let replay = details("code.replay_detected");
    assert_eq!(
        replay["tokens_revoked"],
        serde_json::json!(2),
        "code.replay_detected details: {replay}"
    );
    let reuse = details("refresh_token.reuse_detected");
    assert_eq!(
        reuse["tokens_revoked"],
        serde_json::json!(6),
        "refresh_token.reuse_detected details: {reuse}"
    );
    let revoked = details("token.revoked");
    assert_eq!(
        revoked["token_kind"],
        serde_json::json!("access"),
        "token.revoked details: {revoked}"
    );
}

#[tokio::test]
async fn unknown_code_is_invalid_grant() {
    let (w, _t) = setup().await;
    assert_err(
        w.exchange(&w.client, "not-a-code").await,
        "invalid_grant",
        "the authorization code is invalid",
    );
}

#[tokio::test]
async fn pkce_is_enforced() {
    let (w, t) = setup().await;
    let exchange = |code: String, verifier: Option<&'static str>| {
        let w = &w;
        async move {
            code::exchange(
                &w.store,
                &w.clock,
                &w.client,
                CodeExchange {
                    dpop_jkt: None,
                    code: &code,
                    redirect_uri: Some(REDIRECT),
                    code_verifier: verifier,
                    resource: Some(RESOURCE_URI),
                },
            )
            .await
        }
    };
    let wrong = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let c = w.code_for(&t, &w.client, &[READ]).await;
    assert_err(
        exchange(c, Some(wrong)).await,
        "invalid_grant",
        "code_verifier does not match the code_challenge",
    );
    let c = w.code_for(&t, &w.client, &[READ]).await;
    assert_err(
        exchange(c, None).await,
        "invalid_request",
        "code_verifier is required (PKCE)",
    );
    let c = w.code_for(&t, &w.client, &[READ]).await;
    assert_err(
        exchange(c, Some("short")).await,
        "invalid_grant",
        "code_verifier is malformed (RFC 7636 §4.1)",
    );
    // A failed attempt burns the code: the right verifier afterwards is a replay.
    let c = w.code_for(&t, &w.client, &[READ]).await;
    assert_err(
        exchange(c.clone(), Some(wrong)).await,
        "invalid_grant",
        "code_verifier does not match the code_challenge",
    );
    assert_err(
        exchange(c, Some(VERIFIER)).await,
        "invalid_grant",
        "the authorization code was already used; tokens issued from it are revoked",
    );
}

#[tokio::test]
async fn code_is_bound_to_client_redirect_uri_and_resource() {
    let (w, t) = setup().await;
    let other = client::add_preregistered(
        &w.store,
        &w.clock,
        &RedirectPolicy::default(),
        "Other",
        &[s("https://other.example/cb")],
        false,
    )
    .await
    .unwrap()
    .client;
    let c = w.code_for(&t, &w.client, &[READ]).await;
    assert_err(
        w.exchange(&other, &c).await,
        "invalid_grant",
        "the authorization code was issued to another client",
    );

    let c = w.code_for(&t, &w.client, &[READ]).await;
    let r = code::exchange(
        &w.store,
        &w.clock,
        &w.client,
        CodeExchange {
            dpop_jkt: None,
            code: &c,
            redirect_uri: Some("https://app.example.com/other"),
            code_verifier: Some(VERIFIER),
            resource: Some(RESOURCE_URI),
        },
    )
    .await;
    assert_err(
        r,
        "invalid_grant",
        "redirect_uri does not match the authorization request",
    );

    let c = w.code_for(&t, &w.client, &[READ]).await;
    let r = code::exchange(
        &w.store,
        &w.clock,
        &w.client,
        CodeExchange {
            dpop_jkt: None,
            code: &c,
            redirect_uri: Some(REDIRECT),
            code_verifier: Some(VERIFIER),
            resource: Some(OTHER_RESOURCE_URI),
        },
    )
    .await;
    assert_err(
        r,
        "invalid_target",
        "resource does not match the authorization request",
    );

    // A trailing slash names the same resource (RFC 8707 normalisation).
    let c = w.code_for(&t, &w.client, &[READ]).await;
    let r = code::exchange(
        &w.store,
        &w.clock,
        &w.client,
        CodeExchange {
            dpop_jkt: None,
            code: &c,
            redirect_uri: Some(REDIRECT),
            code_verifier: Some(VERIFIER),
            resource: Some("https://crm.example.com/mcp/"),
        },
    )
    .await;
    assert!(r.is_ok(), "{:?}", r.err());
}

#[tokio::test]
async fn code_expires_after_60_seconds() {
    let (w, t) = setup().await;
    let c = w.code_for(&t, &w.client, &[READ]).await;
    w.clock.advance_secs(59);
    assert!(
        w.exchange(&w.client, &c).await.is_ok(),
        "a 59-second-old code is redeemable"
    );
    let c = w.code_for(&t, &w.client, &[READ]).await;
    w.clock.advance_secs(61);
    assert_err(
        w.exchange(&w.client, &c).await,
        "invalid_grant",
        "the authorization code has expired",
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let (w, t) = setup().await;
    let first = w.tokens(&t, &[READ]).await;
    let rt1 = first.refresh_token.clone().unwrap();
    w.clock.advance_secs(60);
    let second = refresh_with(&w, &rt1, None).await.expect("refresh");
    let rt2 = second
        .refresh_token
        .clone()
        .expect("rotation returns a new refresh token");
    assert_ne!(rt2, rt1);
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(second.scope, READ);
    let third = refresh_with(&w, &rt2, None)
        .await
        .expect("the new refresh token works");
    assert!(w.active(&third.access_token).await);

    // The rotated-out token comes back: someone else has a copy.
    assert_err(
        refresh_with(&w, &rt1, None).await,
        "invalid_grant",
        "the refresh token was already used; the grant is revoked",
    );
    for at in [
        &first.access_token,
        &second.access_token,
        &third.access_token,
    ] {
        assert!(
            !w.active(at).await,
            "every access token of the family is inactive"
        );
    }
    assert_err(
        refresh_with(&w, third.refresh_token.as_deref().unwrap(), None).await,
        "invalid_grant",
        "the refresh token has been revoked",
    );
    let rows = w.audit_rows(t.id().as_str()).await;
    let reuse: Vec<_> = rows
        .iter()
        .filter(|r| r.action == "refresh_token.reuse_detected")
        .collect();
    assert_eq!(reuse.len(), 1);
    assert_eq!(reuse[0].result, "denied");
    assert_eq!(reuse[0].user_id.as_deref(), Some(t.user.id.as_str()));
    assert_eq!(
        reuse[0].client_id.as_deref(),
        Some(w.client.client_id.as_str())
    );
    assert!(
        reuse[0].details.contains("\"alert\":true"),
        "{}",
        reuse[0].details
    );
}

#[tokio::test]
async fn refresh_scope_must_be_in_the_grant_and_a_failed_refresh_does_not_burn_the_token() {
    let (w, t) = setup().await;
    let first = w.tokens(&t, &[READ, DELETE]).await;
    assert_eq!(first.expires_in, 900);
    let rt = first.refresh_token.unwrap();
    assert_err(
        refresh_with(&w, &rt, Some(&format!("{READ} {SETTINGS}"))).await,
        "invalid_scope",
        &format!("scope '{SETTINGS}' was not part of the original grant"),
    );
    assert_err(
        refresh_with(&w, &rt, Some("wiki:read")).await,
        "invalid_scope",
        "scope 'wiki:read' was not part of the original grant",
    );
    // Narrowing to the routine scope gives a routine-tier (60 min) token.
    let narrowed = refresh_with(&w, &rt, Some(READ))
        .await
        .expect("the refresh token survived the refused requests");
    assert_eq!(narrowed.scope, READ);
    assert_eq!(narrowed.expires_in, 3600);
    let i = w.introspect(&narrowed.access_token).await;
    assert_eq!(i.scope.as_deref(), Some(READ));
    assert_eq!(i.tier.as_deref(), Some("routine"));
}

#[tokio::test]
async fn refresh_token_of_another_client_is_refused() {
    let (w, t) = setup().await;
    let first = w.tokens(&t, &[READ]).await;
    let other = client::add_preregistered(
        &w.store,
        &w.clock,
        &RedirectPolicy::default(),
        "Other",
        &[s("https://other.example/cb")],
        false,
    )
    .await
    .unwrap()
    .client;
    let r = refresh::refresh(
        &w.store,
        &w.clock,
        &other,
        RefreshRequest {
            dpop_jkt: None,
            refresh_token: first.refresh_token.as_deref().unwrap(),
            scope: None,
            resource: None,
        },
    )
    .await;
    assert_err(
        r,
        "invalid_grant",
        "the refresh token was issued to another client",
    );
    // The rightful client can still use it.
    assert!(
        refresh_with(&w, first.refresh_token.as_deref().unwrap(), None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn access_token_lifetime_follows_the_most_sensitive_scope() {
    let (w, t) = setup().await;
    let routine = w.tokens(&t, &[READ]).await;
    let sensitive = w.tokens(&t, &[READ, DELETE]).await;
    assert_eq!(routine.expires_in, 3600);
    assert_eq!(sensitive.expires_in, 900);
    let i = w.introspect(&sensitive.access_token).await;
    assert_eq!(i.tier.as_deref(), Some("sensitive"));
    assert_eq!(i.exp.unwrap() - i.iat.unwrap(), 900);
    assert_eq!(i.aud.as_deref(), Some(RESOURCE_URI));
    assert_eq!(i.iss.as_deref(), Some(ISSUER));
    assert_eq!(i.client_id.as_deref(), Some(w.client.client_id.as_str()));

    w.clock.advance_secs(899);
    assert!(w.active(&sensitive.access_token).await);
    w.clock.advance_secs(2); // 901 s
    assert!(
        !w.active(&sensitive.access_token).await,
        "sensitive token dead after 15 minutes"
    );
    assert!(w.active(&routine.access_token).await);
    w.clock.advance_secs(3599 - 901); // 3599 s
    assert!(w.active(&routine.access_token).await);
    w.clock.advance_secs(2); // 3601 s
    assert!(
        !w.active(&routine.access_token).await,
        "routine token dead after 60 minutes"
    );
    // The refresh token is still good and mints a fresh one.
    let again = refresh_with(&w, routine.refresh_token.as_deref().unwrap(), None)
        .await
        .unwrap();
    assert!(w.active(&again.access_token).await);
}

#[tokio::test]
async fn introspection_is_audience_bound_and_refresh_tokens_are_never_active() {
    let (w, t) = setup().await;
    let tok = w.tokens(&t, &[READ]).await;
    let other = introspect::introspect(
        &w.store.db,
        &w.clock,
        ISSUER,
        &w.other_resource,
        &tok.access_token,
    )
    .await
    .unwrap();
    assert!(
        !other.active,
        "another resource's credentials see an inactive token"
    );
    assert_eq!(
        serde_json::to_value(&other).unwrap(),
        serde_json::json!({"active": false})
    );
    assert!(
        w.active(&tok.access_token).await,
        "the audience still sees it active"
    );
    assert!(
        !w.active(tok.refresh_token.as_deref().unwrap()).await,
        "a refresh token is not an access token"
    );
    assert!(!w.active("garbage").await);
    // Wrong resource-server secret does not authenticate.
    assert!(
        authz_core::resource::authenticate(&w.store.db, 0, &w.resource.rs_client_id, "wrong")
            .await
            .unwrap()
            .is_none()
    );
    assert!(authz_core::resource::authenticate(
        &w.store.db,
        0,
        &w.resource.rs_client_id,
        &w.rs_secret
    )
    .await
    .unwrap()
    .is_some());
}

#[tokio::test]
async fn revocation_of_access_and_refresh_tokens() {
    let (w, t) = setup().await;
    let a = w.tokens(&t, &[READ]).await;
    let b = w.tokens(&t, &[READ]).await;

    // Another client cannot revoke someone else's token (RFC 7009 answers 200 all the same).
    let other = client::add_preregistered(
        &w.store,
        &w.clock,
        &RedirectPolicy::default(),
        "Other",
        &[s("https://other.example/cb")],
        false,
    )
    .await
    .unwrap()
    .client;
    assert_eq!(
        revoke::revoke_by_client(&w.store, &w.clock, &other, &a.access_token)
            .await
            .unwrap(),
        Revoked::Nothing
    );
    assert!(w.active(&a.access_token).await);

    assert_eq!(
        revoke::revoke_by_client(&w.store, &w.clock, &w.client, &a.access_token)
            .await
            .unwrap(),
        Revoked::Access
    );
    assert!(
        !w.active(&a.access_token).await,
        "revoked access token is inactive"
    );
    assert!(w.active(&b.access_token).await, "other grants untouched");

    assert_eq!(
        revoke::revoke_by_client(
            &w.store,
            &w.clock,
            &w.client,
            b.refresh_token.as_deref().unwrap()
        )
        .await
        .unwrap(),
        Revoked::Grant(2)
    );
    assert!(
        !w.active(&b.access_token).await,
        "revoking the refresh token takes its access token along"
    );
    assert_err(
        refresh_with(&w, b.refresh_token.as_deref().unwrap(), None).await,
        "invalid_grant",
        "the refresh token has been revoked",
    );
    assert_eq!(
        revoke::revoke_by_client(&w.store, &w.clock, &w.client, "unknown")
            .await
            .unwrap(),
        Revoked::Nothing
    );
    let revoked = w
        .audit_rows(t.id().as_str())
        .await
        .into_iter()
        .filter(|r| r.action == "token.revoked")
        .count();
    assert_eq!(revoked, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_code_exchanges_all_succeed() {
    let (w, t) = setup().await;
    let mut codes = Vec::new();
    for _ in 0..16 {
        codes.push(w.code_for(&t, &w.client, &[READ]).await);
    }
    let results = futures_join(&w, codes).await;
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of 16 concurrent exchanges failed: {:?}",
        failures.len(),
        failures
    );
}

async fn futures_join(w: &World, codes: Vec<String>) -> Vec<Result<IssuedTokens, TokenError>> {
    let mut handles = Vec::new();
    for c in codes {
        let (store, clock, client) = (w.store.clone(), w.clock.clone(), w.client.clone());
        handles.push(tokio::spawn(async move {
            code::exchange(
                &store,
                &clock,
                &client,
                CodeExchange {
                    dpop_jkt: None,
                    code: &c,
                    redirect_uri: Some(REDIRECT),
                    code_verifier: Some(VERIFIER),
                    resource: Some(RESOURCE_URI),
                },
            )
            .await
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

fn public_meta(name: &str) -> ClientMetadata {
    ClientMetadata {
        redirect_uris: vec![s("http://127.0.0.1:33418/callback")],
        client_name: Some(name.into()),
        token_endpoint_auth_method: Some("none".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn dcr_reuses_identical_public_registrations_but_not_confidential_ones() {
    let (w, _t) = setup().await;
    let p = RedirectPolicy::default();
    let r1 = client::register_dynamic(
        &w.store,
        &w.clock,
        &p,
        &public_meta("Claude"),
        "198.51.100.1",
    )
    .await
    .unwrap();
    assert!(!r1.reused);
    assert!(r1.client_secret.is_none() && r1.registration_access_token.is_none());
    assert!(r1.client.client_id.starts_with("dcr_"));
    let r2 = client::register_dynamic(
        &w.store,
        &w.clock,
        &p,
        &public_meta("Claude"),
        "203.0.113.9",
    )
    .await
    .unwrap();
    assert!(r2.reused);
    assert_eq!(r2.client.client_id, r1.client.client_id);
    assert!(r2.client_secret.is_none());
    let r3 = client::register_dynamic(
        &w.store,
        &w.clock,
        &p,
        &public_meta("Cursor"),
        "198.51.100.1",
    )
    .await
    .unwrap();
    assert!(!r3.reused);
    assert_ne!(r3.client.client_id, r1.client.client_id);

    let conf = ClientMetadata {
        redirect_uris: vec![s("https://agent.example/cb")],
        client_name: Some("Agent".into()),
        ..Default::default()
    };
    let c1 = client::register_dynamic(&w.store, &w.clock, &p, &conf, "198.51.100.1")
        .await
        .unwrap();
    let c2 = client::register_dynamic(&w.store, &w.clock, &p, &conf, "198.51.100.1")
        .await
        .unwrap();
    assert!(!c1.reused && !c2.reused);
    assert_ne!(c1.client.client_id, c2.client.client_id);
    assert_eq!(c1.client.auth_method, "client_secret_basic");
    let (s1, s2) = (
        c1.client_secret.clone().unwrap(),
        c2.client_secret.clone().unwrap(),
    );
    assert_ne!(s1, s2);
    assert!(c1.registration_access_token.is_some());
    assert!(c1.client.secret_matches(&s1));
    assert!(!c1.client.secret_matches(&s2));
    let stored = client::get(&w.store.db, &c1.client.client_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.secret_matches(&s1),
        "the stored client checks the secret it was given"
    );
    assert!(client::authorize_management(
        &w.store.db,
        &c1.client.client_id,
        c1.registration_access_token.as_deref().unwrap()
    )
    .await
    .unwrap()
    .is_some());
    // A public client has no management token at all.
    assert!(
        client::authorize_management(&w.store.db, &r1.client.client_id, "")
            .await
            .unwrap()
            .is_none()
    );
}

/// What is bounded is unused registrations per source, not registrations (issue 11): hosted
/// connectors register many clients from one egress address, and each gets used.
#[tokio::test]
async fn dcr_unused_clients_are_capped_per_source() {
    let (w, t) = setup().await;
    let p = RedirectPolicy::default();
    let src = "198.51.100.7";
    let mut first = None;
    for i in 0..DCR_UNUSED_CLIENTS_PER_SOURCE {
        let r = client::register_dynamic(
            &w.store,
            &w.clock,
            &p,
            &public_meta(&format!("client {i}")),
            src,
        )
        .await
        .unwrap_or_else(|e| panic!("registration {i} within the limit failed: {e}"));
        assert!(!r.reused);
        first.get_or_insert(r.client);
    }
    let first = first.unwrap();
    match client::register_dynamic(&w.store, &w.clock, &p, &public_meta("one too many"), src).await
    {
        Err(RegistrationError::RateLimited { retry_after }) => {
            assert_eq!(retry_after, client::DCR_UNUSED_EXPIRY_SECS)
        }
        Err(e) => panic!("expected RateLimited, got {e}"),
        Ok(r) => panic!("expected RateLimited, got client {}", r.client.client_id),
    }
    // Identical re-registrations are not new clients: still answered.
    let again = client::register_dynamic(&w.store, &w.clock, &p, &public_meta("client 0"), src)
        .await
        .unwrap();
    assert!(again.reused);
    assert_eq!(again.client.client_id, first.client_id);
    // Other sources are not affected.
    assert!(client::register_dynamic(
        &w.store,
        &w.clock,
        &p,
        &public_meta("elsewhere"),
        "203.0.113.50"
    )
    .await
    .is_ok());
    // A client that completes an authorization no longer counts.
    let code = w.code_for(&t, &first, &[READ]).await;
    w.exchange(&first, &code).await.expect("first use");
    assert!(
        client::register_dynamic(&w.store, &w.clock, &p, &public_meta("after a use"), src)
            .await
            .is_ok()
    );
    assert!(matches!(
        client::register_dynamic(&w.store, &w.clock, &p, &public_meta("full again"), src).await,
        Err(RegistrationError::RateLimited { .. })
    ));
    // Unused clients stop counting once they are a day old.
    w.clock.advance_secs(client::DCR_UNUSED_EXPIRY_SECS);
    assert!(
        !client::register_dynamic(&w.store, &w.clock, &p, &public_meta("next day"), src)
            .await
            .unwrap()
            .reused
    );
}

#[tokio::test]
async fn unused_dcr_clients_expire_after_90_days_preregistered_ones_never() {
    let (w, t) = setup().await;
    let p = RedirectPolicy::default();
    let idle =
        client::register_dynamic(&w.store, &w.clock, &p, &public_meta("Idle"), "198.51.100.1")
            .await
            .unwrap()
            .client;
    let never = client::register_dynamic(
        &w.store,
        &w.clock,
        &p,
        &public_meta("Never"),
        "198.51.100.1",
    )
    .await
    .unwrap()
    .client;
    let used_meta = ClientMetadata {
        redirect_uris: vec![s("https://used.example/cb")],
        client_name: Some("Used".into()),
        token_endpoint_auth_method: Some("none".into()),
        ..Default::default()
    };
    let used = client::register_dynamic(&w.store, &w.clock, &p, &used_meta, "198.51.100.1")
        .await
        .unwrap()
        .client;
    let pre = client::add_preregistered(
        &w.store,
        &w.clock,
        &p,
        "Pre",
        &[s("https://pre.example/cb")],
        false,
    )
    .await
    .unwrap()
    .client;
    // "Idle" and "Used" get a token on their first day; "Never" never completes one.
    for c in [&idle, &used] {
        let code = w.code_for(&t, c, &[READ]).await;
        w.exchange(c, &code).await.expect("first use");
    }
    w.clock.advance_secs(client::DCR_UNUSED_EXPIRY_SECS + 1);
    assert_eq!(client::expire_unused(&w.store, &w.clock).await.unwrap(), 1);
    assert!(
        client::get(&w.store.db, &never.client_id)
            .await
            .unwrap()
            .is_none(),
        "a client never used within a day of registering is removed"
    );

    w.clock.advance_secs(88 * 86_400);
    assert_eq!(client::expire_unused(&w.store, &w.clock).await.unwrap(), 0);
    // The "used" client gets a token on day 89 (the user signs in again: sessions last 8 h).
    let t = w.signed_in_again(&t).await;
    let code = w.code_for(&t, &used, &[READ]).await;
    let tok = w.exchange(&used, &code).await.expect("DCR client exchange");
    assert!(
        tok.refresh_token.is_none(),
        "a DCR client without the refresh_token grant gets none"
    );

    w.clock.advance_secs(2 * 86_400); // day 91
    assert_eq!(client::expire_unused(&w.store, &w.clock).await.unwrap(), 1);
    assert!(
        client::get(&w.store.db, &idle.client_id)
            .await
            .unwrap()
            .is_none(),
        "idle DCR client removed"
    );
    assert!(
        client::get(&w.store.db, &used.client_id)
            .await
            .unwrap()
            .is_some(),
        "recently used DCR client kept"
    );
    assert!(
        client::get(&w.store.db, &pre.client_id)
            .await
            .unwrap()
            .is_some(),
        "pre-registered client kept"
    );
    assert!(client::get(&w.store.db, &w.client.client_id)
        .await
        .unwrap()
        .is_some());
    let expired = w
        .audit_rows(authz_core::audit::PLATFORM_CHAIN)
        .await
        .into_iter()
        .filter(|r| r.action == "client.expired")
        .count();
    assert_eq!(expired, 2);

    // A year later, the pre-registered clients are still there; the used one has gone idle.
    w.clock.advance_secs(365 * 86_400);
    assert_eq!(client::expire_unused(&w.store, &w.clock).await.unwrap(), 1);
    assert!(client::get(&w.store.db, &pre.client_id)
        .await
        .unwrap()
        .is_some());
    assert!(client::get(&w.store.db, &used.client_id)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_tenants_settings_shorten_token_lifetimes_within_the_design_bounds() {
    use authz_core::admin::settings::{self, TenantSettings};
    let (w, t) = setup().await;
    settings::set(
        &w.store,
        &w.clock,
        t.id(),
        &TenantSettings {
            routine_token_minutes: Some(30),
            sensitive_token_minutes: Some(10),
            ..Default::default()
        },
        "admin:test",
    )
    .await
    .unwrap();
    let routine = w.tokens(&t, &[READ]).await;
    let sensitive = w.tokens(&t, &[READ, DELETE]).await;
    assert_eq!(routine.expires_in, 1800);
    assert_eq!(sensitive.expires_in, 600);
    // Refresh follows the setting too.
    let again = refresh_with(&w, routine.refresh_token.as_deref().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(again.expires_in, 1800);
    // Above DESIGN §5's hard maximum: refused, nothing stored.
    let too_long = TenantSettings {
        sensitive_token_minutes: Some(16),
        ..Default::default()
    };
    assert!(
        settings::set(&w.store, &w.clock, t.id(), &too_long, "admin:test")
            .await
            .is_err()
    );
    assert_eq!(
        settings::get(&w.store.db, t.id())
            .await
            .unwrap()
            .sensitive_token_minutes,
        Some(10)
    );
}

#[tokio::test]
async fn switching_to_allow_list_mode_revokes_clients_not_allowed_and_keeps_allowed_ones() {
    use authz_core::admin::client_policy::{self, Decision};
    use authz_core::admin::settings::{self, TenantSettings};
    let (w, t) = setup().await;
    let tokens = w.tokens(&t, &[READ]).await;
    assert!(w.active(&tokens.access_token).await);
    // Allowed first: switching the mode keeps it.
    client_policy::set(
        &w.store,
        &w.clock,
        t.id(),
        &w.client.client_id,
        Some(Decision::Allow),
        "admin:test",
    )
    .await
    .unwrap();
    let allowlist = TenantSettings {
        client_policy: Some("allowlist".into()),
        ..Default::default()
    };
    settings::set(&w.store, &w.clock, t.id(), &allowlist, "admin:test")
        .await
        .unwrap();
    assert!(
        w.active(&tokens.access_token).await,
        "an allowed client keeps its tokens"
    );
    // Clearing the "allow" in allow-list mode: no longer permitted, revoked at once.
    client_policy::set(
        &w.store,
        &w.clock,
        t.id(),
        &w.client.client_id,
        None,
        "admin:test",
    )
    .await
    .unwrap();
    assert!(!w.active(&tokens.access_token).await);
    assert!(
        !client_policy::permits(&w.store.db, t.id(), &w.client.client_id)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_shortened_re_consent_cadence_applies_to_consents_given_before() {
    use authz_core::admin::settings::{self, TenantSettings};
    use authz_core::consent;
    use authz_core::scope::Tier;
    let (w, t) = setup().await;
    let scopes = vec![READ.to_string(), DELETE.to_string()];
    consent::remember(
        &w.store.db,
        &w.clock,
        t.id(),
        &t.user.id,
        &w.client.client_id,
        &w.resource.id,
        &scopes,
        Tier::Sensitive,
    )
    .await
    .unwrap();
    w.clock.advance_secs(3 * 86_400);
    let get = || {
        consent::get(
            &w.store.db,
            &w.clock,
            t.id(),
            &t.user.id,
            &w.client.client_id,
            &w.resource.id,
        )
    };
    assert!(get().await.unwrap().is_some(), "within the default 90 days");
    settings::set(
        &w.store,
        &w.clock,
        t.id(),
        &TenantSettings {
            reconsent_days: Some(2),
            ..Default::default()
        },
        "admin:test",
    )
    .await
    .unwrap();
    assert!(
        get().await.unwrap().is_none(),
        "given 3 days ago, the new 2-day cadence asks again"
    );
}

/// How many grants of `grant_type` this process has written by one statement (ADR 0022).
async fn one_statement_writes(grant_type: &str) -> u64 {
    let text = authz_core::metrics::render(None, 0).await;
    let series = format!(
        "gatehouse_grant_writes_total{{grant_type=\"{grant_type}\",path=\"one_statement\"}} "
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .map(|n| n.trim().parse().expect("a counter"))
        .unwrap_or(0)
}

/// ADR 0022: on PostgreSQL a code exchange and a refresh are written by one statement of
/// data-modifying CTEs; SQLite, and every unusual case, keeps the transaction. Either way the
/// same rows result: the code burnt, the refresh token marked used, the new tokens live, and
/// the audit records with their fields.
#[tokio::test]
async fn grants_are_written_by_one_statement_on_postgres_with_the_same_rows() {
    let (w, t) = setup().await;
    let (codes, refreshes) = (
        one_statement_writes("authorization_code").await,
        one_statement_writes("refresh_token").await,
    );
    let first = w.tokens(&t, &[READ]).await;
    let rt1 = first.refresh_token.clone().unwrap();
    let second = refresh_with(&w, &rt1, None).await.expect("refresh");
    if w.store.is_postgres() {
        assert!(one_statement_writes("authorization_code").await > codes);
        assert!(one_statement_writes("refresh_token").await > refreshes);
    } else {
        assert_eq!(one_statement_writes("authorization_code").await, 0);
        assert_eq!(one_statement_writes("refresh_token").await, 0);
    }
    assert!(w.active(&first.access_token).await);
    assert!(w.active(&second.access_token).await);
    assert_eq!(second.scope, READ);
    // The rotated-out token is spent: presenting it again within the grace is a retry that
    // supersedes the pair, outside it reuse.
    w.clock.advance_secs(61);
    assert_err(
        refresh_with(&w, &rt1, None).await,
        "invalid_grant",
        "the refresh token was already used; the grant is revoked",
    );
    assert!(!w.active(&second.access_token).await);
    let rows = w.audit_rows(t.id().as_str()).await;
    let issued = rows
        .iter()
        .find(|r| r.action == "token.issued")
        .expect("token.issued");
    assert_eq!(issued.user_id.as_deref(), Some(t.user.id.as_str()));
    assert_eq!(
        issued.client_id.as_deref(),
        Some(w.client.client_id.as_str())
    );
    assert_eq!(issued.scope.as_deref(), Some(READ));
    assert!(issued
        .details
        .contains("\"grant_type\":\"authorization_code\""));
    assert!(issued.details.contains("\"refresh_token\":true"));
    let refreshed = rows
        .iter()
        .find(|r| r.action == "token.refreshed")
        .expect("token.refreshed");
    assert_eq!(refreshed.result, "success");
    assert_eq!(refreshed.user_id.as_deref(), Some(t.user.id.as_str()));
    assert!(refreshed.details.contains("\"retry_within_grace\":false"));
}

/// A person's revocation (SCIM deactivation, an admin's "revoke all") racing code exchanges
/// leaves no live token: an exchange that commits first has its family revoked, a later one
/// finds its code gone (the `token::revoke` module docs: codes before families).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_racing_code_exchanges_leaves_no_live_token() {
    let (w, t) = setup().await;
    let mut codes = Vec::new();
    for _ in 0..16 {
        codes.push(w.code_for(&t, &w.client, &[READ]).await);
    }
    let (store, clock) = (w.store.clone(), w.clock.clone());
    let (tenant, user) = (t.id().clone(), t.user.id.clone());
    let revocation = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        let txn = store.begin().await.unwrap();
        revoke::revoke_user(&txn, &clock, &tenant, &user, "admin:test")
            .await
            .unwrap();
        txn.commit().await.unwrap();
    });
    let results = futures_join(&w, codes).await;
    revocation.await.unwrap();
    for r in results {
        match r {
            Ok(issued) => assert!(
                !w.active(&issued.access_token).await,
                "a token outlived the revocation"
            ),
            Err(e) => assert_eq!(e.code, "invalid_grant", "{e}"),
        }
    }
}
