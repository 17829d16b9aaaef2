//! The sealer: one per chain at a time (a transaction-scoped advisory lock on PostgreSQL, the
//! single writer on SQLite), so sequence numbers are gap-free and follow commit order.
use ed25519_dalek::{Signer, SigningKey};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement,
};

use super::canonical::{canonical_into, chain_hash_bytes, GENESIS_HASH};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::{audit_checkpoints, audit_events};
use crate::error::CoreResult;

const BATCH: u64 = 2000;
/// Records filled per UPDATE (four parameters each, well under SQLite's and PostgreSQL's
/// parameter limits).
const UPDATE_ROWS: usize = 512;

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
    let mut sealed: Vec<(i64, i64, String, String)> = Vec::with_capacity(pending.len());
    let mut buf = Vec::with_capacity(1024);
    for row in &pending {
        seq += 1;
        canonical_into(row, seq, &mut buf);
        let hash = chain_hash_bytes(&prev, &buf);
        sealed.push((
            row.id,
            seq,
            std::mem::replace(&mut prev, hash.clone()),
            hash,
        ));
    }
    for part in crate::db::pow2_chunks(&sealed, UPDATE_ROWS) {
        fill_seals(&txn, part).await?;
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

/// Fills `seq`, `prev_hash` and `hash` of a run of records in one statement (one round trip per
/// up to 512 records instead of one per record; runs of powers of two, `db::pow2_chunks`). `VALUES` columns are `column1`… on both backends.
/// A record sealed meanwhile is not touched (`seq IS NULL`), and then the count tells.
async fn fill_seals<C: ConnectionTrait>(
    conn: &C,
    rows: &[(i64, i64, String, String)],
) -> CoreResult<()> {
    let backend = conn.get_database_backend();
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(rows.len() * 4);
    let mut tuples = Vec::with_capacity(rows.len());
    for (id, seq, prev, hash) in rows {
        let n = values.len();
        tuples.push(match backend {
            DatabaseBackend::Postgres => format!(
                "(${}::bigint, ${}::bigint, ${}::text, ${}::text)",
                n + 1,
                n + 2,
                n + 3,
                n + 4
            ),
            _ => "(?, ?, ?, ?)".to_string(),
        });
        values.extend([
            (*id).into(),
            (*seq).into(),
            prev.clone().into(),
            hash.clone().into(),
        ]);
    }
    let sql = format!(
        "UPDATE audit_events SET seq = v.column2, prev_hash = v.column3, hash = v.column4 \
         FROM (VALUES {}) AS v WHERE audit_events.id = v.column1 AND audit_events.seq IS NULL",
        tuples.join(", ")
    );
    let done = conn
        .execute(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .rows_affected();
    if done != rows.len() as u64 {
        return Err(crate::error::CoreError::Config(format!(
            "AUDIT0002: sealed {done} of {} records: another sealer ran concurrently",
            rows.len()
        )));
    }
    Ok(())
}
