//! An operator API key (`ghop_…`) as an object (issue 16 §2): one by id, renamed, removed —
//! through the same key functions as a tenant's admin key ([`crate::api_key`], scope `None`:
//! only keys of the operator kind are reached, a tenant's admin key is not found here).
//! Removing revokes it at once (the row stays so the audit log can name it), and with it every
//! operator-area console session opened with it.
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::Counts;
use crate::api_key::{self, ApiKey};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::operator_console_sessions as sessions;
use crate::error::CoreResult;

/// The operator key `id`.
pub async fn get<C: ConnectionTrait>(conn: &C, id: &str) -> CoreResult<ApiKey> {
    api_key::get(conn, None, id).await
}

/// Renames the operator key `id` (the name says who holds it).
pub async fn rename(
    store: &Store,
    clock: &dyn Clock,
    id: &str,
    name: &str,
    actor: &str,
) -> CoreResult<()> {
    let txn = store.begin().await?;
    api_key::rename_in(&txn, clock, None, id, name, actor).await?;
    txn.commit().await?;
    Ok(())
}

/// Revokes the operator key `id` and ends the console sessions opened with it, or with
/// `dry_run` counts what that would end. Removing an already revoked key changes nothing.
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    id: &str,
    actor: &str,
    dry_run: bool,
) -> CoreResult<Counts> {
    let txn = store.begin().await?;
    let (_, live) = api_key::revoke_in(&txn, clock, None, id, actor).await?;
    let now = clock.now_us();
    let ended = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Some(now).into())
        .filter(sessions::Column::KeyId.eq(id))
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(sessions::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?
        .rows_affected;
    super::finish(txn, dry_run).await?;
    Ok(Counts {
        credentials: u64::from(live),
        sessions: ended,
        ..Counts::default()
    })
}
