//! The refresh retry grace (issue 15 §1): a client whose refresh response was lost retries with
//! the token it holds. Within the tenant's window that is a retry, not reuse; past it, or with
//! the grace off, reuse detection stands; a successor the retry superseded is never usable.
use authz_core::admin::settings::{self, TenantSettings};
use authz_core::testkit::world::*;
use authz_core::token::refresh::{self, RefreshRequest};
use authz_core::token::{IssuedTokens, TokenError};

async fn refresh_with(w: &World, rt: &str) -> Result<IssuedTokens, TokenError> {
    refresh::refresh(
        &w.store,
        &w.clock,
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

async fn setup(grace: Option<i64>) -> (World, TenantFx) {
    let w = World::new().await;
    let t = w.tenant("acme", "acme.example", &[READ]).await;
    if grace.is_some() {
        settings::set(
            &w.store,
            &w.clock,
            t.id(),
            &TenantSettings {
                refresh_grace_seconds: grace,
                ..Default::default()
            },
            "admin:test",
        )
        .await
        .unwrap();
    }
    (w, t)
}

fn reuse_error(r: Result<IssuedTokens, TokenError>) {
    match r {
        Err(e) => {
            assert_eq!(e.code, "invalid_grant");
            assert_eq!(
                e.description,
                "the refresh token was already used; the grant is revoked"
            );
        }
        Ok(_) => panic!("expected reuse to be refused"),
    }
}

async fn reuse_records(w: &World, t: &TenantFx) -> usize {
    w.audit_rows(t.id().as_str())
        .await
        .iter()
        .filter(|r| r.action == "refresh_token.reuse_detected")
        .count()
}

#[tokio::test]
async fn a_retry_within_the_default_window_gets_a_fresh_pair_and_the_lost_one_is_revoked() {
    let (w, t) = setup(None).await;
    let first = w.tokens(&t, &[READ]).await;
    let rt1 = first.refresh_token.clone().unwrap();
    w.clock.advance_secs(60);
    // The response to this rotation is lost on its way to the client.
    let lost = refresh_with(&w, &rt1).await.expect("rotation");
    w.clock.advance_secs(9);
    let retry = refresh_with(&w, &rt1)
        .await
        .expect("a retry within 10 s is not reuse");
    let rt_retry = retry.refresh_token.clone().unwrap();
    assert_ne!(rt_retry, lost.refresh_token.clone().unwrap());
    assert!(w.active(&retry.access_token).await);
    assert!(
        !w.active(&lost.access_token).await,
        "the pair the client never received is revoked"
    );
    assert_eq!(reuse_records(&w, &t).await, 0, "no alarm for a retry");
    let rows = w.audit_rows(t.id().as_str()).await;
    let refreshed: Vec<serde_json::Value> = rows
        .iter()
        .filter(|r| r.action == "token.refreshed")
        .map(|r| serde_json::from_str(&r.details).unwrap())
        .collect();
    assert_eq!(refreshed.len(), 2);
    assert_eq!(refreshed[0]["retry_within_grace"], false);
    assert_eq!(refreshed[1]["retry_within_grace"], true);
    assert_eq!(refreshed[1]["tokens_superseded"], 2);

    // The grant goes on from the retry's pair.
    let next = refresh_with(&w, &rt_retry)
        .await
        .expect("the retry's token works");
    assert!(w.active(&next.access_token).await);
    // And the old token, once its successor is used, is reuse whatever the time.
    reuse_error(refresh_with(&w, &rt1).await);
    assert!(!w.active(&next.access_token).await, "the grant is revoked");
    assert_eq!(reuse_records(&w, &t).await, 1);
}

#[tokio::test]
async fn the_superseded_token_is_refused_as_reuse_when_the_lost_response_turns_up() {
    let (w, t) = setup(None).await;
    let rt1 = w.tokens(&t, &[READ]).await.refresh_token.unwrap();
    w.clock.advance_secs(60);
    let lost = refresh_with(&w, &rt1).await.unwrap();
    w.clock.advance_secs(1);
    let retry = refresh_with(&w, &rt1).await.unwrap();
    // Two holders of the grant: whoever presents the superseded token ends it for both.
    reuse_error(refresh_with(&w, lost.refresh_token.as_deref().unwrap()).await);
    assert!(!w.active(&retry.access_token).await);
    assert_eq!(reuse_records(&w, &t).await, 1);
}

#[tokio::test]
async fn past_the_window_a_second_use_is_reuse() {
    let (w, t) = setup(None).await;
    let rt1 = w.tokens(&t, &[READ]).await.refresh_token.unwrap();
    w.clock.advance_secs(60);
    let second = refresh_with(&w, &rt1).await.unwrap();
    w.clock.advance_secs(11);
    reuse_error(refresh_with(&w, &rt1).await);
    assert!(!w.active(&second.access_token).await);
    assert_eq!(reuse_records(&w, &t).await, 1);
}

#[tokio::test]
async fn the_window_counts_from_the_first_rotation_and_never_slides() {
    let (w, t) = setup(Some(5)).await;
    let rt1 = w.tokens(&t, &[READ]).await.refresh_token.unwrap();
    w.clock.advance_secs(60);
    refresh_with(&w, &rt1).await.unwrap();
    w.clock.advance_secs(4);
    refresh_with(&w, &rt1).await.expect("retry at 4 s");
    w.clock.advance_secs(2);
    reuse_error(refresh_with(&w, &rt1).await);
}

#[tokio::test]
async fn a_grace_of_zero_makes_every_second_use_reuse() {
    let (w, t) = setup(Some(0)).await;
    let rt1 = w.tokens(&t, &[READ]).await.refresh_token.unwrap();
    w.clock.advance_secs(60);
    let second = refresh_with(&w, &rt1).await.unwrap();
    reuse_error(refresh_with(&w, &rt1).await);
    assert!(!w.active(&second.access_token).await);
}

#[tokio::test]
async fn another_client_presenting_the_token_gets_nothing_and_changes_nothing() {
    let (w, t) = setup(None).await;
    let rt1 = w.tokens(&t, &[READ]).await.refresh_token.unwrap();
    w.clock.advance_secs(60);
    let second = refresh_with(&w, &rt1).await.unwrap();
    let other = authz_core::client::add_preregistered(
        &w.store,
        &w.clock,
        &authz_core::redirect::RedirectPolicy::default(),
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
            refresh_token: &rt1,
            scope: None,
            resource: None,
        },
    )
    .await;
    assert!(r.is_err());
    assert!(w.active(&second.access_token).await);
    assert_eq!(reuse_records(&w, &t).await, 0);
}

#[tokio::test]
async fn the_setting_is_bounded() {
    let (w, t) = setup(None).await;
    let err = settings::set(
        &w.store,
        &w.clock,
        t.id(),
        &TenantSettings {
            refresh_grace_seconds: Some(61),
            ..Default::default()
        },
        "admin:test",
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("between 0 and 60"), "{err}");
}
