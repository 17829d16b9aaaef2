//! Recomputes a chain from its first record and checks every signed checkpoint against the
//! recomputed hashes.
use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::canonical::{canonical_into, chain_hash_bytes, GENESIS_HASH};
use super::seal::signed_checkpoint_message;
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
    let first = audit_events::Entity::find()
        .filter(audit_events::Column::TenantId.eq(chain))
        .filter(audit_events::Column::Seq.is_not_null())
        .order_by_asc(audit_events::Column::Seq)
        .one(&store.db)
        .await?;
    let first_seq: i64 = first.as_ref().and_then(|r| r.seq).unwrap_or(1);
    let (mut expected_seq, mut prev) = if first_seq > 1 {
        match cp_heads.get(&(first_seq - 1)) {
            Some(cp) => {
                report.purged_through = Some(first_seq - 1);
                (first_seq, cp.head_hash.clone())
            }
            None => {
                report.first_break = Some(format!(
                    "record seq 1 is missing (next present record is seq {first_seq}, id {}); no signed checkpoint at seq {} anchors the rest, so it was not a retention purge",
                    first.as_ref().map(|r| r.id).unwrap_or_default(),
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
        let after = rows.last().and_then(|r| r.seq);
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
    report.unsealed = audit_events::Entity::find()
        .filter(audit_events::Column::TenantId.eq(chain))
        .filter(audit_events::Column::Seq.is_null())
        .count(&store.db)
        .await?;
    Ok(report)
}

/// One page of sealed records after `after`, in sequence order.
async fn page(
    store: &Store,
    chain: &str,
    after: Option<i64>,
) -> CoreResult<Vec<audit_events::Model>> {
    if store.backend() == sea_orm::DatabaseBackend::Postgres {
        return page_pg(store, chain, after).await;
    }
    let mut q = audit_events::Entity::find()
        .filter(audit_events::Column::TenantId.eq(chain))
        .filter(audit_events::Column::Seq.is_not_null())
        .order_by_asc(audit_events::Column::Seq)
        .limit(PAGE);
    if let Some(s) = after {
        q = q.filter(audit_events::Column::Seq.gt(s));
    }
    Ok(q.all(&store.db).await?)
}

/// PostgreSQL: the same page, decoded by column position straight from sqlx. sea-orm decodes a
/// model by looking every column up by name; over a million records of seventeen columns that
/// name lookup is a large part of the verifier's time (issue 15 §1: verify 1M records < 3 s).
async fn page_pg(
    store: &Store,
    chain: &str,
    after: Option<i64>,
) -> CoreResult<Vec<audit_events::Model>> {
    use sea_orm::sqlx::Row;
    let query_err = |e| sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(e));
    let rows = sea_orm::sqlx::query(
        "SELECT id, tenant_id, seq, prev_hash, hash, occurred_at, action, result, actor, \
         user_id, client_id, session_id, resource, scope, source_ip, user_agent, details \
         FROM audit_events WHERE tenant_id = $1 AND seq IS NOT NULL AND seq > $2 \
         ORDER BY seq LIMIT $3",
    )
    .bind(chain)
    .bind(after.unwrap_or(i64::MIN))
    .bind(PAGE as i64)
    .fetch_all(store.db.get_postgres_connection_pool())
    .await
    .map_err(query_err)?;
    rows.iter()
        .map(|r| {
            Ok(audit_events::Model {
                id: r.try_get(0)?,
                tenant_id: r.try_get(1)?,
                seq: r.try_get(2)?,
                prev_hash: r.try_get(3)?,
                hash: r.try_get(4)?,
                occurred_at: r.try_get(5)?,
                action: r.try_get(6)?,
                result: r.try_get(7)?,
                actor: r.try_get(8)?,
                user_id: r.try_get(9)?,
                client_id: r.try_get(10)?,
                session_id: r.try_get(11)?,
                resource: r.try_get(12)?,
                scope: r.try_get(13)?,
                source_ip: r.try_get(14)?,
                user_agent: r.try_get(15)?,
                details: r.try_get(16)?,
            })
        })
        .collect::<Result<Vec<_>, sea_orm::sqlx::Error>>()
        .map_err(|e| query_err(e).into())
}

/// Checks a page that follows `prev` (the previous record's hash) and starts at
/// `expected_seq`; returns the last hash and the next expected sequence number, or the first
/// break in sequence order. Each record's hash depends only on its own content and its stored
/// `prev_hash`, so records are hashed in parallel; the links (each `prev_hash` equals the hash
/// before it) are then walked in order, which makes the stored hashes a chain from `prev`.
fn check_page(
    rows: &[audit_events::Model],
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
                            canonical_into(row, row.seq.unwrap_or_default(), &mut buf);
                            let hash =
                                chain_hash_bytes(row.prev_hash.as_deref().unwrap_or(""), &buf);
                            row.hash.as_deref() == Some(hash.as_str())
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
        let seq = row.seq.unwrap_or_default();
        if seq != expected_seq {
            return Err(format!(
                "record seq {expected_seq} is missing (next present record is seq {seq}, id {})",
                row.id
            ));
        }
        if row.prev_hash.as_deref() != Some(prev.as_str()) {
            return Err(format!(
                "record seq {seq} (id {}): prev_hash does not link to seq {}",
                row.id,
                seq - 1
            ));
        }
        if !content_ok.get(i).copied().unwrap_or(false) {
            return Err(format!(
                "record seq {seq} (id {}): content does not match its hash (altered)",
                row.id
            ));
        }
        let hash = row.hash.clone().unwrap_or_default();
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
