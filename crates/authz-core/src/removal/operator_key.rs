//! An operator API key (`ghop_…`) as an object (issue 16 §2): one by id, renamed, removed.
//! Removing revokes it at once (the row stays so the audit log can name it), and with it every
//! operator-area console session opened with it. Only keys of the operator kind are reached:
//! a tenant's admin key is not found here.
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::Counts;
use crate::api_key::ApiKey;
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::{api_keys, operator_console_sessions as sessions};
use crate::error::{CoreError, CoreResult};

/// The operator key `id`.
pub async fn get<C: ConnectionTrait>(conn: &C, id: &str) -> CoreResult<ApiKey> {
    api_keys::Entity::find_by_id(id.to_string())
        .filter(api_keys::Column::Kind.eq("operator"))
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("operator key"))
        .and_then(ApiKey::try_from)
}

/// Renames the operator key `id` (the name says who holds it).
pub async fn rename(
    store: &Store,
    clock: &dyn Clock,
    id: &str,
    name: &str,
    actor: &str,
) -> CoreResult<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(CoreError::invalid("the name must be 1 to 60 characters"));
    }
    let txn = store.begin().await?;
    let before = get(&txn, id).await?;
    api_keys::Entity::update_many()
        .col_expr(api_keys::Column::Name, Expr::value(name))
        .filter(api_keys::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(None, "api_key.renamed")
            .actor(actor)
            .detail("api_key_id", id)
            .detail("previous_name", before.name.as_str())
            .detail("name", name),
    )
    .await?;
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
    let key = get(&txn, id).await?;
    let now = clock.now_us();
    let mut counts = Counts::default();
    if key.revoked_at.is_none() {
        api_keys::Entity::update_many()
            .col_expr(api_keys::Column::RevokedAt, Expr::value(now))
            .filter(api_keys::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        counts.credentials = u64::from(key.expires_at > now);
        counts.sessions = sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Some(now).into())
            .filter(sessions::Column::KeyId.eq(id))
            .filter(sessions::Column::RevokedAt.is_null())
            .filter(sessions::Column::ExpiresAt.gt(now))
            .exec(&txn)
            .await?
            .rows_affected;
        audit::record(
            &txn,
            clock,
            AuditEvent::new(None, "api_key.revoked")
                .actor(actor)
                .detail("api_key_id", id)
                .detail("name", key.name.as_str()),
        )
        .await?;
    }
    super::finish(txn, dry_run).await?;
    Ok(counts)
}
