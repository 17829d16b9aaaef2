//! SCIM bearer tokens: shown once, hashed at rest, tenant-bound, expiring, revocable, rotated
//! with an overlap window.

use authz_core::scim_token;
use authz_core::testkit::world::*;
use sea_orm::{ConnectionTrait, Statement};

#[tokio::test]
async fn tokens_authenticate_only_for_their_tenant_until_expiry_or_revocation() {
    let w = World::new().await;
    let a = w.tenant("tenant-a", "a-corp.example", &[READ]).await;
    let b = w.tenant("tenant-b", "b-corp.example", &[READ]).await;
    let (tok, secret) = scim_token::create(
        &w.store,
        &w.clock,
        a.id(),
        "Entra provisioning",
        90 * 86_400,
    )
    .await
    .unwrap();
    assert!(secret.starts_with("ghscim_") && secret.len() > 40);
    assert!(
        scim_token::authenticate(&w.store.db, &w.clock, a.id(), &secret)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        scim_token::authenticate(&w.store.db, &w.clock, b.id(), &secret)
            .await
            .unwrap()
            .is_none(),
        "another tenant's base URL"
    );
    assert!(
        scim_token::authenticate(&w.store.db, &w.clock, a.id(), "ghscim_wrong")
            .await
            .unwrap()
            .is_none()
    );
    // Hashed at rest: the secret appears nowhere in the table.
    let rows = w
        .store
        .db
        .query_all(Statement::from_string(
            w.store.db.get_database_backend(),
            "SELECT * FROM scim_tokens",
        ))
        .await
        .unwrap();
    for r in &rows {
        let h: String = r.try_get("", "token_hash").unwrap();
        assert_ne!(h, secret);
    }
    let listed = scim_token::list(&w.store.db, a.id()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_at.is_some(), "last use recorded");
    assert!(scim_token::list(&w.store.db, b.id())
        .await
        .unwrap()
        .is_empty());
    // Another tenant cannot revoke it.
    assert!(scim_token::revoke(&w.store, &w.clock, b.id(), &tok.id)
        .await
        .is_err());
    w.clock.advance_secs(91 * 86_400);
    assert!(
        scim_token::authenticate(&w.store.db, &w.clock, a.id(), &secret)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
}

#[tokio::test]
async fn revocation_is_immediate_and_rotation_overlaps() {
    let w = World::new().await;
    let a = w.tenant("tenant-a", "a-corp.example", &[READ]).await;
    let (tok, old) = scim_token::create(&w.store, &w.clock, a.id(), "Okta", 30 * 86_400)
        .await
        .unwrap();
    let (_, new) = scim_token::rotate(&w.store, &w.clock, a.id(), &tok.id, 7 * 86_400, 90 * 86_400)
        .await
        .unwrap();
    assert!(
        scim_token::authenticate(&w.store.db, &w.clock, a.id(), &old)
            .await
            .unwrap()
            .is_some(),
        "old works during overlap"
    );
    assert!(
        scim_token::authenticate(&w.store.db, &w.clock, a.id(), &new)
            .await
            .unwrap()
            .is_some()
    );
    w.clock.advance_secs(8 * 86_400);
    assert!(
        scim_token::authenticate(&w.store.db, &w.clock, a.id(), &old)
            .await
            .unwrap()
            .is_none(),
        "old ends after the overlap"
    );
    let (t2, s2) = scim_token::create(&w.store, &w.clock, a.id(), "Spare", 86_400)
        .await
        .unwrap();
    scim_token::revoke(&w.store, &w.clock, a.id(), &t2.id)
        .await
        .unwrap();
    assert!(scim_token::authenticate(&w.store.db, &w.clock, a.id(), &s2)
        .await
        .unwrap()
        .is_none());
    assert!(
        scim_token::rotate(&w.store, &w.clock, a.id(), &t2.id, 0, 86_400)
            .await
            .is_err(),
        "a revoked token is not rotated"
    );
    assert!(
        scim_token::create(&w.store, &w.clock, a.id(), "x", 400 * 86_400)
            .await
            .is_err(),
        "at most 366 days"
    );
    assert_eq!(scim_token::parse_duration("90d").unwrap(), 90 * 86_400);
    assert!(scim_token::parse_duration("ninety").is_err());
}
