//! Audit retention (DESIGN §8): old records go only in whole ranges ending at a signed
//! checkpoint, which is kept, so what remains still verifies; the head is never deleted; a
//! prefix cut anywhere else is still detected; the database guard is back afterwards.

use authz_core::audit::{self, retention, SigningKey};
use authz_core::clock::{Clock, FixedClock};
use authz_core::entities::audit_events;
use authz_core::testkit::world::*;
use authz_core::{tenant, testkit, Store, TenantId};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

const YEAR: i64 = 366 * 86_400;

fn key() -> SigningKey {
    testkit::master_key().audit_signing_key()
}

async fn verify(store: &Store, t: &TenantId) -> audit::VerifyReport {
    audit::verify_chain(store, t.as_str(), &key().verifying_key())
        .await
        .unwrap()
}

async fn count(store: &Store, t: &TenantId) -> u64 {
    audit_events::Entity::find()
        .filter(audit_events::Column::TenantId.eq(t.as_str()))
        .count(&store.db)
        .await
        .unwrap()
}

/// A tenant whose log holds 3-year-old records (sealed in two batches: checkpoints at seq 10 and
/// 20), then 10 recent ones (checkpoint at 30).
async fn aged_chain() -> (Store, FixedClock, TenantId) {
    let store = testkit::store().await;
    let now = testkit::clock();
    let old = FixedClock::new(now.now_us() - 3 * YEAR * 1_000_000);
    let t = tenant::create(&store, &old, "acme", "Acme", &[s("acme.example")])
        .await
        .unwrap();
    for i in 2..=10 {
        record_one(&store, &old, &t.id, "tool.called", i).await;
    }
    audit::seal_all(&store, &key(), &old).await.unwrap();
    for i in 11..=20 {
        record_one(&store, &old, &t.id, "tool.called", i).await;
    }
    audit::seal_all(&store, &key(), &old).await.unwrap();
    for i in 21..=30 {
        record_one(&store, &now, &t.id, "tool.called", i).await;
    }
    audit::seal_all(&store, &key(), &now).await.unwrap();
    let r = verify(&store, &t.id).await;
    assert!(r.ok(), "{:?}", r.first_break);
    assert_eq!((r.records, r.checkpoints), (30, 3));
    (store, now, t.id)
}

#[tokio::test]
async fn retention_deletes_old_records_up_to_a_checkpoint_and_the_rest_still_verifies() {
    let (store, clock, t) = aged_chain().await;
    // Within 7 years nothing is old enough.
    assert_eq!(retention::purge(&store, &clock, &t, 7).await.unwrap(), None);
    assert_eq!(count(&store, &t).await, 30);
    let p = retention::purge(&store, &clock, &t, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        p,
        retention::Purged {
            up_to_seq: 20,
            deleted: 20
        }
    );
    audit::seal_all(&store, &key(), &clock).await.unwrap();
    let r = verify(&store, &t).await;
    assert!(
        r.ok(),
        "what remains verifies from the kept checkpoint: {:?}",
        r.first_break
    );
    assert_eq!(r.purged_through, Some(20));
    assert_eq!(
        r.records, 11,
        "10 recent records and the audit.purged record"
    );
    let purged = audit::search::search(
        &store.db,
        &t,
        &audit::search::AuditQuery {
            action_prefix: Some("audit.purged".into()),
            limit: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        purged[0].details.contains("\"up_to_seq\":20"),
        "{}",
        purged[0].details
    );
    // Idempotent, and the guard is back: a plain DELETE is refused again.
    assert_eq!(retention::purge(&store, &clock, &t, 1).await.unwrap(), None);
    let refused = store
        .db
        .execute_unprepared(&format!(
            "DELETE FROM audit_events WHERE tenant_id = '{}'",
            t.as_str()
        ))
        .await;
    assert!(refused.is_err(), "the append-only guard is restored");
}

#[tokio::test]
async fn the_head_is_kept_even_when_every_record_is_old() {
    let (store, clock, t) = aged_chain().await;
    clock.advance_secs(5 * YEAR);
    let p = retention::purge(&store, &clock, &t, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.up_to_seq, 20, "the newest checkpoint below the head");
    audit::seal_all(&store, &key(), &clock).await.unwrap();
    let r = verify(&store, &t).await;
    assert!(r.ok(), "{:?}", r.first_break);
    // New records continue the chain (the sealer links to the kept head).
    record_one(&store, &clock, &t, "tool.called", 99).await;
    audit::seal_all(&store, &key(), &clock).await.unwrap();
    assert!(verify(&store, &t).await.ok());
}

#[tokio::test]
async fn a_prefix_cut_at_a_checkpoint_without_a_purge_record_is_detected() {
    let (store, _clock, t) = aged_chain().await;
    drop_audit_triggers(&store).await;
    store
        .db
        .execute_unprepared(&format!(
            "DELETE FROM audit_events WHERE id IN (SELECT event_id FROM audit_seals WHERE tenant_id = '{}' AND seq <= 20)",
            t.as_str()
        ))
        .await
        .unwrap();
    let b = verify(&store, &t).await.first_break.expect("detected");
    assert!(
        b.contains("no audit.purged record accounts for them"),
        "{b}"
    );
}

#[tokio::test]
async fn a_prefix_cut_that_does_not_end_at_a_checkpoint_is_still_detected() {
    let (store, _clock, t) = aged_chain().await;
    drop_audit_triggers(&store).await;
    store
        .db
        .execute_unprepared(&format!(
            "DELETE FROM audit_events WHERE id IN (SELECT event_id FROM audit_seals WHERE tenant_id = '{}' AND seq <= 15)",
            t.as_str()
        ))
        .await
        .unwrap();
    let r = verify(&store, &t).await;
    let b = r.first_break.expect("detected");
    assert!(
        b.starts_with("record seq 1 is missing (next present record is seq 16"),
        "{b}"
    );
}

#[tokio::test]
async fn records_sealed_late_wait_until_their_checkpoint_is_old_enough() {
    let store = testkit::store().await;
    let now = testkit::clock();
    let old = FixedClock::new(now.now_us() - 3 * YEAR * 1_000_000);
    let t = tenant::create(&store, &old, "acme", "Acme", &[s("acme.example")])
        .await
        .unwrap();
    for i in 2..=10 {
        record_one(&store, &old, &t.id, "tool.called", i).await;
    }
    // Sealed only now (the nodes were down): the checkpoint is new though the records are old.
    audit::seal_all(&store, &key(), &now).await.unwrap();
    record_one(&store, &now, &t.id, "tool.called", 11).await;
    audit::seal_all(&store, &key(), &now).await.unwrap();
    assert_eq!(
        retention::purge(&store, &now, &t.id, 1).await.unwrap(),
        None
    );
    assert!(verify(&store, &t.id).await.ok());
    // A year later that checkpoint qualifies, and what remains verifies.
    now.advance_secs(YEAR);
    let p = retention::purge(&store, &now, &t.id, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.up_to_seq, 10);
    audit::seal_all(&store, &key(), &now).await.unwrap();
    let r = verify(&store, &t.id).await;
    assert!(r.ok(), "{:?}", r.first_break);
}
