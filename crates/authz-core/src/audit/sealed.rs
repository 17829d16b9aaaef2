//! Reading a chain: records joined with their seals, in sequence order (ADR 0026).
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use crate::db::Store;
use crate::entities::audit_events;
use crate::error::CoreResult;

/// A sealed record: the record as written, and its place in its tenant's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub record: audit_events::Model,
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
}

const COLUMNS: &str = "e.id, e.tenant_id, s.seq, s.prev_hash, s.hash, e.occurred_at, e.action, \
     e.result, e.actor, e.user_id, e.client_id, e.session_id, e.resource, e.scope, e.source_ip, \
     e.user_agent, e.details, e.writer_xact";

/// Up to `limit` sealed records of `chain` after sequence number `after`, in sequence order. A
/// seal whose record is gone is left out, so the verifier sees the gap it leaves.
pub async fn page(
    store: &Store,
    chain: &str,
    after: Option<i64>,
    limit: u64,
) -> CoreResult<Vec<Sealed>> {
    let after = after.unwrap_or(i64::MIN);
    if store.backend() == DatabaseBackend::Postgres {
        return page_pg(store, chain, after, limit).await;
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_seals s JOIN audit_events e ON e.id = s.event_id \
         WHERE s.tenant_id = ? AND s.seq > ? ORDER BY s.seq LIMIT ?"
    );
    let rows = store
        .db
        .query_all(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            sql,
            [chain.into(), after.into(), (limit as i64).into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            let g = |i: usize| r.try_get_by_index::<Option<String>>(i);
            Ok(Sealed {
                record: audit_events::Model {
                    id: r.try_get_by_index(0)?,
                    tenant_id: r.try_get_by_index(1)?,
                    occurred_at: r.try_get_by_index(5)?,
                    action: r.try_get_by_index(6)?,
                    result: r.try_get_by_index(7)?,
                    actor: g(8)?,
                    user_id: g(9)?,
                    client_id: g(10)?,
                    session_id: g(11)?,
                    resource: g(12)?,
                    scope: g(13)?,
                    source_ip: g(14)?,
                    user_agent: g(15)?,
                    details: r.try_get_by_index(16)?,
                    writer_xact: r.try_get_by_index(17)?,
                },
                seq: r.try_get_by_index(2)?,
                prev_hash: r.try_get_by_index(3)?,
                hash: r.try_get_by_index(4)?,
            })
        })
        .collect::<Result<Vec<_>, sea_orm::DbErr>>()
        .map_err(Into::into)
}

/// PostgreSQL: the same page, decoded by column position straight from sqlx. sea-orm decodes a
/// model by looking every column up by name; over a million records of eighteen columns that
/// name lookup is a large part of the verifier's time (issue 15 §1: verify 1M records < 3 s).
async fn page_pg(store: &Store, chain: &str, after: i64, limit: u64) -> CoreResult<Vec<Sealed>> {
    use sea_orm::sqlx::Row;
    let query_err = |e| sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(e));
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_seals s JOIN audit_events e ON e.id = s.event_id \
         WHERE s.tenant_id = $1 AND s.seq > $2 ORDER BY s.seq LIMIT $3"
    );
    let rows = sea_orm::sqlx::query(&sql)
        .bind(chain)
        .bind(after)
        .bind(limit as i64)
        .fetch_all(store.db.get_postgres_connection_pool())
        .await
        .map_err(query_err)?;
    rows.iter()
        .map(|r| {
            Ok(Sealed {
                record: audit_events::Model {
                    id: r.try_get(0)?,
                    tenant_id: r.try_get(1)?,
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
                    writer_xact: r.try_get(17)?,
                },
                seq: r.try_get(2)?,
                prev_hash: r.try_get(3)?,
                hash: r.try_get(4)?,
            })
        })
        .collect::<Result<Vec<_>, sea_orm::sqlx::Error>>()
        .map_err(|e| query_err(e).into())
}

/// Every sealed record of `chain`, in sequence order (tests, tools; the verifier pages).
pub async fn all(store: &Store, chain: &str) -> CoreResult<Vec<Sealed>> {
    let mut out: Vec<Sealed> = Vec::new();
    loop {
        let next = page(store, chain, out.last().map(|r| r.seq), 10_000).await?;
        if next.is_empty() {
            return Ok(out);
        }
        out.extend(next);
    }
}

/// How many of `chain`'s records have no seal (the verifier's `unsealed`): the whole chain,
/// not only the sealer's window, so a record slipped in below the mark is counted too.
pub(crate) async fn unsealed_anywhere<C: ConnectionTrait>(
    conn: &C,
    chain: &str,
) -> CoreResult<u64> {
    let backend = conn.get_database_backend();
    let p = if backend == DatabaseBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    let row = conn
        .query_one(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT COUNT(*) FROM audit_events e WHERE e.tenant_id = {p} AND NOT EXISTS \
                 (SELECT 1 FROM audit_seals s WHERE s.event_id = e.id)"
            ),
            [chain.into()],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0)
        .max(0) as u64)
}
