//! When a key was last used, and when it expired, for the person's list and the audit log.
//! `last_used_at` is written at most once a minute per key by a conditional UPDATE, so any
//! number of nodes agree without coordination: the node whose UPDATE changed the row records
//! `api_key.used`, the others change nothing. Expiry is recorded once per key by the
//! maintenance sweep, the same way.
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::audit::{self, AuditEvent};
use crate::clock::{Clock, MICROS};
use crate::db::Store;
use crate::entities::{grant_families, personal_api_keys};
use crate::error::CoreResult;
use crate::tenant::TenantId;

/// A key's use is written at most this often.
pub const USED_EVERY_SECS: i64 = 60;

/// Records that key `id` was used now, unless that was done less than [`USED_EVERY_SECS`] ago.
/// `via`: `gateway` or `introspection`. Returns whether the row changed (and `api_key.used` was
/// recorded).
pub async fn touch(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    via: &str,
) -> CoreResult<bool> {
    let now = clock.now_us();
    let txn = store.begin().await?;
    let changed = personal_api_keys::Entity::update_many()
        .col_expr(personal_api_keys::Column::LastUsedAt, Expr::value(now))
        .filter(personal_api_keys::Column::Id.eq(id))
        .filter(personal_api_keys::Column::TenantId.eq(tenant.to_string()))
        .filter(
            Condition::any()
                .add(personal_api_keys::Column::LastUsedAt.is_null())
                .add(personal_api_keys::Column::LastUsedAt.lt(now - USED_EVERY_SECS * MICROS)),
        )
        .exec(&txn)
        .await?
        .rows_affected;
    if changed == 0 {
        return Ok(false);
    }
    let user: Option<String> = personal_api_keys::Entity::find_by_id(id.to_string())
        .select_only()
        .column(personal_api_keys::Column::UserId)
        .into_tuple()
        .one(&txn)
        .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "api_key.used")
            .actor(format!("api-key:{id}"))
            .user(user.unwrap_or_default())
            .detail("key_id", id.to_string())
            .detail("via", via.to_string()),
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// Records `api_key.expired` once for every key whose end has passed and that was not revoked
/// before (a revoked key's end is not news). Every node may run it: the conditional UPDATE
/// decides which one records. Returns how many were recorded.
pub async fn record_expired(store: &Store, clock: &dyn Clock) -> CoreResult<u64> {
    let now = clock.now_us();
    let due = personal_api_keys::Entity::find()
        .filter(personal_api_keys::Column::ExpiresAt.lte(now))
        .filter(personal_api_keys::Column::ExpiryRecordedAt.is_null())
        .limit(1000)
        .all(&store.db)
        .await?;
    let mut n = 0;
    for k in due {
        let txn = store.begin().await?;
        let marked = personal_api_keys::Entity::update_many()
            .col_expr(
                personal_api_keys::Column::ExpiryRecordedAt,
                Expr::value(now),
            )
            .filter(personal_api_keys::Column::Id.eq(k.id.clone()))
            .filter(personal_api_keys::Column::ExpiryRecordedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        if marked == 0 {
            continue; // another node got there first
        }
        let family = grant_families::Entity::find_by_id(k.id.clone())
            .one(&txn)
            .await?;
        if let Some(f) = family.filter(|f| f.revoked_at.is_none()) {
            audit::record(
                &txn,
                clock,
                AuditEvent::new(
                    Some(&TenantId::from_stored(k.tenant_id.clone())),
                    "api_key.expired",
                )
                .actor("system")
                .user(k.user_id.clone())
                .client(f.client_id.clone())
                .scope(f.scopes.clone())
                .detail("key_id", k.id.clone())
                .detail("expired_at", k.expires_at),
            )
            .await?;
            n += 1;
        }
        txn.commit().await?;
    }
    Ok(n)
}
