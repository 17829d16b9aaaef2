//! Gauges read at scrape time: the sealer's lag and the last checkpoint (DESIGN's audit chain),
//! the mail outbox, and this node's database pool. Three small indexed reads per scrape: the
//! unsealed records in the sealer's window (`audit::Window`, ADR 0026), the outbox through
//! `mail_outbox_pending`, the checkpoints' newest `created_at`.
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseBackend, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};

use super::{get, StateLabels};
use crate::clock::MICROS;
use crate::db::Store;
use crate::entities::{audit_checkpoints, mail_outbox};
use crate::error::CoreResult;

/// Reads every gauge; a failed read is logged (`METRICS0002`) and keeps the previous values.
pub async fn refresh(store: &Store, now_us: i64) {
    pool(store);
    if let Err(e) = stored(store, now_us).await {
        tracing::warn!(code = "METRICS0002", error = %e, "cannot read the stored gauges");
    }
}

fn age_secs(now_us: i64, then_us: Option<i64>) -> f64 {
    then_us.map_or(0.0, |t| (now_us - t).max(0) as f64 / MICROS as f64)
}

async fn stored(store: &Store, now_us: i64) -> CoreResult<()> {
    let m = get();
    let (unsealed, oldest) = {
        let txn = store.db.begin().await?;
        crate::audit::custom_plans(&txn).await?;
        let counted = crate::audit::Window::read(&txn)
            .await?
            .unsealed(&txn)
            .await?;
        txn.commit().await?;
        counted
    };
    let checkpoint: Option<Option<i64>> = audit_checkpoints::Entity::find()
        .select_only()
        .column_as(
            Expr::col(audit_checkpoints::Column::CreatedAt).max(),
            "newest",
        )
        .into_tuple()
        .one(&store.db)
        .await?;
    let outbox: Option<i64> = mail_outbox::Entity::find()
        .select_only()
        .column_as(Expr::col(mail_outbox::Column::Id).count(), "n")
        .filter(mail_outbox::Column::SentAt.is_null())
        .into_tuple()
        .one(&store.db)
        .await?;
    m.audit_unsealed.set(unsealed);
    m.audit_oldest_unsealed_age.set(age_secs(now_us, oldest));
    m.audit_checkpoint_age
        .set(age_secs(now_us, checkpoint.flatten()));
    m.mail_outbox_depth.set(outbox.unwrap_or(0));
    Ok(())
}

/// The node's pools (sqlx): the main pool and, on PostgreSQL, the per-worker pools
/// (`Store::for_worker`), added up: connections open and in use, idle, and the ceiling. sqlx
/// does not count the tasks waiting for a connection: the waits are timed at each hand-out
/// instead (`metrics::pool_acquire_wait`, ADR 0023).
fn pool(store: &Store) {
    let (size, idle, max) = match store.backend() {
        DatabaseBackend::Postgres => {
            let main = store.db.get_postgres_connection_pool().clone();
            let mut all = crate::db::worker_pools();
            all.push(main);
            all.iter().fold((0u32, 0usize, 0u32), |(s, i, m), p| {
                (
                    s + p.size(),
                    i + p.num_idle(),
                    m + p.options().get_max_connections(),
                )
            })
        }
        DatabaseBackend::Sqlite => {
            let p = store.db.get_sqlite_connection_pool();
            (p.size(), p.num_idle(), p.options().get_max_connections())
        }
        _ => return,
    };
    let m = get();
    let idle = idle as i64;
    let in_use = (i64::from(size) - idle).max(0);
    m.db_pool
        .get_or_create(&StateLabels { state: "in_use" })
        .set(in_use);
    m.db_pool
        .get_or_create(&StateLabels { state: "idle" })
        .set(idle);
    m.db_pool_max.set(i64::from(max));
}
