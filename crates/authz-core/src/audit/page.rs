//! A page of a chain as the verifier checks it (issue 15 §1: verify 1,000,000 records in under
//! 3 s). For each sealed record, in sequence order: its id and sequence number and, side by
//! side in one buffer, its stored `prev_hash`, its stored `hash` and its canonical bytes. On
//! PostgreSQL the page is built straight from the rows' bytes: no `String` per field and no
//! model per record, which were a fifth of the verifier's CPU (allocation, copying, sqlx's typed
//! column reads).
use std::ops::Range;

use sea_orm::DatabaseBackend;

use super::canonical::RecordView;
use super::sealed::{self, Sealed};
use crate::db::Store;
use crate::error::CoreResult;

/// Sealed records of one chain, in sequence order, ready to hash.
#[derive(Default)]
pub(crate) struct Page {
    bytes: Vec<u8>,
    rows: Vec<Entry>,
}

/// One sealed record of a [`Page`].
pub(crate) struct Entry {
    pub id: i64,
    pub seq: i64,
    prev_hash: Range<usize>,
    hash: Range<usize>,
    canonical: Range<usize>,
}

impl Page {
    fn with_capacity(rows: usize) -> Page {
        Page {
            bytes: Vec::with_capacity(rows * 512),
            rows: Vec::with_capacity(rows),
        }
    }

    fn push(&mut self, id: i64, seq: i64, prev_hash: &str, hash: &str, record: &RecordView) {
        let prev_hash = self.append(prev_hash.as_bytes());
        let hash = self.append(hash.as_bytes());
        let start = self.bytes.len();
        record.append_canonical(seq, &mut self.bytes);
        self.rows.push(Entry {
            id,
            seq,
            prev_hash,
            hash,
            canonical: start..self.bytes.len(),
        });
    }

    fn append(&mut self, b: &[u8]) -> Range<usize> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(b);
        start..self.bytes.len()
    }

    pub fn rows(&self) -> &[Entry] {
        &self.rows
    }

    pub fn prev_hash(&self, e: &Entry) -> &[u8] {
        &self.bytes[e.prev_hash.clone()]
    }

    pub fn hash(&self, e: &Entry) -> &[u8] {
        &self.bytes[e.hash.clone()]
    }

    pub fn canonical(&self, e: &Entry) -> &[u8] {
        &self.bytes[e.canonical.clone()]
    }

    fn of_sealed(rows: &[Sealed]) -> Page {
        let mut page = Page::with_capacity(rows.len());
        for r in rows {
            page.push(
                r.record.id,
                r.seq,
                &r.prev_hash,
                &r.hash,
                &RecordView::of(&r.record),
            );
        }
        page
    }
}

/// The sealed records of `chain` with `after < seq <= upto`. A seal whose record is gone is
/// left out, so the verifier sees the gap it leaves.
pub(crate) async fn read(store: &Store, chain: &str, after: i64, upto: i64) -> CoreResult<Page> {
    if store.backend() == DatabaseBackend::Postgres {
        return read_pg(store, chain, after, upto).await;
    }
    Ok(Page::of_sealed(
        &sealed::range(store, chain, after, upto).await?,
    ))
}

/// PostgreSQL: the seals of the range, then their records as one range of ids or by the list
/// of ids, as [`sealed::page`] reads them, joined here by id.
async fn read_pg(store: &Store, chain: &str, after: i64, upto: i64) -> CoreResult<Page> {
    use sea_orm::sqlx::{Executor, Row};
    let mut txn = store
        .db
        .get_postgres_connection_pool()
        .begin()
        .await
        .map_err(sealed::query_err)?;
    let conn: &mut sea_orm::sqlx::PgConnection = &mut txn;
    conn.execute(super::seal::ORDERED_RANGES)
        .await
        .map_err(sealed::query_err)?;
    let seals = sea_orm::sqlx::query(
        "SELECT event_id, seq, prev_hash, hash FROM audit_seals \
         WHERE tenant_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
    )
    .bind(chain)
    .bind(after)
    .bind(upto)
    .fetch_all(&mut *conn)
    .await
    .map_err(sealed::query_err)?;
    let ids = seals
        .iter()
        .map(|s| s.try_get_unchecked::<i64, _>(0))
        .collect::<Result<Vec<i64>, _>>()
        .map_err(sealed::query_err)?;
    let records = sealed::records_of(conn, ids).await?;
    txn.commit().await.map_err(sealed::query_err)?;

    let mut by_id = records
        .iter()
        .enumerate()
        .map(|(i, r)| Ok((r.try_get_unchecked::<i64, _>(0)?, i)))
        .collect::<Result<Vec<(i64, usize)>, sea_orm::sqlx::Error>>()
        .map_err(sealed::query_err)?;
    by_id.sort_unstable();
    let mut page = Page::with_capacity(seals.len());
    for s in &seals {
        let event_id: i64 = s.try_get_unchecked(0).map_err(sealed::query_err)?;
        let Ok(at) = by_id.binary_search_by_key(&event_id, |(id, _)| *id) else {
            continue;
        };
        let view = sealed::record_view_pg(&records[by_id[at].1]).map_err(sealed::query_err)?;
        let (seq, prev_hash, hash) = seal_pg(s).map_err(sealed::query_err)?;
        page.push(event_id, seq, prev_hash, hash, &view);
    }
    Ok(page)
}

/// A seal's sequence number and stored hashes, borrowed from its row (the columns `read_pg`
/// selects, after `event_id`).
fn seal_pg(s: &sea_orm::sqlx::postgres::PgRow) -> Result<(i64, &str, &str), sea_orm::sqlx::Error> {
    use sea_orm::sqlx::Row;
    Ok((
        s.try_get_unchecked(1)?,
        s.try_get_unchecked(2)?,
        s.try_get_unchecked(3)?,
    ))
}
