//! Audit retention (DESIGN §8): a tenant's records older than its retention (1–7 years, tenant
//! settings) are deleted, but only as a whole range that starts at the first record and ends at a
//! signed checkpoint, which is kept. The verifier then starts from that checkpoint's signed head
//! hash, so what remains still verifies, and a purge is visible: the checkpoint anchors the first
//! remaining record and the purge itself is an `audit.purged` record in the chain.
//!
//! The table refuses DELETE (migration 2). The purge lifts that guard inside its own transaction
//! — `ALTER TABLE … DISABLE TRIGGER` on PostgreSQL, which only the table's owner may do (run
//! `gatehouse audit purge` with the owner's credentials when the runtime role does not own the
//! audit tables), a dropped and re-created trigger on SQLite — so no other session ever sees the
//! table unguarded.
use sea_orm::sea_query::{Alias, Expr, Func, Query};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use super::{record, AuditEvent};
use crate::clock::{Clock, MICROS};
use crate::db::Store;
use crate::error::CoreResult;
use crate::tenant::TenantId;

/// A retention year, counted generously (366 days): records are kept at least that long.
const YEAR_SECS: i64 = 366 * 86_400;

const SQLITE_GUARD: &str = "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purged {
    /// Records with this sequence number and below were deleted.
    pub up_to_seq: i64,
    pub deleted: u64,
}

fn t(n: &str) -> Alias {
    Alias::new(n)
}

async fn scalar<C: ConnectionTrait>(
    conn: &C,
    q: &sea_orm::sea_query::SelectStatement,
) -> CoreResult<Option<i64>> {
    let Some(r) = conn.query_one(conn.get_database_backend().build(q)).await? else {
        return Ok(None);
    };
    Ok(r.try_get::<Option<i64>>("", "v")?)
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
    let chain = tenant.0.clone();
    let sealed = || {
        Expr::col(t("tenant_id"))
            .eq(chain.clone())
            .and(Expr::col(t("seq")).is_not_null())
    };
    let txn = store.begin().await?;
    let head = scalar(
        &txn,
        &Query::select()
            .expr_as(Func::max(Expr::col(t("seq"))), t("v"))
            .from(t("audit_events"))
            .cond_where(sealed())
            .to_owned(),
    )
    .await?;
    let Some(head) = head else {
        return Ok(None);
    };
    // The first record young enough to keep: nothing at or after it may go.
    let first_young = scalar(
        &txn,
        &Query::select()
            .expr_as(Func::min(Expr::col(t("seq"))), t("v"))
            .from(t("audit_events"))
            .cond_where(sealed())
            .and_where(Expr::col(t("occurred_at")).gte(cutoff))
            .to_owned(),
    )
    .await?
    .unwrap_or(head);
    let first = scalar(
        &txn,
        &Query::select()
            .expr_as(Func::min(Expr::col(t("seq"))), t("v"))
            .from(t("audit_events"))
            .cond_where(sealed())
            .to_owned(),
    )
    .await?
    .unwrap_or(1);
    let Some(up_to) = scalar(
        &txn,
        &Query::select()
            .expr_as(Func::max(Expr::col(t("seq"))), t("v"))
            .from(t("audit_checkpoints"))
            .and_where(Expr::col(t("tenant_id")).eq(chain.clone()))
            .and_where(Expr::col(t("seq")).lt(first_young.min(head)))
            .and_where(Expr::col(t("seq")).gte(first))
            // The kept checkpoint itself is older than the retention (the verifier checks it).
            .and_where(Expr::col(t("created_at")).lte(cutoff))
            .to_owned(),
    )
    .await?
    else {
        return Ok(None);
    };
    let backend = txn.get_database_backend();
    let guard_off = match backend {
        DatabaseBackend::Postgres => "ALTER TABLE audit_events DISABLE TRIGGER audit_guard",
        _ => "DROP TRIGGER audit_no_delete",
    };
    txn.execute(Statement::from_string(backend, guard_off))
        .await?;
    let deleted = txn
        .execute(
            backend.build(
                &Query::delete()
                    .from_table(t("audit_events"))
                    .cond_where(sealed())
                    .and_where(Expr::col(t("seq")).lte(up_to))
                    .to_owned(),
            ),
        )
        .await?
        .rows_affected();
    let guard_on = match backend {
        DatabaseBackend::Postgres => "ALTER TABLE audit_events ENABLE TRIGGER audit_guard",
        _ => SQLITE_GUARD,
    };
    txn.execute(Statement::from_string(backend, guard_on))
        .await?;
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
