//! Leavers lose access without SCIM (DESIGN §4b, issue 11 §2), on SQLite and PostgreSQL with the
//! fixed clock: the upstream re-validation of OIDC sessions (interval, `invalid_grant` revokes,
//! the fail-closed window of an unreachable IdP, rotated upstream tokens), the cap on a refresh
//! family's life without a fresh sign-in (SAML, OIDC without offline access), and the tenant's
//! refresh lifetime. The IdP is a stub behind `UpstreamRefresher`.

use std::sync::Mutex;

use authz_core::admin::settings::{self, TenantSettings};
use authz_core::connection::Connection;
use authz_core::entities::upstream_sessions;
use authz_core::testkit::world::*;
use authz_core::token::refresh::{self, RefreshRequest};
use authz_core::token::upstream_check::Upstream;
use authz_core::token::{IssuedTokens, TokenError};
use authz_core::upstream_session::{self, SignIn, UpstreamAnswer, UpstreamRefresher};
use sea_orm::EntityTrait;

const MIN: i64 = 60;
const HOUR: i64 = 3600;

/// The IdP: answers what the test says, and remembers the refresh tokens it was shown.
struct StubIdp {
    answer: Mutex<UpstreamAnswer>,
    seen: Mutex<Vec<String>>,
}

impl StubIdp {
    fn new() -> Self {
        StubIdp {
            answer: Mutex::new(UpstreamAnswer::Valid { rotated: None }),
            seen: Mutex::new(Vec::new()),
        }
    }
    fn answer(&self, a: UpstreamAnswer) {
        *self.answer.lock().unwrap() = a;
    }
    fn calls(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl UpstreamRefresher for StubIdp {
    async fn refresh(&self, conn: &Connection, secret: &str, rt: &str) -> UpstreamAnswer {
        assert_eq!(secret, "idp-secret", "the connection's secret, opened");
        assert_eq!(conn.client_id, "gatehouse");
        self.seen.lock().unwrap().push(rt.to_string());
        self.answer.lock().unwrap().clone()
    }
}

fn revoked() -> UpstreamAnswer {
    UpstreamAnswer::Revoked {
        detail: "invalid_grant: grant request is invalid".into(),
    }
}

fn unreachable() -> UpstreamAnswer {
    UpstreamAnswer::Unreachable {
        detail: "connection refused".into(),
    }
}

async fn refresh_via(w: &World, idp: &StubIdp, rt: &str) -> Result<IssuedTokens, TokenError> {
    refresh::refresh_with(
        &w.store,
        &w.clock,
        Upstream { key: &w.key, idp },
        &w.client,
        RefreshRequest {
            dpop_jkt: None,
            refresh_token: rt,
            scope: None,
            resource: None,
        },
    )
    .await
}

/// Records the OIDC sign-in behind the tenant's session, with or without an upstream token.
async fn signed_in_upstream(w: &World, t: &TenantFx, upstream_rt: Option<&str>) {
    upstream_session::record_sign_in(
        &w.store.db,
        &w.clock,
        &w.key,
        &SignIn {
            tenant: t.id(),
            session_id: &t.session.id,
            connection_id: &t.connection.id,
            user_id: &t.user.id,
            refresh_token: upstream_rt,
            reuse_previous: false,
        },
    )
    .await
    .expect("record sign-in");
}

async fn set(w: &World, t: &TenantFx, s: TenantSettings) {
    settings::set(&w.store, &w.clock, t.id(), &s, "admin:test")
        .await
        .expect("settings");
}

fn rt(t: &IssuedTokens) -> String {
    t.refresh_token.clone().expect("refresh token")
}

fn assert_invalid_grant(r: Result<IssuedTokens, TokenError>, contains: &str) {
    match r {
        Err(e) => {
            assert_eq!(e.code, "invalid_grant", "{e}");
            assert!(e.description.contains(contains), "{e}");
        }
        Ok(t) => panic!("expected invalid_grant, got tokens ({})", t.scope),
    }
}

async fn details(w: &World, t: &TenantFx, action: &str) -> Vec<serde_json::Value> {
    w.audit_rows(t.id().as_str())
        .await
        .into_iter()
        .filter(|r| r.action == action)
        .map(|r| serde_json::from_str(&r.details).unwrap())
        .collect()
}

async fn setup() -> (World, TenantFx) {
    let w = World::new().await;
    let t = w.tenant("acme", "acme.example", &[READ]).await;
    (w, t)
}

#[tokio::test]
async fn before_the_interval_the_idp_is_not_asked_after_it_it_is_and_a_rotated_token_is_kept() {
    let (w, t) = setup().await;
    let idp = StubIdp::new();
    signed_in_upstream(&w, &t, Some("up-rt-1")).await;
    let row = upstream_sessions::Entity::find_by_id(t.session.id.clone())
        .one(&w.store.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !row.refresh_token_enc.unwrap().contains("up-rt-1"),
        "the upstream token is sealed at rest"
    );
    let first = w.tokens(&t, &[READ]).await;

    w.clock.advance_secs(59 * MIN);
    let second = refresh_via(&w, &idp, &rt(&first)).await.expect("refresh");
    assert!(idp.calls().is_empty(), "59 minutes < 60: no upstream call");

    w.clock.advance_secs(2 * MIN);
    idp.answer(UpstreamAnswer::Valid {
        rotated: Some("up-rt-2".into()),
    });
    let third = refresh_via(&w, &idp, &rt(&second)).await.expect("refresh");
    assert_eq!(
        idp.calls(),
        vec!["up-rt-1"],
        "61 minutes: one upstream call"
    );

    // The check restarted the interval.
    w.clock.advance_secs(30 * MIN);
    let fourth = refresh_via(&w, &idp, &rt(&third)).await.expect("refresh");
    assert_eq!(idp.calls().len(), 1);

    w.clock.advance_secs(31 * MIN);
    refresh_via(&w, &idp, &rt(&fourth)).await.expect("refresh");
    assert_eq!(
        idp.calls(),
        vec!["up-rt-1", "up-rt-2"],
        "the rotated upstream token is the one presented next"
    );
}

#[tokio::test]
async fn an_upstream_invalid_grant_revokes_every_family_of_the_session_and_the_session() {
    let (w, t) = setup().await;
    let idp = StubIdp::new();
    signed_in_upstream(&w, &t, Some("up-rt-1")).await;
    let a = w.tokens(&t, &[READ]).await;
    let b = w.tokens(&t, &[READ]).await;

    w.clock.advance_secs(HOUR);
    idp.answer(revoked());
    assert_invalid_grant(
        refresh_via(&w, &idp, &rt(&a)).await,
        "no longer signs this person in",
    );
    assert!(!w.active(&a.access_token).await, "family A revoked");
    assert!(
        !w.active(&b.access_token).await,
        "family B (same session) revoked"
    );
    assert!(
        authz_core::session::find_by_id(&w.store.db, &w.clock, &t.session.id)
            .await
            .unwrap()
            .is_none(),
        "the session is revoked"
    );
    assert_invalid_grant(refresh_via(&w, &idp, &rt(&b)).await, "revoked");
    assert_eq!(idp.calls().len(), 1, "a revoked family asks nobody");
    let revoked = details(&w, &t, "grant.revoked").await;
    assert_eq!(revoked.len(), 2, "one record per family: {revoked:?}");
    for d in &revoked {
        assert_eq!(d["reason"], "upstream_revoked");
        assert_eq!(d["connection_id"], t.connection.id.as_str());
    }
    let row = upstream_sessions::Entity::find_by_id(t.session.id.clone())
        .one(&w.store.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        row.refresh_token_enc.is_none(),
        "the dead upstream token is forgotten"
    );
}

#[tokio::test]
async fn an_unreachable_idp_is_tolerated_for_one_more_interval_then_refresh_is_refused() {
    let (w, t) = setup().await;
    let idp = StubIdp::new();
    signed_in_upstream(&w, &t, Some("up-rt-1")).await;
    let first = w.tokens(&t, &[READ]).await;
    idp.answer(unreachable());

    w.clock.advance_secs(61 * MIN);
    let second = refresh_via(&w, &idp, &rt(&first))
        .await
        .expect("within the window");
    w.clock.advance_secs(58 * MIN); // 119 minutes after the IdP last vouched
    let third = refresh_via(&w, &idp, &rt(&second))
        .await
        .expect("still within the window");
    assert_eq!(idp.calls().len(), 2, "each due refresh asks again");

    w.clock.advance_secs(2 * MIN); // 121 minutes: past last success + 2 × interval
    assert_invalid_grant(
        refresh_via(&w, &idp, &rt(&third)).await,
        "could not confirm",
    );
    let refused = details(&w, &t, "grant.refresh_refused").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["reason"], "upstream_unreachable");
    assert!(
        w.active(&third.access_token).await,
        "an unreachable IdP revokes nothing"
    );

    // The IdP answers again: the same refresh token works (the refusal did not spend it).
    w.clock.advance_secs(LEASE + 1);
    idp.answer(UpstreamAnswer::Valid { rotated: None });
    refresh_via(&w, &idp, &rt(&third))
        .await
        .expect("the IdP vouches again");
}

const LEASE: i64 = upstream_session::LEASE_SECS;

#[tokio::test]
async fn interval_zero_asks_the_idp_on_every_refresh() {
    let (w, t) = setup().await;
    let idp = StubIdp::new();
    set(
        &w,
        &t,
        TenantSettings {
            upstream_check_minutes: Some(0),
            ..Default::default()
        },
    )
    .await;
    signed_in_upstream(&w, &t, Some("up-rt-1")).await;
    let first = w.tokens(&t, &[READ]).await;
    let second = refresh_via(&w, &idp, &rt(&first)).await.unwrap();
    refresh_via(&w, &idp, &rt(&second)).await.unwrap();
    assert_eq!(idp.calls().len(), 2);
}

#[tokio::test]
async fn a_refresh_without_an_upstream_client_fails_closed() {
    let (w, t) = setup().await;
    signed_in_upstream(&w, &t, Some("up-rt-1")).await;
    let first = w.tokens(&t, &[READ]).await;
    let plain = |rt: String| {
        let w = &w;
        async move {
            refresh::refresh(
                &w.store,
                &w.clock,
                &w.client,
                RefreshRequest {
                    dpop_jkt: None,
                    refresh_token: &rt,
                    scope: None,
                    resource: None,
                },
            )
            .await
        }
    };
    w.clock.advance_secs(90 * MIN);
    let second = plain(rt(&first)).await.expect("within the window");
    w.clock.advance_secs(31 * MIN);
    assert_invalid_grant(plain(rt(&second)).await, "could not confirm");
}

#[tokio::test]
async fn without_upstream_refresh_a_non_scim_tenant_caps_a_family_at_24_hours() {
    // SAML, or an OIDC IdP that refused offline access: the IdP cannot be asked.
    let (w, t) = setup().await;
    let idp = StubIdp::new();
    signed_in_upstream(&w, &t, None).await;
    let first = w.tokens(&t, &[READ]).await;
    w.clock.advance_secs(23 * HOUR);
    let second = refresh_via(&w, &idp, &rt(&first))
        .await
        .expect("before the cap");
    w.clock.advance_secs(HOUR);
    assert_invalid_grant(refresh_via(&w, &idp, &rt(&second)).await, "sign in again");
    assert!(idp.calls().is_empty(), "nobody to ask");
    let refused = details(&w, &t, "grant.refresh_refused").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["reason"], "reauth_required");

    // A fresh sign-in starts a new family that refreshes again.
    let again = w.signed_in_again(&t).await;
    signed_in_upstream(&w, &again, None).await;
    let fresh = w.tokens(&again, &[READ]).await;
    refresh_via(&w, &idp, &rt(&fresh))
        .await
        .expect("after a fresh sign-in");
}

#[tokio::test]
async fn a_session_without_a_record_is_capped_from_its_start() {
    // Sessions that began before upstream records existed count from the session's start.
    let (w, t) = setup().await;
    let idp = StubIdp::new();
    let first = w.tokens(&t, &[READ]).await;
    w.clock.advance_secs(24 * HOUR);
    assert_invalid_grant(refresh_via(&w, &idp, &rt(&first)).await, "sign in again");
}

#[tokio::test]
async fn a_live_scim_token_lifts_the_default_cap_and_an_explicit_cap_still_applies() {
    let (w, t) = setup().await;
    let idp = StubIdp::new();
    authz_core::scim_token::create(&w.store, &w.clock, t.id(), "idp", 365 * 86_400)
        .await
        .unwrap();
    signed_in_upstream(&w, &t, None).await;
    let first = w.tokens(&t, &[READ]).await;
    w.clock.advance_secs(3 * 86_400);
    let second = refresh_via(&w, &idp, &rt(&first))
        .await
        .expect("SCIM connected: no default cap");
    set(
        &w,
        &t,
        TenantSettings {
            reauth_after_hours: Some(48),
            ..Default::default()
        },
    )
    .await;
    assert_invalid_grant(refresh_via(&w, &idp, &rt(&second)).await, "sign in again");
}

#[tokio::test]
async fn the_refresh_lifetime_is_the_tenants_setting() {
    let (w, t) = setup().await;
    let idp = StubIdp::new();
    set(
        &w,
        &t,
        TenantSettings {
            refresh_lifetime_days: Some(7),
            reauth_after_hours: Some(720),
            ..Default::default()
        },
    )
    .await;
    signed_in_upstream(&w, &t, None).await;
    let first = w.tokens(&t, &[READ]).await;
    w.clock.advance_secs(7 * 86_400 - 60);
    let second = refresh_via(&w, &idp, &rt(&first))
        .await
        .expect("within 7 days");
    w.clock.advance_secs(61);
    assert_invalid_grant(refresh_via(&w, &idp, &rt(&second)).await, "expired");
    assert!(settings::set(
        &w.store,
        &w.clock,
        t.id(),
        &TenantSettings {
            refresh_lifetime_days: Some(91),
            ..Default::default()
        },
        "admin:test",
    )
    .await
    .is_err());
}

#[tokio::test]
async fn google_reuses_the_persons_previous_upstream_token_when_none_came_back() {
    let (w, t) = setup().await;
    let idp = StubIdp::new();
    signed_in_upstream(&w, &t, Some("google-rt")).await;
    let again = w.signed_in_again(&t).await;
    upstream_session::record_sign_in(
        &w.store.db,
        &w.clock,
        &w.key,
        &SignIn {
            tenant: again.id(),
            session_id: &again.session.id,
            connection_id: &again.connection.id,
            user_id: &again.user.id,
            refresh_token: None,
            reuse_previous: true,
        },
    )
    .await
    .unwrap();
    let first = w.tokens(&again, &[READ]).await;
    w.clock.advance_secs(HOUR);
    refresh_via(&w, &idp, &rt(&first)).await.unwrap();
    assert_eq!(idp.calls(), vec!["google-rt"]);
}
