//! Audit retention (DESIGN §8): a tenant's records older than its retention (1–7 years, tenant
//! settings) are deleted, but only as a whole range that starts at the first record and ends at a
//! signed checkpoint, which is kept. The verifier then starts from that checkpoint's signed head
//! hash, so what remains still verifies, and a purge is visible: the checkpoint anchors the first
//! remaining record and the purge itself is an `audit.purged` record in the chain.
//!
//! The tables refuse DELETE (migrations 2 and 23). The purge lifts that guard inside its own transaction
//! — `ALTER TABLE … DISABLE TRIGGER` on PostgreSQL, which only the table's owner may do (run
//! `gatehouse audit purge` with the owner's credentials when the runtime role does not own the
//! audit tables), a dropped and re-created trigger on SQLite — so no other session ever sees the
//! table unguarded.
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QuerySelect, Statement,
};

use super::{record, AuditEvent};
use crate::clock::{Clock, MICROS};
use crate::db::Store;
use crate::entities::{audit_checkpoints, audit_events, audit_seals};
use crate::error::CoreResult;
use crate::tenant::TenantId;

/// A retention year, counted generously (366 days): records are kept at least that long.
const YEAR_SECS: i64 = 366 * 86_400;

const SQLITE_GUARD: [&str; 2] = [
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END",
    "CREATE TRIGGER audit_seal_no_delete BEFORE DELETE ON audit_seals
BEGIN
  SELECT RAISE(ABORT, 'audit_seals is append-only');
END",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purged {
    /// Records with this sequence number and below were deleted.
    pub up_to_seq: i64,
    pub deleted: u64,
}

/// The one value of an aggregate (`MAX(seq)`, `MIN(seq)`) over the rows of `E` matching
/// `filter`; `None` when no row matches.
async fn aggregate<E: EntityTrait, C: ConnectionTrait>(
    conn: &C,
    expr: SimpleExpr,
    filter: SimpleExpr,
) -> CoreResult<Option<i64>> {
    let v: Option<Option<i64>> = E::find()
        .select_only()
        .column_as(expr, "v")
        .filter(filter)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(v.flatten())
}

/// Deletes the tenant's records older than `years`, up to the newest signed checkpoint that
/// covers only such records and is not the chain's head. Returns what was deleted, if anything.
pub async fn purge(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    years: i64,
) -> CoreResult<Option<Purged>> {
    let cutoff = clock.now_us() - years.max(1) * YEAR_SECS * MICROS;
    let chain = tenant.to_string();
    use audit_seals::Column;
    let sealed = || Column::TenantId.eq(chain.clone());
    let txn = store.begin().await?;
    let head =
        aggregate::<audit_seals::Entity, _>(&txn, Expr::col(Column::Seq).max(), sealed()).await?;
    let Some(head) = head else {
        return Ok(None);
    };
    // The first record young enough to keep: nothing at or after it may go.
    let first_young = aggregate::<audit_seals::Entity, _>(
        &txn,
        Expr::col(Column::Seq).min(),
        sealed().and(
            Column::EventId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(audit_events::Column::Id)
                    .from(audit_events::Entity)
                    .and_where(audit_events::Column::TenantId.eq(chain.clone()))
                    .and_where(audit_events::Column::OccurredAt.gte(cutoff))
                    .to_owned(),
            ),
        ),
    )
    .await?
    .unwrap_or(head);
    let first = aggregate::<audit_seals::Entity, _>(&txn, Expr::col(Column::Seq).min(), sealed())
        .await?
        .unwrap_or(1);
    let Some(up_to) = aggregate::<audit_checkpoints::Entity, _>(
        &txn,
        Expr::col(audit_checkpoints::Column::Seq).max(),
        audit_checkpoints::Column::TenantId
            .eq(chain.clone())
            .and(audit_checkpoints::Column::Seq.lt(first_young.min(head)))
            .and(audit_checkpoints::Column::Seq.gte(first))
            // The kept checkpoint itself is older than the retention (the verifier checks it).
            .and(audit_checkpoints::Column::CreatedAt.lte(cutoff)),
    )
    .await?
    else {
        return Ok(None);
    };
    let backend = txn.get_database_backend();
    let guard_off: &[&str] = match backend {
        DatabaseBackend::Postgres => &[
            "ALTER TABLE audit_events DISABLE TRIGGER audit_guard",
            "ALTER TABLE audit_seals DISABLE TRIGGER audit_seal_guard",
        ],
        _ => &[
            "DROP TRIGGER audit_no_delete",
            "DROP TRIGGER audit_seal_no_delete",
        ],
    };
    for sql in guard_off {
        txn.execute(Statement::from_string(backend, *sql)).await?;
    }
    let purged = || sealed().and(Column::Seq.lte(up_to));
    let deleted = audit_events::Entity::delete_many()
        .filter(audit_events::Column::TenantId.eq(chain.clone()))
        .filter(
            audit_events::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(Column::EventId)
                    .from(audit_seals::Entity)
                    .cond_where(purged())
                    .to_owned(),
            ),
        )
        .exec(&txn)
        .await?
        .rows_affected;
    audit_seals::Entity::delete_many()
        .filter(purged())
        .exec(&txn)
        .await?;
    let guard_on: &[&str] = match backend {
        DatabaseBackend::Postgres => &[
            "ALTER TABLE audit_events ENABLE TRIGGER audit_guard",
            "ALTER TABLE audit_seals ENABLE TRIGGER audit_seal_guard",
        ],
        _ => &SQLITE_GUARD,
    };
    for sql in guard_on {
        txn.execute(Statement::from_string(backend, *sql)).await?;
    }
    record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "audit.purged")
            .actor("retention")
            .detail("up_to_seq", up_to)
            .detail("records_deleted", deleted)
            .detail("retention_years", years)
            .detail(
                "cutoff",
                crate::clock::rfc3339(cutoff, chrono::SecondsFormat::Secs),
            ),
    )
    .await?;
    txn.commit().await?;
    Ok(Some(Purged {
        up_to_seq: up_to,
        deleted,
    }))
}

/// What [`purge_all`] did: per tenant slug, the purge, and the tenants it could not purge.
#[derive(Debug, Default)]
pub struct PurgeAll {
    pub purged: Vec<(String, Purged)>,
    pub failed: Vec<(String, crate::CoreError)>,
}

/// Applies every tenant's retention setting; one tenant's failure does not stop the others.
pub async fn purge_all(store: &Store, clock: &dyn Clock) -> CoreResult<PurgeAll> {
    let mut out = PurgeAll::default();
    for t in crate::tenant::list(&store.db).await? {
        let years = match crate::admin::settings::get(&store.db, &t.id).await {
            Ok(s) => s.audit_retention_years(),
            Err(e) => {
                out.failed.push((t.slug, e));
                continue;
            }
        };
        match purge(store, clock, &t.id, years).await {
            Ok(Some(p)) => out.purged.push((t.slug, p)),
            Ok(None) => {}
            Err(e) => out.failed.push((t.slug, e)),
        }
    }
    Ok(out)
}
