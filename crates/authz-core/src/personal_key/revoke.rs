//! Revoking keys: one (by its owner or a tenant admin), or all of a tenant's (when the admin
//! turns keys off: existing keys stop working, not only new ones). A revocation is the family's
//! (`token::revoke::revoke_family`), so it holds on every node from the next lookup on.
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::PersonalKey;
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::grant_families;
use crate::error::CoreResult;
use crate::tenant::TenantId;
use crate::token::revoke::revoke_family;
use crate::token::CredentialKind;

async fn record<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    f: &grant_families::Model,
    actor: &str,
    reason: &str,
) -> CoreResult<()> {
    audit::record(
        conn,
        clock,
        AuditEvent::new(Some(tenant), "api_key.revoked")
            .actor(actor)
            .user(f.user_id.clone())
            .client(f.client_id.clone())
            .scope(f.scopes.clone())
            .detail("key_id", f.id.clone())
            .detail("reason", reason),
    )
    .await
}

/// Revokes one key (found with [`super::get`], so of this tenant and, for its owner, of this
/// person). Revoking a key that is no longer active changes nothing and records nothing.
pub async fn revoke(
    store: &Store,
    clock: &dyn Clock,
    key: &PersonalKey,
    actor: &str,
) -> CoreResult<bool> {
    let txn = store.begin().await?;
    let revoked = revoke_in(&txn, clock, key, actor).await?;
    txn.commit().await?;
    Ok(revoked)
}

/// [`revoke`] inside the caller's transaction (a use case that previews it rolls it back).
pub async fn revoke_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    key: &PersonalKey,
    actor: &str,
) -> CoreResult<bool> {
    let Some(f) = grant_families::Entity::find_by_id(key.id.clone())
        .filter(grant_families::Column::TenantId.eq(key.tenant.to_string()))
        .filter(grant_families::Column::Kind.eq(CredentialKind::ApiKey.as_str()))
        .filter(grant_families::Column::RevokedAt.is_null())
        .one(txn)
        .await?
    else {
        return Ok(false);
    };
    revoke_family(txn, clock, &f.id).await?;
    let reason = if actor == format!("user:{}", f.user_id) {
        "revoked_by_owner"
    } else {
        "revoked_by_admin"
    };
    record(txn, clock, &key.tenant, &f, actor, reason).await?;
    Ok(true)
}

/// Renames a key inside the caller's transaction (an admin relabels a member's key so a list
/// says what it is for); the secret, scopes and expiry do not change.
pub async fn rename_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    key: &PersonalKey,
    name: &str,
    actor: &str,
) -> CoreResult<()> {
    use sea_orm::sea_query::Expr;
    let name = super::create::check_name(name)?;
    crate::entities::personal_api_keys::Entity::update_many()
        .col_expr(
            crate::entities::personal_api_keys::Column::Name,
            Expr::value(name.clone()),
        )
        .filter(crate::entities::personal_api_keys::Column::Id.eq(key.id.clone()))
        .filter(crate::entities::personal_api_keys::Column::TenantId.eq(key.tenant.to_string()))
        .exec(txn)
        .await?;
    audit::record(
        txn,
        clock,
        AuditEvent::new(Some(&key.tenant), "api_key.renamed")
            .actor(actor)
            .user(key.user_id.clone())
            .detail("key_id", key.id.clone())
            .detail("previous_name", key.name.clone())
            .detail("name", name),
    )
    .await
}

/// Revokes every live key of the tenant, each audited (`reason: api_keys_disabled`). Returns
/// how many.
pub async fn revoke_all_in_tenant(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    actor: &str,
) -> CoreResult<u64> {
    let txn = store.begin().await?;
    let live = grant_families::Entity::find()
        .filter(grant_families::Column::TenantId.eq(tenant.to_string()))
        .filter(grant_families::Column::Kind.eq(CredentialKind::ApiKey.as_str()))
        .filter(grant_families::Column::RevokedAt.is_null())
        .all(&txn)
        .await?;
    let mut n = 0;
    for f in live {
        revoke_family(&txn, clock, &f.id).await?;
        record(&txn, clock, tenant, &f, actor, "api_keys_disabled").await?;
        n += 1;
    }
    txn.commit().await?;
    Ok(n)
}
