//! The sealer: one per chain at a time (a transaction-scoped advisory lock on PostgreSQL, the
//! single writer on SQLite), so sequence numbers are gap-free and follow commit order.
use ed25519_dalek::{Signer, SigningKey};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement,
};

use super::canonical::{canonical_record, chain_hash, GENESIS_HASH};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::{audit_checkpoints, audit_events};
use crate::error::CoreResult;

const BATCH: u64 = 2000;

/// The bytes a checkpoint signature covers.
pub fn signed_checkpoint_message(
    tenant: &str,
    seq: i64,
    head_hash: &str,
    created_at: i64,
) -> String {
    format!("gatehouse-audit-checkpoint-v1\n{tenant}\n{seq}\n{head_hash}\n{created_at}")
}

/// Seals every chain that has unsealed records. Returns how many records were sealed.
pub async fn seal_all(store: &Store, key: &SigningKey, clock: &dyn Clock) -> CoreResult<u64> {
    let chains: Vec<String> = audit_events::Entity::find()
        .select_only()
        .column(audit_events::Column::TenantId)
        .filter(audit_events::Column::Seq.is_null())
        .distinct()
        .into_tuple()
        .all(&store.db)
        .await?;
    let mut total = 0;
    for chain in chains {
        loop {
            let n = seal_chain(store, &chain, key, clock).await?;
            total += n;
            if n < BATCH {
                break;
            }
        }
    }
    Ok(total)
}

/// Seals up to one batch of a chain's unsealed records and signs a checkpoint at the new head.
pub async fn seal_chain(
    store: &Store,
    chain: &str,
    key: &SigningKey,
    clock: &dyn Clock,
) -> CoreResult<u64> {
    let txn = store.begin().await?;
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtext('gatehouse-audit:' || $1))",
            [chain.into()],
        ))
        .await?;
    }
    let head = audit_events::Entity::find()
        .filter(audit_events::Column::TenantId.eq(chain))
        .filter(audit_events::Column::Seq.is_not_null())
        .order_by_desc(audit_events::Column::Seq)
        .one(&txn)
        .await?;
    let (mut seq, mut prev) = match head {
        Some(h) => (
            h.seq.unwrap_or(0),
            h.hash.unwrap_or_else(|| GENESIS_HASH.to_string()),
        ),
        None => (0, GENESIS_HASH.to_string()),
    };
    let pending = audit_events::Entity::find()
        .filter(audit_events::Column::TenantId.eq(chain))
        .filter(audit_events::Column::Seq.is_null())
        .order_by_asc(audit_events::Column::Id)
        .limit(BATCH)
        .all(&txn)
        .await?;
    let n = pending.len() as u64;
    if n == 0 {
        txn.commit().await?;
        return Ok(0);
    }
    for row in pending {
        seq += 1;
        let hash = chain_hash(&prev, &canonical_record(&row, seq));
        audit_events::Entity::update_many()
            .col_expr(audit_events::Column::Seq, seq.into())
            .col_expr(audit_events::Column::PrevHash, prev.clone().into())
            .col_expr(audit_events::Column::Hash, hash.clone().into())
            .filter(audit_events::Column::Id.eq(row.id))
            .filter(audit_events::Column::Seq.is_null())
            .exec(&txn)
            .await?;
        prev = hash;
    }
    let created_at = clock.now_us();
    let sig = key.sign(signed_checkpoint_message(chain, seq, &prev, created_at).as_bytes());
    audit_checkpoints::Entity::insert(audit_checkpoints::ActiveModel {
        tenant_id: Set(chain.to_string()),
        seq: Set(seq),
        head_hash: Set(prev),
        created_at: Set(created_at),
        key_id: Set(hex::encode(&key.verifying_key().to_bytes()[..8])),
        signature: Set(hex::encode(sig.to_bytes())),
    })
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    Ok(n)
}
