//! Recomputes a chain from its first record and checks every signed checkpoint against the
//! recomputed hashes.
use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::canonical::{canonical_into, chain_hash_bytes, GENESIS_HASH};
use super::seal::signed_checkpoint_message;
use super::sealed::Sealed;
use crate::db::Store;
use crate::entities::{audit_checkpoints, audit_events};
use crate::error::CoreResult;

#[derive(Debug, Default)]
pub struct VerifyReport {
    pub records: i64,
    pub unsealed: u64,
    pub checkpoints: usize,
    /// The newest signed checkpoint (seq, head hash): keep a copy outside the database, so a
    /// later cut of records *and* checkpoints is caught by comparing against it.
    pub head: Option<(i64, String)>,
    /// The first problem found, naming the record or checkpoint.
    pub first_break: Option<String>,
    /// Records up to this sequence number were deleted by retention; the rest verifies from the
    /// signed checkpoint at it.
    pub purged_through: Option<i64>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.first_break.is_none()
    }
}

const PAGE: u64 = 10_000;

/// The shortest retention (one year of 365 days; purges count 366) in microseconds.
const RETENTION_FLOOR_US: i64 = 365 * 86_400 * 1_000_000;

pub async fn verify_chain(
    store: &Store,
    chain: &str,
    key: &VerifyingKey,
) -> CoreResult<VerifyReport> {
    verify_chain_with_keys(store, chain, std::slice::from_ref(key)).await
}

/// Like [`verify_chain`], accepting checkpoints signed by any of `keys` (each checkpoint names
/// its key by `key_id`, the first 8 bytes of the verifying key).
pub async fn verify_chain_with_keys(
    store: &Store,
    chain: &str,
    keys: &[VerifyingKey],
) -> CoreResult<VerifyReport> {
    let mut report = VerifyReport::default();
    let cps = audit_checkpoints::Entity::find()
        .filter(audit_checkpoints::Column::TenantId.eq(chain))
        .order_by_asc(audit_checkpoints::Column::Seq)
        .all(&store.db)
        .await?;
    report.checkpoints = cps.len();
    report.head = cps.last().map(|c| (c.seq, c.head_hash.clone()));
    let mut cp_heads: BTreeMap<i64, &audit_checkpoints::Model> = BTreeMap::new();
    for cp in &cps {
        let msg = signed_checkpoint_message(&cp.tenant_id, cp.seq, &cp.head_hash, cp.created_at);
        let sig_ok = hex::decode(&cp.signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .map(|b| {
                keys.iter()
                    .filter(|k| hex::encode(&k.to_bytes()[..8]) == cp.key_id)
                    .any(|k| k.verify(msg.as_bytes(), &Signature::from_bytes(&b)).is_ok())
            })
            .unwrap_or(false);
        if !sig_ok {
            report.first_break = Some(format!(
                "checkpoint at seq {}: signature does not verify",
                cp.seq
            ));
            return Ok(report);
        }
        cp_heads.insert(cp.seq, cp);
    }

    // After a retention purge the chain starts later: at the record after a kept, signed
    // checkpoint, whose head hash it must link to (see `retention`).
    let first = super::sealed::page(store, chain, None, 1)
        .await?
        .into_iter()
        .next();
    let first_seq: i64 = first.as_ref().map(|r| r.seq).unwrap_or(1);
    let (mut expected_seq, mut prev) = if first_seq > 1 {
        match cp_heads.get(&(first_seq - 1)) {
            Some(cp) => {
                report.purged_through = Some(first_seq - 1);
                (first_seq, cp.head_hash.clone())
            }
            None => {
                report.first_break = Some(format!(
                    "record seq 1 is missing (next present record is seq {first_seq}, id {}); no signed checkpoint at seq {} anchors the rest, so it was not a retention purge",
                    first.as_ref().map(|r| r.record.id).unwrap_or_default(),
                    first_seq - 1
                ));
                return Ok(report);
            }
        }
    } else {
        (1i64, GENESIS_HASH.to_string())
    };
    // The next page is read while this one is hashed (on blocking threads, split across the
    // cores): reading and hashing a million records each take seconds; overlapped, the slower
    // one sets the pace.
    let heads: std::sync::Arc<BTreeMap<i64, String>> = std::sync::Arc::new(
        cp_heads
            .iter()
            .map(|(seq, cp)| (*seq, cp.head_hash.clone()))
            .collect(),
    );
    let mut rows = page(store, chain, None).await?;
    while !rows.is_empty() {
        let after = rows.last().map(|r| r.seq);
        let next = {
            let (store, chain) = (store.clone(), chain.to_string());
            tokio::spawn(async move { page(&store, &chain, after).await })
        };
        let heads = heads.clone();
        let checked =
            tokio::task::spawn_blocking(move || check_page(&rows, prev, expected_seq, &heads))
                .await
                .map_err(|e| {
                    crate::error::CoreError::Config(format!("AUDIT0005: verifier task failed: {e}"))
                })?;
        match checked {
            Ok((p, e)) => (prev, expected_seq) = (p, e),
            Err(b) => {
                next.abort();
                report.first_break = Some(b);
                return Ok(report);
            }
        }
        rows = next.await.map_err(|e| {
            crate::error::CoreError::Config(format!("AUDIT0005: verifier task failed: {e}"))
        })??;
    }
    let last_seq = expected_seq - 1;
    report.records = last_seq - report.purged_through.unwrap_or(0);
    if let Some((&cp_seq, _)) = cp_heads.range((last_seq + 1)..).next() {
        report.first_break = Some(format!(
            "checkpoint at seq {cp_seq} but the log ends at seq {last_seq}: records after it were removed (tail cut)"
        ));
        return Ok(report);
    }
    // A prefix is gone only legitimately when a retention purge says so: its own record (in the
    // chain that remains) names the range, and the kept checkpoint is older than the shortest
    // retention (a year) at the time of the purge.
    if let Some(n) = report.purged_through {
        let purges = audit_events::Entity::find()
            .filter(audit_events::Column::TenantId.eq(chain))
            .filter(audit_events::Column::Action.eq("audit.purged"))
            .all(&store.db)
            .await?;
        let purge = purges.iter().find(|p| {
            serde_json::from_str::<serde_json::Value>(&p.details)
                .ok()
                .and_then(|d| d["up_to_seq"].as_i64())
                == Some(n)
        });
        let cp_created = cp_heads.get(&n).map(|c| c.created_at).unwrap_or(i64::MAX);
        match purge {
            None => {
                report.first_break = Some(format!(
                    "records up to seq {n} are missing and no audit.purged record accounts for them (removed, not purged by retention)"
                ));
                return Ok(report);
            }
            Some(p) if p.occurred_at - cp_created < RETENTION_FLOOR_US => {
                report.first_break = Some(format!(
                    "records up to seq {n} were purged less than a year after their checkpoint (retention is at least one year)"
                ));
                return Ok(report);
            }
            Some(_) => {}
        }
    }
    report.unsealed = super::sealed::unsealed_anywhere(&store.db, chain).await?;
    Ok(report)
}

/// One page of sealed records after `after`, in sequence order.
async fn page(store: &Store, chain: &str, after: Option<i64>) -> CoreResult<Vec<Sealed>> {
    super::sealed::page(store, chain, after, PAGE).await
}

/// Checks a page that follows `prev` (the previous record's hash) and starts at
/// `expected_seq`; returns the last hash and the next expected sequence number, or the first
/// break in sequence order. Each record's hash depends only on its own content and its stored
/// `prev_hash`, so records are hashed in parallel; the links (each `prev_hash` equals the hash
/// before it) are then walked in order, which makes the stored hashes a chain from `prev`.
fn check_page(
    rows: &[Sealed],
    mut prev: String,
    mut expected_seq: i64,
    heads: &BTreeMap<i64, String>,
) -> Result<(String, i64), String> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = rows.len().div_ceil(threads).max(1);
    let content_ok: Vec<bool> = std::thread::scope(|scope| {
        let parts: Vec<_> = rows
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut buf = Vec::with_capacity(1024);
                    part.iter()
                        .map(|row| {
                            canonical_into(&row.record, row.seq, &mut buf);
                            row.hash == chain_hash_bytes(&row.prev_hash, &buf)
                        })
                        .collect::<Vec<bool>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (i, row) in rows.iter().enumerate() {
        let seq = row.seq;
        if seq != expected_seq {
            return Err(format!(
                "record seq {expected_seq} is missing (next present record is seq {seq}, id {})",
                row.record.id
            ));
        }
        if row.prev_hash != prev {
            return Err(format!(
                "record seq {seq} (id {}): prev_hash does not link to seq {}",
                row.record.id,
                seq - 1
            ));
        }
        if !content_ok.get(i).copied().unwrap_or(false) {
            return Err(format!(
                "record seq {seq} (id {}): content does not match its hash (altered)",
                row.record.id
            ));
        }
        let hash = row.hash.clone();
        if let Some(head) = heads.get(&seq) {
            if *head != hash {
                return Err(format!(
                    "checkpoint at seq {seq}: signed head hash differs from the recomputed chain \
                     (a record at or before seq {seq} was altered and the chain recomputed)"
                ));
            }
        }
        prev = hash;
        expected_seq += 1;
    }
    Ok((prev, expected_seq))
}
