//! The sealer: one per chain at a time (a transaction-scoped advisory lock on PostgreSQL, the
//! single writer on SQLite), so sequence numbers are gap-free and follow commit order.
//!
//! A record is written once and never updated: its place in the chain is an `audit_seals` row
//! (ADR 0026). Unsealed records are those at or above the seal mark with no seal row; see
//! [`Window`].
use ed25519_dalek::{Signer, SigningKey};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult, Set, Statement,
    TransactionTrait,
};

use super::canonical::{canonical_into, chain_hash_bytes, GENESIS_HASH};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::{audit_checkpoints, audit_events, audit_seals};
use crate::error::CoreResult;

const BATCH: u64 = 2000;
/// Seals inserted per statement (five parameters each, well under SQLite's and PostgreSQL's
/// parameter limits; runs of powers of two, `db::pow2_chunks`, so few statement texts).
const INSERT_ROWS: usize = 256;

/// The bytes a checkpoint signature covers.
pub fn signed_checkpoint_message(
    tenant: &str,
    seq: i64,
    head_hash: &str,
    created_at: i64,
) -> String {
    format!("gatehouse-audit-checkpoint-v1\n{tenant}\n{seq}\n{head_hash}\n{created_at}")
}

/// Where unsealed records can be, read before a sealing pass.
///
/// `from` is the stored mark: every record below it is sealed. `horizon` is where the mark
/// moves once this pass has sealed everything it sees at or above `from`. On PostgreSQL both are transaction ids
/// (a record's `writer_xact`): the horizon is the oldest transaction still running when the
/// pass begins, so every transaction below it has ended, and its records are visible to the
/// pass's later statements. Ids from a sequence are no such bound — a transaction can commit
/// id 100 after id 101 has been sealed — which is why the records carry their writer. On
/// SQLite the single writer commits ids in order, so the bounds are record ids: the horizon is
/// one past the highest id committed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub from: i64,
    pub horizon: i64,
    pg: bool,
}

impl Window {
    pub(crate) async fn read<C: ConnectionTrait>(conn: &C) -> CoreResult<Window> {
        let backend = conn.get_database_backend();
        let pg = backend == DatabaseBackend::Postgres;
        let sql = if pg {
            "SELECT scan_from, pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
             FROM audit_seal_mark WHERE id = 1"
        } else {
            "SELECT scan_from, COALESCE((SELECT MAX(id) FROM audit_events), 0) + 1 \
             FROM audit_seal_mark WHERE id = 1"
        };
        let row = conn
            .query_one(Statement::from_string(backend, sql))
            .await?
            .ok_or_else(|| {
                crate::error::CoreError::Config("AUDIT0003: audit_seal_mark has no row".into())
            })?;
        Ok(Window {
            from: row.try_get_by_index(0)?,
            horizon: row.try_get_by_index(1)?,
            pg,
        })
    }

    /// The unsealed records with their writer (PostgreSQL) or id (SQLite) in `[$1, $2)`, as a
    /// subquery `u` with the columns of `audit_events`. A pass binds `[from, i64::MAX)`: it
    /// seals every record it sees at or above the mark, also those of transactions newer than
    /// its horizon (the horizon is held back by any long transaction in the cluster; records
    /// must not wait for it).
    ///
    /// The shape holds PostgreSQL to one plan whatever it knows of the tables: the window is
    /// read by the index on `writer_xact` (a range with both ends, estimated narrow even
    /// before the table is analysed; and a subquery with `OFFSET 0` keeps other conditions,
    /// such as the tenant, from steering the scan to another index), and each of its records
    /// probes the seals' primary key (a scalar subquery, run per record: never a hash of every
    /// seal, which is what a plain `NOT EXISTS` became on a table not yet analysed).
    pub(crate) fn unsealed_rows(&self) -> &'static str {
        if self.pg {
            "(SELECT w.* FROM (SELECT * FROM audit_events e \
               WHERE e.writer_xact >= $1 AND e.writer_xact < $2 OFFSET 0) w \
             WHERE (SELECT s.event_id FROM audit_seals s WHERE s.event_id = w.id) IS NULL) u"
        } else {
            "(SELECT * FROM audit_events e WHERE e.id >= ? AND e.id < ? AND NOT EXISTS \
               (SELECT 1 FROM audit_seals s WHERE s.event_id = e.id)) u"
        }
    }

    /// Where a pass's first batch of a chain starts: a record is sealed in the order of
    /// `(writer_xact, id)` on PostgreSQL (the order its transactions began, then the order it
    /// was written in), of `id` on SQLite; the batch takes the records after `(writer, id)`.
    pub(crate) fn start(&self) -> (i64, i64) {
        if self.pg {
            (self.from, -1)
        } else {
            (0, self.from - 1)
        }
    }

    fn key(&self, r: &audit_events::Model) -> (i64, i64) {
        (if self.pg { r.writer_xact } else { 0 }, r.id)
    }

    /// One batch of a chain's unsealed records after the cursor `($1, $2)`, in order, for
    /// tenant `$3`. Each batch starts where the one before ended, as one ordered range of the
    /// index `audit_chain_order` (`tenant_id, writer_xact, id`; `tenant_id, id` on SQLite), so
    /// a backlog of a million records costs a million reads, not a million for every batch of
    /// 2,000. A record that commits behind
    /// the cursor during the pass began after the pass's horizon, so the next pass, which
    /// starts at the horizon, finds it.
    fn batch_sql(&self) -> &'static str {
        if self.pg {
            "SELECT e.* FROM audit_events e \
             WHERE (e.writer_xact, e.id) > ($1, $2) AND e.tenant_id = $3 \
               AND (SELECT s.event_id FROM audit_seals s WHERE s.event_id = e.id) IS NULL \
             ORDER BY e.writer_xact, e.id"
        } else {
            "SELECT e.* FROM audit_events e \
             WHERE e.writer_xact >= ? AND e.id > ? AND e.tenant_id = ? \
               AND NOT EXISTS (SELECT 1 FROM audit_seals s WHERE s.event_id = e.id) \
             ORDER BY e.id"
        }
    }

    fn param(&self, n: usize) -> String {
        if self.pg {
            format!("${n}")
        } else {
            "?".into()
        }
    }

    fn backend(&self) -> DatabaseBackend {
        if self.pg {
            DatabaseBackend::Postgres
        } else {
            DatabaseBackend::Sqlite
        }
    }

    /// Unsealed records across every chain: how many, and the oldest one's time. `conn` is a
    /// transaction that has run [`custom_plans`].
    pub(crate) async fn unsealed<C: ConnectionTrait>(
        &self,
        conn: &C,
    ) -> CoreResult<(i64, Option<i64>)> {
        let sql = format!(
            "SELECT COUNT(*), MIN(u.occurred_at) FROM {}",
            self.unsealed_rows()
        );
        let row = conn
            .query_one(Statement::from_sql_and_values(
                self.backend(),
                sql,
                [self.from.into(), i64::MAX.into()],
            ))
            .await?;
        Ok(match row {
            Some(r) => (r.try_get_by_index(0)?, r.try_get_by_index(1)?),
            None => (0, None),
        })
    }
}

/// Transaction-local settings under which PostgreSQL reads an ordered index range in order and
/// stops at the statement's limit, even on a table it has not analysed yet. Without them it
/// expects a handful of rows there and would rather collect every match through a bitmap and
/// sort them: a read of the whole rest of the range for every batch of the sealer and every
/// page of the verifier (docs/benchmarks.md, ninth and tenth sessions).
pub(crate) const ORDERED_RANGES: &str =
    "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off";

/// PostgreSQL plans each execution of the window's statements for its own mark. A generic plan
/// (what a prepared statement gets after five runs) guesses a third of the table for
/// `writer_xact >= $1` and can walk the primary key in id order to the newest records; the
/// custom plan sees the mark near the column's top and reads the index on `writer_xact`.
/// Transaction-local, so pooled connections keep their defaults.
pub(crate) async fn custom_plans<C: ConnectionTrait>(conn: &C) -> CoreResult<()> {
    if conn.get_database_backend() == DatabaseBackend::Postgres {
        conn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
            .await?;
    }
    Ok(())
}

/// Seals every chain that has unsealed records, then moves the mark to this pass's horizon.
/// Returns how many records were sealed.
pub async fn seal_all(store: &Store, key: &SigningKey, clock: &dyn Clock) -> CoreResult<u64> {
    let txn = store.db.begin().await?;
    custom_plans(&txn).await?;
    let window = Window::read(&txn).await?;
    let chains: Vec<String> = txn
        .query_all(Statement::from_sql_and_values(
            window.backend(),
            format!(
                "SELECT DISTINCT u.tenant_id FROM {}",
                window.unsealed_rows()
            ),
            [window.from.into(), i64::MAX.into()],
        ))
        .await?
        .iter()
        .map(|r| r.try_get_by_index(0))
        .collect::<Result<_, _>>()?;
    txn.commit().await?;
    let mut total = 0;
    for chain in chains {
        let mut after = window.start();
        loop {
            let (n, last) = seal_chain(store, &chain, window, after, key, clock).await?;
            total += n;
            match last {
                Some(last) if n == BATCH => after = last,
                _ => break,
            }
        }
    }
    // Every record written by a transaction below the horizon was visible to this pass and is
    // sealed now (by it, or by a concurrent pass that held the chain's lock first).
    if window.horizon > window.from {
        store
            .db
            .execute(Statement::from_sql_and_values(
                window.backend(),
                format!(
                    "UPDATE audit_seal_mark SET scan_from = {} WHERE id = 1 AND scan_from < {}",
                    window.param(1),
                    window.param(2)
                ),
                [window.horizon.into(), window.horizon.into()],
            ))
            .await?;
    }
    Ok(total)
}

#[derive(FromQueryResult)]
struct Head {
    seq: i64,
    hash: String,
}

/// Seals up to one batch of a chain's unsealed records after `after` (in the window's order,
/// see [`Window::start`]) and signs a checkpoint at the new head. Returns how many it sealed
/// and where the next batch starts.
pub(crate) async fn seal_chain(
    store: &Store,
    chain: &str,
    window: Window,
    after: (i64, i64),
    key: &SigningKey,
    clock: &dyn Clock,
) -> CoreResult<(u64, Option<(i64, i64)>)> {
    let txn = store.begin().await?;
    let backend = txn.get_database_backend();
    if backend == DatabaseBackend::Postgres {
        txn.execute(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtext('gatehouse-audit:' || $1))",
            [chain.into()],
        ))
        .await?;
        // Custom plans (see [`custom_plans`]), and the batch as one ordered range of
        // `audit_chain_order`, read until the batch is full ([`ORDERED_RANGES`]). One round
        // trip for the three settings.
        txn.execute_unprepared(&format!(
            "SET LOCAL plan_cache_mode = force_custom_plan; {ORDERED_RANGES}"
        ))
        .await?;
    }
    let head = Head::find_by_statement(Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT seq, hash FROM audit_seals WHERE tenant_id = {} ORDER BY seq DESC LIMIT 1",
            window.param(1)
        ),
        [chain.into()],
    ))
    .one(&txn)
    .await?;
    let (mut seq, mut prev) = match head {
        Some(h) => (h.seq, h.hash),
        None => (0, GENESIS_HASH.to_string()),
    };
    let pending = audit_events::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            backend,
            format!("{} LIMIT {BATCH}", window.batch_sql()),
            [after.0.into(), after.1.into(), chain.into()],
        ))
        .all(&txn)
        .await?;
    let n = pending.len() as u64;
    let Some(last) = pending.last().map(|r| window.key(r)) else {
        txn.commit().await?;
        return Ok((0, None));
    };
    let mut seals = Vec::with_capacity(pending.len());
    let mut buf = Vec::with_capacity(1024);
    for row in &pending {
        seq += 1;
        canonical_into(row, seq, &mut buf);
        let hash = chain_hash_bytes(&prev, &buf);
        seals.push(audit_seals::ActiveModel {
            event_id: Set(row.id),
            tenant_id: Set(chain.to_string()),
            seq: Set(seq),
            prev_hash: Set(std::mem::replace(&mut prev, hash.clone())),
            hash: Set(hash),
        });
    }
    for part in crate::db::pow2_chunks(&seals, INSERT_ROWS) {
        audit_seals::Entity::insert_many(part.to_vec())
            .exec_without_returning(&txn)
            .await?;
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
    Ok((n, Some(last)))
}
