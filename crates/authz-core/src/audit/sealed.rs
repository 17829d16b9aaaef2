//! Reading a chain: records joined with their seals, in sequence order (ADR 0026).
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use super::canonical::RecordView;
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
    read(store, chain, after.unwrap_or(i64::MIN), i64::MAX, limit).await
}

/// The sealed records of `chain` whose sequence numbers lie in `after < seq <= upto`, in
/// sequence order: pages of a chain that can be read at the same time (the verifier's).
pub async fn range(store: &Store, chain: &str, after: i64, upto: i64) -> CoreResult<Vec<Sealed>> {
    let limit = u64::try_from(upto.saturating_sub(after)).unwrap_or(0);
    read(store, chain, after, upto, limit).await
}

/// The highest sequence number sealed in `chain` (0: none yet).
pub async fn last_seq(store: &Store, chain: &str) -> CoreResult<i64> {
    let sql = match store.backend() {
        DatabaseBackend::Postgres => "SELECT MAX(seq) FROM audit_seals WHERE tenant_id = $1",
        _ => "SELECT MAX(seq) FROM audit_seals WHERE tenant_id = ?",
    };
    let row = store
        .db
        .query_one(Statement::from_sql_and_values(
            store.backend(),
            sql,
            [chain.into()],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get_by_index::<Option<i64>>(0))
        .transpose()?
        .flatten()
        .unwrap_or(0))
}

/// Up to `limit` sealed records with `after < seq <= upto`, in sequence order.
async fn read(
    store: &Store,
    chain: &str,
    after: i64,
    upto: i64,
    limit: u64,
) -> CoreResult<Vec<Sealed>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    if store.backend() == DatabaseBackend::Postgres {
        return page_pg(store, chain, after, upto, limit).await;
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_seals s JOIN audit_events e ON e.id = s.event_id \
         WHERE s.tenant_id = ? AND s.seq > ? AND s.seq <= ? ORDER BY s.seq LIMIT ?"
    );
    let rows = store
        .db
        .query_all(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            sql,
            [
                chain.into(),
                after.into(),
                upto.into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
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

/// The records' columns, in the order [`record_view_pg`] and [`record_pg`] decode them.
const RECORD_COLUMNS: &str = "id, tenant_id, occurred_at, action, result, actor, user_id, \
     client_id, session_id, resource, scope, source_ip, user_agent, details, writer_xact";

/// A page of seals whose records lie this close together in id order (records per id) is read
/// as one range of ids; a sparser one (a small tenant's seals between a large tenant's records)
/// by the list of its ids.
const DENSE: i64 = 4;

/// PostgreSQL: the same page, in two reads joined in memory. The seals come first, in sequence
/// order (one range of `UNIQUE(tenant_id, seq)`). Their records follow as one range of the
/// primary key: a record is sealed soon after it is written, so a page's records lie close
/// together in id order. Joining in the database instead costs a primary-key descent per record,
/// which made verifying a million records take half as long again as reading them in a range
/// (issue 15 §1: verify 1M records < 3 s). Rows are decoded by column position straight from
/// sqlx: sea-orm looks every column up by name, a large part of the verifier's time.
///
/// The two reads share a transaction under [`ORDERED_RANGES`](super::seal::ORDERED_RANGES): on
/// a table not yet analysed (a chain sealed in bulk) PostgreSQL would otherwise read every seal
/// after `after` and sort them, for every page. The records' read names no tenant, so that
/// the primary key serves it, not `audit_chain_order`; the join keeps exactly the seals' records,
/// as the join on SQLite does.
async fn page_pg(
    store: &Store,
    chain: &str,
    after: i64,
    upto: i64,
    limit: u64,
) -> CoreResult<Vec<Sealed>> {
    let mut txn = store
        .db
        .get_postgres_connection_pool()
        .begin()
        .await
        .map_err(query_err)?;
    let conn: &mut sea_orm::sqlx::PgConnection = &mut txn;
    sea_orm::sqlx::Executor::execute(&mut *conn, super::seal::ORDERED_RANGES)
        .await
        .map_err(query_err)?;
    // A seal whose record is gone is left out; the page is filled from the seals after it, as a
    // join with a limit fills it, so that a page comes back short only at the chain's end.
    let mut out = Vec::new();
    let mut cursor = after;
    while (out.len() as u64) < limit {
        let want = limit - out.len() as u64;
        let (found, read, last) = seals_and_records(conn, chain, cursor, upto, want).await?;
        out.extend(found);
        match last {
            Some(last) if read == want => cursor = last,
            _ => break,
        }
    }
    txn.commit().await.map_err(query_err)?;
    Ok(out)
}

/// One read of up to `limit` seals with `after < seq <= upto` and of their records: the sealed
/// records found, how many seals were read, and the last seal's sequence number.
async fn seals_and_records(
    conn: &mut sea_orm::sqlx::PgConnection,
    chain: &str,
    after: i64,
    upto: i64,
    limit: u64,
) -> CoreResult<(Vec<Sealed>, u64, Option<i64>)> {
    use sea_orm::sqlx::Row;
    let seals = sea_orm::sqlx::query(
        "SELECT event_id, seq, prev_hash, hash FROM audit_seals \
         WHERE tenant_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
    )
    .bind(chain)
    .bind(after)
    .bind(upto)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await
    .map_err(query_err)?
    .iter()
    .map(
        |r| -> Result<(i64, i64, String, String), sea_orm::sqlx::Error> {
            Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))
        },
    )
    .collect::<Result<Vec<_>, _>>()
    .map_err(query_err)?;
    let read = seals.len() as u64;
    let last = seals.last().map(|s| s.1);
    let records = records_of(conn, seals.iter().map(|s| s.0).collect()).await?;
    let mut by_id = std::collections::HashMap::with_capacity(seals.len());
    for r in &records {
        let record = record_pg(r).map_err(query_err)?;
        by_id.insert(record.id, record);
    }
    let found = seals
        .into_iter()
        .filter_map(|(event_id, seq, prev_hash, hash)| {
            by_id.remove(&event_id).map(|record| Sealed {
                record,
                seq,
                prev_hash,
                hash,
            })
        })
        .collect();
    Ok((found, read, last))
}

/// The `audit_events` rows (with [`RECORD_COLUMNS`]) of the records `ids` names, read as one
/// range of the primary key when they lie close together ([`DENSE`]), by the list otherwise;
/// the range may bring other records too, which the caller's join by id leaves out.
pub(super) async fn records_of(
    conn: &mut sea_orm::sqlx::PgConnection,
    ids: Vec<i64>,
) -> CoreResult<Vec<sea_orm::sqlx::postgres::PgRow>> {
    let (Some(&low), Some(&high)) = (ids.iter().min(), ids.iter().max()) else {
        return Ok(Vec::new());
    };
    if high.saturating_sub(low) < DENSE.saturating_mul(ids.len() as i64) {
        sea_orm::sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM audit_events WHERE id BETWEEN $1 AND $2"
        ))
        .bind(low)
        .bind(high)
        .fetch_all(&mut *conn)
        .await
    } else {
        sea_orm::sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM audit_events WHERE id = ANY($1)"
        ))
        .bind(ids)
        .fetch_all(&mut *conn)
        .await
    }
    .map_err(|e| query_err(e).into())
}

pub(super) fn query_err(e: sea_orm::sqlx::Error) -> sea_orm::DbErr {
    sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))
}

/// One `audit_events` row read with [`RECORD_COLUMNS`].
fn record_pg(
    r: &sea_orm::sqlx::postgres::PgRow,
) -> Result<audit_events::Model, sea_orm::sqlx::Error> {
    use sea_orm::sqlx::Row;
    let v = record_view_pg(r)?;
    let owned = |s: Option<&str>| s.map(str::to_owned);
    Ok(audit_events::Model {
        id: r.try_get(0)?,
        tenant_id: v.tenant_id.to_owned(),
        occurred_at: v.occurred_at,
        action: v.action.to_owned(),
        result: v.result.to_owned(),
        actor: owned(v.actor),
        user_id: owned(v.user_id),
        client_id: owned(v.client_id),
        session_id: owned(v.session_id),
        resource: owned(v.resource),
        scope: owned(v.scope),
        source_ip: owned(v.source_ip),
        user_agent: owned(v.user_agent),
        details: v.details.to_owned(),
        writer_xact: r.try_get(14)?,
    })
}

/// The hashed fields of an `audit_events` row read with [`RECORD_COLUMNS`], borrowed from the
/// row: the one place that knows the columns' positions. Read without sqlx's type check (the
/// query names the columns, and the verifier reads a million of them).
pub(super) fn record_view_pg(
    r: &sea_orm::sqlx::postgres::PgRow,
) -> Result<RecordView<'_>, sea_orm::sqlx::Error> {
    use sea_orm::sqlx::Row;
    let opt = |i: usize| r.try_get_unchecked::<Option<&str>, _>(i);
    let text = |i: usize| r.try_get_unchecked::<&str, _>(i);
    Ok(RecordView {
        tenant_id: text(1)?,
        occurred_at: r.try_get_unchecked(2)?,
        action: text(3)?,
        result: text(4)?,
        actor: opt(5)?,
        user_id: opt(6)?,
        client_id: opt(7)?,
        session_id: opt(8)?,
        resource: opt(9)?,
        scope: opt(10)?,
        source_ip: opt(11)?,
        user_agent: opt(12)?,
        details: text(13)?,
    })
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
///
/// Counted as the chain's records less its seals, in one statement (one snapshot): each seal
/// names one record by primary key, and a seal of the chain whose record is gone or belongs to
/// another chain is a break the verifier reports before this count is read. Two index counts
/// instead of an anti-join: on a million records the anti-join took 0.85 s with PostgreSQL's
/// parallel workers (2.5 core-seconds), the counts 0.57 s on one core (issue 15 §1).
pub(crate) async fn unsealed_anywhere<C: ConnectionTrait>(
    conn: &C,
    chain: &str,
) -> CoreResult<u64> {
    let backend = conn.get_database_backend();
    let p = if backend == DatabaseBackend::Postgres {
        "$1"
    } else {
        "?1"
    };
    let row = conn
        .query_one(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT (SELECT COUNT(*) FROM audit_events WHERE tenant_id = {p}) - \
                 (SELECT COUNT(*) FROM audit_seals WHERE tenant_id = {p})"
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
