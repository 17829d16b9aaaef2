//! The tamper-evident audit chain (DESIGN §8): sealing, verification, detection of altered,
//! removed and truncated records (also with the chain recomputed), forged checkpoints, the
//! database's append-only guard, and concurrent writers and sealers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use authz_core::audit::{
    self, canonical_record, chain_hash, signed_checkpoint_message, SigningKey, PLATFORM_CHAIN,
};
use authz_core::clock::FixedClock;
use authz_core::entities::{audit_checkpoints, audit_seals};
use authz_core::tenant::{self, TenantId};
use authz_core::testkit;
use authz_core::testkit::world::*;
use authz_core::token::refresh::{self, RefreshRequest};
use authz_core::token::revoke;
use authz_core::Store;
use ed25519_dalek::Signer;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

fn signing_key() -> SigningKey {
    testkit::master_key().audit_signing_key()
}

async fn verify(store: &Store, chain: &str) -> audit::VerifyReport {
    audit::verify_chain(store, chain, &signing_key().verifying_key())
        .await
        .expect("verify_chain runs")
}

async fn seal(store: &Store, clock: &FixedClock) -> u64 {
    audit::seal_all(store, &signing_key(), clock)
        .await
        .expect("seal_all")
}

/// A tenant chain of 40 records sealed in two batches: checkpoints at seq 20 and seq 40.
struct Chain {
    store: Store,
    clock: FixedClock,
    tenant: TenantId,
}

impl Chain {
    async fn new() -> Chain {
        let store = testkit::store().await;
        let clock = testkit::clock();
        let t = tenant::create(&store, &clock, "acme", "Acme", &[s("acme.example")])
            .await
            .unwrap();
        for i in 2..=20 {
            clock.advance_secs(1);
            record_one(&store, &clock, &t.id, "tool.called", i).await;
        }
        assert_eq!(seal(&store, &clock).await, 20);
        for i in 21..=40 {
            clock.advance_secs(1);
            record_one(&store, &clock, &t.id, "tool.called", i).await;
        }
        assert_eq!(seal(&store, &clock).await, 20);
        let c = Chain {
            store,
            clock,
            tenant: t.id,
        };
        let r = c.verify().await;
        assert!(r.ok(), "untampered chain verifies: {:?}", r.first_break);
        assert_eq!((r.records, r.checkpoints, r.unsealed), (40, 2, 0));
        c
    }
    fn id(&self) -> &str {
        self.tenant.as_str()
    }
    async fn verify(&self) -> audit::VerifyReport {
        verify(&self.store, self.id()).await
    }
    async fn rows(&self) -> Vec<audit::Sealed> {
        audit::sealed::all(&self.store, self.id()).await.unwrap()
    }
    async fn row(&self, seq: i64) -> audit::Sealed {
        self.rows()
            .await
            .into_iter()
            .find(|r| r.seq == seq)
            .expect("row exists")
    }
    async fn sql(&self, sql: &str) {
        self.store
            .db
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    /// Rewrites `prev_hash`/`hash` of every seal from `from_seq` on so the chain itself is
    /// consistent again (what an attacker who knows the algorithm does after an edit).
    async fn recompute_from(&self, from_seq: i64) {
        let rows = self.rows().await;
        let mut prev = rows
            .iter()
            .find(|r| r.seq == from_seq - 1)
            .map(|r| r.hash.clone())
            .unwrap_or_else(|| audit::GENESIS_HASH.to_string());
        for r in rows.iter().filter(|r| r.seq >= from_seq) {
            let hash = chain_hash(&prev, &canonical_record(&r.record, r.seq));
            audit_seals::Entity::update_many()
                .col_expr(audit_seals::Column::PrevHash, prev.clone().into())
                .col_expr(audit_seals::Column::Hash, hash.clone().into())
                .filter(audit_seals::Column::EventId.eq(r.record.id))
                .exec(&self.store.db)
                .await
                .unwrap();
            prev = hash;
        }
    }
}

#[tokio::test]
async fn real_actions_seal_into_verifiable_per_tenant_and_platform_chains() {
    let w = World::new().await;
    let a = w.tenant("acme", "acme.example", &[READ, DELETE]).await;
    // tenant.created, connection.created, grant.added
    let mut refresh_tokens = Vec::new();
    for _ in 0..10 {
        // code.issued + token.issued
        let t = w.tokens(&a, &[READ]).await;
        refresh_tokens.push(t.refresh_token.unwrap());
    }
    for rt in &refresh_tokens[..5] {
        // token.refreshed
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
        .expect("refresh");
    }
    // token.revoked
    assert_eq!(
        revoke::revoke_by_client(&w.store, &w.clock, &w.client, &refresh_tokens[9])
            .await
            .unwrap(),
        revoke::Revoked::Grant(2)
    );
    let expected_tenant = 3 + 20 + 5 + 1;

    let before = verify(&w.store, a.id().as_str()).await;
    assert!(before.ok());
    assert_eq!(
        (before.records, before.unsealed, before.checkpoints),
        (0, expected_tenant as u64, 0)
    );

    // Platform chain: two resource registrations and one client registration.
    assert_eq!(seal(&w.store, &w.clock).await, expected_tenant as u64 + 3);
    let r = verify(&w.store, a.id().as_str()).await;
    assert!(r.ok(), "{:?}", r.first_break);
    assert_eq!(r.records, expected_tenant);
    assert_eq!(r.unsealed, 0);
    assert!(r.checkpoints > 0);
    let p = verify(&w.store, PLATFORM_CHAIN).await;
    assert!(p.ok(), "{:?}", p.first_break);
    assert_eq!((p.records, p.unsealed), (3, 0));
    let actions: Vec<String> = w
        .audit_rows(PLATFORM_CHAIN)
        .await
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions,
        [
            "resource.registered",
            "resource.registered",
            "client.registered"
        ]
    );

    // Nothing pending: a second seal assigns nothing and signs no new checkpoint.
    assert_eq!(seal(&w.store, &w.clock).await, 0);
    assert_eq!(
        verify(&w.store, a.id().as_str()).await.checkpoints,
        r.checkpoints
    );

    // Later records extend the chain with a new checkpoint.
    w.tokens(&a, &[READ]).await;
    assert_eq!(verify(&w.store, a.id().as_str()).await.unsealed, 2);
    assert_eq!(seal(&w.store, &w.clock).await, 2);
    let r2 = verify(&w.store, a.id().as_str()).await;
    assert!(r2.ok(), "{:?}", r2.first_break);
    assert_eq!(
        (r2.records, r2.checkpoints),
        (expected_tenant + 2, r.checkpoints + 1)
    );
}

#[tokio::test]
async fn seqs_are_gap_free_and_hashes_link() {
    let c = Chain::new().await;
    let rows = c.rows().await;
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=40).collect::<Vec<_>>()
    );
    assert_eq!(rows[0].prev_hash, audit::GENESIS_HASH);
    for w in rows.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
    assert_eq!(rows[0].record.action, "tenant.created");
    let cps = audit_checkpoints::Entity::find()
        .filter(audit_checkpoints::Column::TenantId.eq(c.id()))
        .order_by_asc(audit_checkpoints::Column::Seq)
        .all(&c.store.db)
        .await
        .unwrap();
    assert_eq!(cps.iter().map(|c| c.seq).collect::<Vec<_>>(), [20, 40]);
    assert_eq!(cps[1].head_hash, rows[39].hash);
}

#[tokio::test]
async fn altered_action_is_named_by_seq() {
    let c = Chain::new().await;
    drop_audit_triggers(&c.store).await;
    let id = c.row(7).await.record.id;
    c.sql(&format!(
        "UPDATE audit_events SET action = 'tool.denied' WHERE id IN (SELECT event_id FROM audit_seals WHERE tenant_id = '{}' AND seq = 7)",
        c.id()
    ))
    .await;
    let r = c.verify().await;
    assert!(!r.ok());
    assert_eq!(
        r.first_break.unwrap(),
        format!("record seq 7 (id {id}): content does not match its hash (altered)")
    );
}

#[tokio::test]
async fn altered_details_are_named_by_seq() {
    let c = Chain::new().await;
    drop_audit_triggers(&c.store).await;
    let id = c.row(25).await.record.id;
    c.sql(&format!(
        "UPDATE audit_events SET details = '{{\"i\":9999}}' WHERE id IN (SELECT event_id FROM audit_seals WHERE tenant_id = '{}' AND seq = 25)",
        c.id()
    ))
    .await;
    let r = c.verify().await;
    assert_eq!(
        r.first_break.unwrap(),
        format!("record seq 25 (id {id}): content does not match its hash (altered)")
    );
}

#[tokio::test]
async fn deleted_middle_record_is_named_missing() {
    let c = Chain::new().await;
    drop_audit_triggers(&c.store).await;
    let next_id = c.row(11).await.record.id;
    c.sql(&format!(
        "DELETE FROM audit_events WHERE id IN (SELECT event_id FROM audit_seals WHERE tenant_id = '{}' AND seq = 10)",
        c.id()
    ))
    .await;
    let r = c.verify().await;
    assert_eq!(
        r.first_break.unwrap(),
        format!("record seq 10 is missing (next present record is seq 11, id {next_id})")
    );
}

#[tokio::test]
async fn deleted_first_record_is_named_missing() {
    let c = Chain::new().await;
    drop_audit_triggers(&c.store).await;
    c.sql(&format!(
        "DELETE FROM audit_events WHERE id IN (SELECT event_id FROM audit_seals WHERE tenant_id = '{}' AND seq = 1)",
        c.id()
    ))
    .await;
    let r = c.verify().await;
    assert!(r
        .first_break
        .unwrap()
        .starts_with("record seq 1 is missing (next present record is seq 2"));
}

#[tokio::test]
async fn cut_tail_is_detected_by_the_last_checkpoint() {
    let c = Chain::new().await;
    drop_audit_triggers(&c.store).await;
    c.sql(&format!(
        "DELETE FROM audit_events WHERE id IN (SELECT event_id FROM audit_seals WHERE tenant_id = '{}' AND seq > 35)",
        c.id()
    ))
    .await;
    let r = c.verify().await;
    assert_eq!(r.records, 35);
    assert_eq!(
        r.first_break.unwrap(),
        "checkpoint at seq 40 but the log ends at seq 35: records after it were removed (tail cut)"
    );
}

#[tokio::test]
async fn tail_cut_exactly_at_a_checkpoint_is_detected() {
    let c = Chain::new().await;
    drop_audit_triggers(&c.store).await;
    c.sql(&format!(
        "DELETE FROM audit_events WHERE id IN (SELECT event_id FROM audit_seals WHERE tenant_id = '{}' AND seq > 20)",
        c.id()
    ))
    .await;
    let r = c.verify().await;
    assert_eq!(
        r.first_break.unwrap(),
        "checkpoint at seq 40 but the log ends at seq 20: records after it were removed (tail cut)"
    );
}

#[tokio::test]
async fn whole_log_deleted_is_detected() {
    let c = Chain::new().await;
    drop_audit_triggers(&c.store).await;
    c.sql(&format!(
        "DELETE FROM audit_events WHERE tenant_id = '{}'",
        c.id()
    ))
    .await;
    let r = c.verify().await;
    assert_eq!(r.records, 0);
    assert_eq!(
        r.first_break.unwrap(),
        "checkpoint at seq 20 but the log ends at seq 0: records after it were removed (tail cut)"
    );
}

#[tokio::test]
async fn altered_record_with_recomputed_chain_is_caught_by_checkpoint() {
    let c = Chain::new().await;
    drop_audit_triggers(&c.store).await;
    c.sql(&format!(
        "UPDATE audit_events SET action = 'tool.denied' WHERE id IN (SELECT event_id FROM audit_seals WHERE tenant_id = '{}' AND seq = 5)",
        c.id()
    ))
    .await;
    c.recompute_from(5).await;
    // The chain is internally consistent again...
    let rows = c.rows().await;
    for w in rows.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
    // ...but the signed head at seq 20 no longer matches.
    let b = c.verify().await.first_break.unwrap();
    assert!(
        b.starts_with("checkpoint at seq 20: signed head hash differs from the recomputed chain"),
        "{b}"
    );
}

#[tokio::test]
async fn altered_record_after_first_checkpoint_is_caught_by_the_next() {
    let c = Chain::new().await;
    drop_audit_triggers(&c.store).await;
    c.sql(&format!(
        "UPDATE audit_events SET user_id = 'mallory' WHERE id IN (SELECT event_id FROM audit_seals WHERE tenant_id = '{}' AND seq = 33)",
        c.id()
    ))
    .await;
    c.recompute_from(33).await;
    let b = c.verify().await.first_break.unwrap();
    assert!(
        b.starts_with("checkpoint at seq 40: signed head hash differs"),
        "{b}"
    );
}

#[tokio::test]
async fn deleted_and_renumbered_record_is_caught_by_checkpoint() {
    let c = Chain::new().await;
    drop_audit_triggers(&c.store).await;
    c.sql(&format!(
        "DELETE FROM audit_events WHERE id IN (SELECT event_id FROM audit_seals WHERE tenant_id = '{}' AND seq = 10)",
        c.id()
    ))
    .await;
    c.sql(&format!(
        "DELETE FROM audit_seals WHERE tenant_id = '{}' AND seq = 10",
        c.id()
    ))
    .await;
    for seq in 11..=40 {
        c.sql(&format!(
            "UPDATE audit_seals SET seq = {} WHERE tenant_id = '{}' AND seq = {seq}",
            seq - 1,
            c.id()
        ))
        .await;
    }
    c.recompute_from(10).await;
    let b = c.verify().await.first_break.unwrap();
    assert!(
        b.starts_with("checkpoint at seq 20: signed head hash differs"),
        "{b}"
    );
}

#[tokio::test]
async fn forged_checkpoint_signature_does_not_verify() {
    let c = Chain::new().await;
    drop_audit_triggers(&c.store).await;
    // Flip one byte of the second checkpoint's signature.
    let cp = audit_checkpoints::Entity::find_by_id((c.id().to_string(), 40i64))
        .one(&c.store.db)
        .await
        .unwrap()
        .unwrap();
    let mut sig = hex::decode(&cp.signature).unwrap();
    sig[10] ^= 0x01;
    c.sql(&format!(
        "UPDATE audit_checkpoints SET signature = '{}' WHERE tenant_id = '{}' AND seq = 40",
        hex::encode(sig),
        c.id()
    ))
    .await;
    assert_eq!(
        c.verify().await.first_break.unwrap(),
        "checkpoint at seq 40: signature does not verify"
    );
}

#[tokio::test]
async fn recomputed_chain_with_checkpoints_resigned_by_another_key_is_detected() {
    let c = Chain::new().await;
    drop_audit_triggers(&c.store).await;
    c.sql(&format!(
        "UPDATE audit_events SET action = 'tool.denied' WHERE id IN (SELECT event_id FROM audit_seals WHERE tenant_id = '{}' AND seq = 3)",
        c.id()
    ))
    .await;
    c.recompute_from(3).await;
    // The attacker replaces every checkpoint with one over the new heads, signed with a key of
    // their own (the real one never enters the database).
    let attacker = SigningKey::from_bytes(&[7u8; 32]);
    let rows = c.rows().await;
    let cps = audit_checkpoints::Entity::find()
        .filter(audit_checkpoints::Column::TenantId.eq(c.id()))
        .all(&c.store.db)
        .await
        .unwrap();
    c.sql(&format!(
        "DELETE FROM audit_checkpoints WHERE tenant_id = '{}'",
        c.id()
    ))
    .await;
    for cp in cps {
        let head = rows.iter().find(|r| r.seq == cp.seq).unwrap().hash.clone();
        let sig = attacker
            .sign(signed_checkpoint_message(c.id(), cp.seq, &head, cp.created_at).as_bytes());
        audit_checkpoints::Entity::insert(audit_checkpoints::ActiveModel {
            tenant_id: Set(cp.tenant_id.clone()),
            seq: Set(cp.seq),
            head_hash: Set(head),
            created_at: Set(cp.created_at),
            key_id: Set(cp.key_id.clone()),
            signature: Set(hex::encode(sig.to_bytes())),
        })
        .exec_without_returning(&c.store.db)
        .await
        .unwrap();
    }
    assert_eq!(
        c.verify().await.first_break.unwrap(),
        "checkpoint at seq 20: signature does not verify"
    );
}

#[tokio::test]
async fn verifying_with_another_key_fails() {
    let c = Chain::new().await;
    let other =
        authz_core::crypto::MasterKey::parse(&authz_core::crypto::MasterKey::generate()).unwrap();
    let r = audit::verify_chain(&c.store, c.id(), &other.audit_signing_key().verifying_key())
        .await
        .unwrap();
    assert_eq!(
        r.first_break.unwrap(),
        "checkpoint at seq 20: signature does not verify"
    );
}

#[tokio::test]
async fn database_refuses_update_and_delete_of_audit_records() {
    let c = Chain::new().await;
    // One unsealed record too: its content is as immutable as a sealed one's.
    record_one(&c.store, &c.clock, &c.tenant, "tool.called", 41).await;
    let attempts = [
        "UPDATE audit_events SET action = 'x'".to_string(),
        format!(
            "UPDATE audit_events SET action = 'x' WHERE tenant_id = '{}' AND id NOT IN (SELECT event_id FROM audit_seals)",
            c.id()
        ),
        format!(
            "UPDATE audit_seals SET hash = 'x' WHERE tenant_id = '{}' AND seq = 3",
            c.id()
        ),
        format!(
            "UPDATE audit_seals SET seq = 99 WHERE tenant_id = '{}' AND seq = 40",
            c.id()
        ),
        "DELETE FROM audit_events".to_string(),
        format!(
            "DELETE FROM audit_events WHERE id IN (SELECT event_id FROM audit_seals WHERE tenant_id = '{}' AND seq = 40)",
            c.id()
        ),
        "DELETE FROM audit_seals".to_string(),
        format!(
            "DELETE FROM audit_seals WHERE tenant_id = '{}' AND seq = 40",
            c.id()
        ),
        "UPDATE audit_checkpoints SET head_hash = 'x'".to_string(),
    ];
    for sql in &attempts {
        let err = c
            .store
            .db
            .execute_unprepared(sql)
            .await
            .expect_err(&format!("`{sql}` must be refused"));
        assert!(
            err.to_string().contains("append-only"),
            "`{sql}` failed for another reason: {err}"
        );
    }
    let r = c.verify().await;
    assert!(r.ok(), "{:?}", r.first_break);
    assert_eq!((r.records, r.unsealed), (40, 1));
    // Sealing still works: it inserts a seal and never updates a record.
    assert_eq!(seal(&c.store, &c.clock).await, 1);
    let r = c.verify().await;
    assert!(r.ok(), "{:?}", r.first_break);
    assert_eq!((r.records, r.unsealed, r.checkpoints), (41, 0, 3));
    assert_eq!(c.row(41).await.record.action, "tool.called");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_and_two_sealers_keep_the_chain_gap_free() {
    const WRITERS: i64 = 8;
    const PER_WRITER: i64 = 25;
    let store = testkit::store().await;
    let clock = testkit::clock();
    let t = tenant::create(&store, &clock, "acme", "Acme", &[s("acme.example")])
        .await
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));

    let mut sealers = Vec::new();
    for _ in 0..2 {
        let (store, clock, done) = (store.clone(), clock.clone(), done.clone());
        sealers.push(tokio::spawn(async move {
            let key = signing_key();
            let mut runs = 0u32;
            let mut sealed = 0u64;
            let mut errors = Vec::new();
            while !done.load(Ordering::SeqCst) {
                match audit::seal_all(&store, &key, &clock).await {
                    Ok(n) => sealed += n,
                    Err(e) => errors.push(e.to_string()),
                }
                runs += 1;
                tokio::task::yield_now().await;
            }
            (runs, sealed, errors)
        }));
    }
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, clock, tid) = (store.clone(), clock.clone(), t.id.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..PER_WRITER {
                record_one(&store, &clock, &tid, "tool.called", w * 1000 + i).await;
            }
        }));
    }
    for h in writers {
        h.await.expect("writer task");
    }
    done.store(true, Ordering::SeqCst);
    let mut concurrent_sealed = 0;
    let mut all_errors = Vec::new();
    for h in sealers {
        let (runs, sealed, errors) = h.await.expect("sealer task");
        assert!(runs > 0);
        concurrent_sealed += sealed;
        all_errors.extend(errors);
    }
    let last = seal(&store, &clock).await;
    let n = 1 + WRITERS * PER_WRITER;
    assert_eq!(
        concurrent_sealed + last,
        n as u64,
        "every record sealed exactly once"
    );

    let rows = audit_rows(&store, t.id.as_str()).await;
    let sealed = audit::sealed::all(&store, t.id.as_str()).await.unwrap();
    assert_eq!(sealed.len(), rows.len(), "every record sealed");
    let mut seqs: Vec<i64> = sealed.iter().map(|r| r.seq).collect();
    seqs.sort();
    assert_eq!(
        seqs,
        (1..=n).collect::<Vec<_>>(),
        "seqs are exactly 1..=N, no gap or duplicate"
    );
    let mut is: Vec<i64> = rows
        .iter()
        .filter(|r| r.action == "tool.called")
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.details).unwrap()["i"]
                .as_i64()
                .unwrap()
        })
        .collect();
    is.sort();
    let mut want: Vec<i64> = (0..WRITERS)
        .flat_map(|w| (0..PER_WRITER).map(move |i| w * 1000 + i))
        .collect();
    want.sort();
    assert_eq!(is, want, "no record lost or duplicated");
    let r = verify(&store, t.id.as_str()).await;
    assert!(r.ok(), "{:?}", r.first_break);
    assert_eq!((r.records, r.unsealed), (n, 0));
    assert!(r.checkpoints > 0);
    // A sealer run must not fail just because another node's sealer or a writer is active.
    assert!(
        all_errors.is_empty(),
        "{} of the concurrent seal_all calls failed; first error: {}",
        all_errors.len(),
        all_errors[0]
    );
}

/// A record whose transaction commits after a later record was sealed is sealed too (ADR 0026:
/// the sealer's mark stops below every transaction still running). On PostgreSQL only: SQLite's
/// single writer cannot hold one write open while another commits.
#[tokio::test]
async fn a_record_committed_after_a_later_one_was_sealed_is_still_sealed() {
    let store = testkit::store().await;
    if !store.is_postgres() {
        return;
    }
    let clock = testkit::clock();
    let t = tenant::create(&store, &clock, "acme", "Acme", &[s("acme.example")])
        .await
        .unwrap();
    assert_eq!(seal(&store, &clock).await, 1);
    // The slow writer takes its id first and commits last.
    let slow = store.begin().await.unwrap();
    audit::record(
        &slow,
        &clock,
        audit::AuditEvent::new(Some(&t.id), "tool.called").detail("i", 1),
    )
    .await
    .unwrap();
    record_one(&store, &clock, &t.id, "tool.called", 2).await;
    assert_eq!(seal(&store, &clock).await, 1, "the committed record");
    assert_eq!(seal(&store, &clock).await, 0);
    slow.commit().await.unwrap();
    assert_eq!(
        seal(&store, &clock).await,
        1,
        "the late one, after the mark moved"
    );
    let r = verify(&store, t.id.as_str()).await;
    assert!(r.ok(), "{:?}", r.first_break);
    assert_eq!((r.records, r.unsealed), (3, 0));
    let sealed = audit::sealed::all(&store, t.id.as_str()).await.unwrap();
    let ids: Vec<i64> = sealed.iter().map(|r| r.record.id).collect();
    assert!(
        ids[1] > ids[2],
        "sealed in commit order, not id order: {ids:?}"
    );
}

/// The mark follows the sealer, so a pass reads only what was written since the one before;
/// nobody can move it past records still being written.
#[tokio::test]
async fn the_seal_mark_moves_with_each_pass_and_cannot_be_pushed_ahead() {
    let c = Chain::new().await;
    let mark = || async {
        c.store
            .db
            .query_one(sea_orm::Statement::from_string(
                c.store.backend(),
                "SELECT scan_from FROM audit_seal_mark WHERE id = 1",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap()
    };
    let m1 = mark().await;
    assert!(m1 > 0, "two passes moved the mark");
    record_one(&c.store, &c.clock, &c.tenant, "tool.called", 41).await;
    assert_eq!(seal(&c.store, &c.clock).await, 1);
    // On PostgreSQL the mark is the oldest running transaction of the whole server, which
    // tests running beside this one can hold back; it never moves backwards.
    let m2 = mark().await;
    if c.store.is_postgres() {
        assert!(m2 >= m1, "the mark never moves back");
    } else {
        assert!(m2 > m1, "and the next pass moved it again");
    }
    let err = c
        .store
        .db
        .execute_unprepared("UPDATE audit_seal_mark SET scan_from = 9223372036854775807")
        .await
        .expect_err("a mark past every running transaction is refused");
    assert!(
        err.to_string().contains("audit_seal_mark cannot pass"),
        "{err}"
    );
    c.store
        .db
        .execute_unprepared("DELETE FROM audit_seal_mark")
        .await
        .expect_err("the mark cannot be deleted");
    let r = c.verify().await;
    assert!(r.ok(), "{:?}", r.first_break);
    assert_eq!((r.records, r.unsealed), (41, 0));
}

/// A backlog larger than a batch is sealed batch after batch in one pass, each batch starting
/// where the one before ended: every record once, gap-free, a checkpoint per batch.
#[tokio::test]
async fn a_backlog_of_several_batches_is_sealed_in_one_pass() {
    let store = testkit::store().await;
    let clock = testkit::clock();
    let t = tenant::create(&store, &clock, "acme", "Acme", &[s("acme.example")])
        .await
        .unwrap();
    for part in 0..3 {
        let txn = store.begin().await.unwrap();
        audit::record_all(
            &txn,
            &clock,
            (0..1500).map(|i| {
                audit::AuditEvent::new(Some(&t.id), "tool.called").detail("i", part * 1500 + i)
            }),
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();
    }
    assert_eq!(seal(&store, &clock).await, 4501);
    assert_eq!(seal(&store, &clock).await, 0);
    let r = verify(&store, t.id.as_str()).await;
    assert!(r.ok(), "{:?}", r.first_break);
    assert_eq!((r.records, r.unsealed, r.checkpoints), (4501, 0, 3));
    let sealed = audit::sealed::all(&store, t.id.as_str()).await.unwrap();
    let mut ids: Vec<i64> = sealed.iter().map(|r| r.record.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4501, "every record sealed once");
}

/// A chain is read page by page as one range of record ids where its records lie close together,
/// and by the list of ids where another tenant's records lie between them (issue 15: the
/// verifier's read). Both read every record of the chain, in sequence order, and nothing else.
#[tokio::test]
async fn chains_interleaved_with_another_tenant_read_whole_and_in_order() {
    let store = testkit::store().await;
    let clock = testkit::clock();
    let big = tenant::create(&store, &clock, "big", "Big", &[s("big.example")])
        .await
        .unwrap();
    let small = tenant::create(&store, &clock, "small", "Small", &[s("small.example")])
        .await
        .unwrap();
    for round in 0..300 {
        let txn = store.begin().await.unwrap();
        audit::record_all(
            &txn,
            &clock,
            (0..10).map(|i| {
                audit::AuditEvent::new(Some(&big.id), "tool.called").detail("i", round * 10 + i)
            }),
        )
        .await
        .unwrap();
        audit::record_all(
            &txn,
            &clock,
            [audit::AuditEvent::new(Some(&small.id), "tool.called").detail("round", round)],
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();
    }
    seal(&store, &clock).await;
    for (t, n) in [(&big.id, 3001), (&small.id, 301)] {
        let r = verify(&store, t.as_str()).await;
        assert!(r.ok(), "{:?}", r.first_break);
        assert_eq!((r.records, r.unsealed), (n, 0));
        // Pages smaller than the chain, so a page starts and ends inside it.
        let mut rows: Vec<audit::Sealed> = Vec::new();
        loop {
            let next = audit::sealed::page(&store, t.as_str(), rows.last().map(|r| r.seq), 97)
                .await
                .unwrap();
            if next.is_empty() {
                break;
            }
            rows.extend(next);
        }
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        assert_eq!(
            seqs,
            (1..=n).collect::<Vec<i64>>(),
            "every seq once, in order"
        );
        assert!(rows.iter().all(|r| r.record.tenant_id == t.as_str()));
    }
}

/// The verifier reads several pages at once, each a range of sequence numbers (issue 15: verify
/// 1M records < 3 s). Read in pages far smaller than the chain, an untouched chain verifies
/// whole; a page's worth of records removed from the middle, and a record altered in a later
/// page, are each named as the first break, as when the chain is read in one page.
#[tokio::test]
async fn a_chain_read_in_many_pages_at_once_verifies_and_names_its_first_break() {
    let in_pages = |c: &Chain| {
        let (store, chain) = (c.store.clone(), c.id().to_string());
        async move {
            audit::verify_chain_in_pages(&store, &chain, &[signing_key().verifying_key()], 7)
                .await
                .expect("verify_chain_in_pages runs")
        }
    };
    let c = Chain::new().await;
    let r = in_pages(&c).await;
    assert!(r.ok(), "untampered chain verifies: {:?}", r.first_break);
    assert_eq!((r.records, r.checkpoints, r.unsealed), (40, 2, 0));

    drop_audit_triggers(&c.store).await;
    let altered = c.row(33).await.record.id;
    c.sql(&format!(
        "UPDATE audit_events SET action = 'tool.forged' WHERE id = {altered}"
    ))
    .await;
    assert_eq!(
        in_pages(&c).await.first_break.unwrap(),
        format!("record seq 33 (id {altered}): content does not match its hash (altered)")
    );

    // Seqs 15..=21 are exactly the third page of seven (after 14, up to 21).
    let next_id = c.row(22).await.record.id;
    c.sql(&format!(
        "DELETE FROM audit_events WHERE id IN (SELECT event_id FROM audit_seals \
         WHERE tenant_id = '{}' AND seq BETWEEN 15 AND 21)",
        c.id()
    ))
    .await;
    let r = in_pages(&c).await;
    assert_eq!(
        r.first_break,
        Some(format!(
            "record seq 15 is missing (next present record is seq 22, id {next_id})"
        ))
    );
    assert_eq!(
        r.first_break,
        verify(&c.store, c.id()).await.first_break,
        "one page or many, the same first break"
    );
}
