//! The gateway's read of a presented token (`token::bearer::live`): only a live access token
//! issued for the asked resource is found, alone and among concurrent reads that PostgreSQL
//! answers in one statement (ADR 0025).
use authz_core::crypto::sha256_hex;
use authz_core::entities::{grant_families, tenants, tokens};
use authz_core::testkit::world::*;
use authz_core::token::bearer::{self, Bearer};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

const HOUR_US: i64 = 3600 * 1_000_000;

async fn live(w: &World, token: &str, resource_id: &str, now: i64) -> Option<Bearer> {
    bearer::live(&w.store, resource_id, sha256_hex(token), now)
        .await
        .expect("read")
}

#[tokio::test]
async fn only_a_live_access_token_of_the_resource_is_found() {
    let w = World::new().await;
    let t = w.tenant("acme", "acme.example", &[READ]).await;
    let issued = w.tokens(&t, &[READ]).await;
    let now = w.clock_now();
    let at = issued.access_token.as_str();

    let b = live(&w, at, &w.resource.id, now).await.expect("live token");
    assert_eq!(b.tenant_id, t.id().as_str());
    assert_eq!(b.user_id, t.user.id);
    assert_eq!(b.client_id, w.client.client_id);
    assert_eq!(b.session_id, t.session.id);
    assert_eq!(b.scopes, READ);
    assert_eq!(b.kind, "authorization_code");
    assert_eq!(b.dpop_jkt, None);

    // Another resource's audience, a refresh token, an unknown token, an expired one.
    assert_eq!(live(&w, at, &w.other_resource.id, now).await, None);
    let rt = issued.refresh_token.as_deref().expect("refresh token");
    assert_eq!(live(&w, rt, &w.resource.id, now).await, None);
    assert_eq!(live(&w, "gh_unknown", &w.resource.id, now).await, None);
    assert_eq!(live(&w, at, &w.resource.id, now + 2 * HOUR_US).await, None);

    // A suspended tenant, then a revoked family, then a revoked token.
    let suspend = |at: Option<i64>| {
        tenants::Entity::update_many()
            .col_expr(tenants::Column::SuspendedAt, at.into())
            .filter(tenants::Column::Id.eq(t.id().as_str()))
            .exec(&w.store.db)
    };
    suspend(Some(now)).await.expect("suspend");
    assert_eq!(live(&w, at, &w.resource.id, now).await, None);
    suspend(None).await.expect("resume");
    assert!(live(&w, at, &w.resource.id, now).await.is_some());
    grant_families::Entity::update_many()
        .col_expr(grant_families::Column::RevokedAt, Some(now).into())
        .filter(grant_families::Column::Id.eq(b.family_id.as_str()))
        .exec(&w.store.db)
        .await
        .expect("revoke family");
    assert_eq!(live(&w, at, &w.resource.id, now).await, None);

    let other = w.tokens(&t, &[READ]).await;
    tokens::Entity::update_many()
        .col_expr(tokens::Column::RevokedAt, Some(now).into())
        .filter(tokens::Column::TokenHash.eq(sha256_hex(&other.access_token)))
        .exec(&w.store.db)
        .await
        .expect("revoke token");
    assert_eq!(
        live(&w, &other.access_token, &w.resource.id, now).await,
        None
    );
}

#[tokio::test]
async fn concurrent_reads_each_get_their_own_answer() {
    let w = World::new().await;
    let t = w.tenant("acme", "acme.example", &[READ]).await;
    let mut issued = Vec::new();
    for _ in 0..4 {
        issued.push(w.tokens(&t, &[READ]).await.access_token);
    }
    let now = w.clock_now();
    // 48 reads at once: live tokens, unknown ones, and live ones asked for the other resource.
    let mut reads = tokio::task::JoinSet::new();
    for i in 0..48usize {
        let store = w.store.clone();
        let (token, resource, expect) = match i % 3 {
            0 => (issued[i % 4].clone(), w.resource.id.clone(), true),
            1 => (format!("gh_unknown_{i}"), w.resource.id.clone(), false),
            _ => (issued[i % 4].clone(), w.other_resource.id.clone(), false),
        };
        reads.spawn(async move {
            let found = bearer::live(&store, &resource, sha256_hex(&token), now)
                .await
                .expect("read");
            (found.is_some(), expect, found.map(|b| b.scopes))
        });
    }
    let mut seen = 0;
    while let Some(r) = reads.join_next().await {
        let (found, expect, scopes) = r.expect("task");
        assert_eq!(found, expect);
        if found {
            assert_eq!(scopes.as_deref(), Some(READ));
        }
        seen += 1;
    }
    assert_eq!(seen, 48);
}
