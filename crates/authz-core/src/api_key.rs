//! Admin API keys (issue "console"): an operator key acts on the platform (tenants, resources,
//! pre-registered clients); a tenant-admin key acts on one tenant only. Shown once, stored as
//! SHA-256, expiring, revocable; every change is audited. The kind and the tenant come from the
//! stored row, never from the request.
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::audit::{self, AuditEvent};
use crate::clock::{Clock, MICROS};
use crate::crypto::{random_token, sha256_hex};
use crate::db::Store;
use crate::entities::api_keys::{self, Column, Entity};
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

/// Longest lifetime a key may be given.
pub const MAX_TTL_SECS: i64 = crate::crypto::MAX_CREDENTIAL_TTL_SECS;

/// What a key may act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Operator,
    TenantAdmin(TenantId),
}

#[derive(Clone, Debug)]
pub struct ApiKey {
    pub id: String,
    pub scope: Scope,
    pub name: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl TryFrom<api_keys::Model> for ApiKey {
    type Error = CoreError;

    fn try_from(m: api_keys::Model) -> CoreResult<Self> {
        let scope = match (m.kind.as_str(), m.tenant_id) {
            ("operator", None) => Scope::Operator,
            ("tenant_admin", Some(t)) => Scope::TenantAdmin(TenantId::from_stored(t)),
            _ => {
                return Err(CoreError::Config(
                    "an API key row has an unknown kind".into(),
                ))
            }
        };
        Ok(ApiKey {
            id: m.id,
            scope,
            name: m.name,
            created_at: m.created_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
        })
    }
}

/// Creates a key; the secret is returned once and never stored.
pub async fn create(
    store: &Store,
    clock: &dyn Clock,
    scope: Scope,
    name: &str,
    ttl_secs: i64,
) -> CoreResult<(ApiKey, String)> {
    create_by(store, clock, scope, name, ttl_secs, "operator").await
}

/// [`create`] on behalf of `actor` (a tenant admin in the console), audited as them.
pub async fn create_by(
    store: &Store,
    clock: &dyn Clock,
    scope: Scope,
    name: &str,
    ttl_secs: i64,
    actor: &str,
) -> CoreResult<(ApiKey, String)> {
    let name = crate::crypto::check_credential("an API key", name, ttl_secs)?;
    let (kind, tenant, prefix) = match &scope {
        Scope::Operator => ("operator", None, "ghop_"),
        Scope::TenantAdmin(t) => ("tenant_admin", Some(t.clone()), "ghadm_"),
    };
    let secret = format!("{prefix}{}", random_token());
    let now = clock.now_us();
    let key = ApiKey {
        id: uuid::Uuid::new_v4().to_string(),
        scope: scope.clone(),
        name: name.to_string(),
        created_at: now,
        expires_at: now + ttl_secs * MICROS,
        revoked_at: None,
    };
    let txn = store.begin().await?;
    Entity::insert(api_keys::ActiveModel {
        id: Set(key.id.clone()),
        kind: Set(kind.to_string()),
        tenant_id: Set(tenant.as_ref().map(|t| t.to_string())),
        name: Set(key.name.clone()),
        key_hash: Set(sha256_hex(&secret)),
        created_at: Set(now),
        expires_at: Set(key.expires_at),
        revoked_at: NotSet,
        last_used_at: NotSet,
    })
    .exec_without_returning(&txn)
    .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(tenant.as_ref(), "api_key.created")
            .actor(actor)
            .detail("api_key_id", key.id.as_str())
            .detail("kind", kind)
            .detail("name", key.name.as_str())
            .detail("expires_at", key.expires_at),
    )
    .await?;
    txn.commit().await?;
    Ok((key, secret))
}

/// The live key matching `presented`, if any.
pub async fn authenticate<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    presented: &str,
) -> CoreResult<Option<ApiKey>> {
    if !(presented.starts_with("ghop_") || presented.starts_with("ghadm_")) {
        return Ok(None);
    }
    let Some(m) = Entity::find()
        .filter(Column::KeyHash.eq(sha256_hex(presented)))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let key = ApiKey::try_from(m)?;
    let now = clock.now_us();
    if key.revoked_at.is_some() || key.expires_at <= now {
        return Ok(None);
    }
    Ok(Some(key))
}

/// Keys of one scope (an operator's list: `None`; a tenant's: its id), newest first.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    tenant: Option<&TenantId>,
) -> CoreResult<Vec<ApiKey>> {
    let q = Entity::find().order_by_desc(Column::CreatedAt);
    let q = match tenant {
        Some(tid) => q.filter(Column::TenantId.eq(tid.to_string())),
        None => q.filter(Column::Kind.eq("operator")),
    };
    q.all(conn)
        .await?
        .into_iter()
        .map(ApiKey::try_from)
        .collect()
}

/// Revokes a key of the given scope (a tenant admin cannot name another tenant's key).
pub async fn revoke(
    store: &Store,
    clock: &dyn Clock,
    tenant: Option<&TenantId>,
    id: &str,
    actor: &str,
) -> CoreResult<()> {
    let txn = store.begin().await?;
    let q = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(clock.now_us()))
        .filter(Column::Id.eq(id))
        .filter(Column::RevokedAt.is_null());
    let q = match tenant {
        Some(tid) => q.filter(Column::TenantId.eq(tid.to_string())),
        None => q.filter(Column::Kind.eq("operator")),
    };
    let n = q.exec(&txn).await?.rows_affected;
    if n == 0 {
        return Err(CoreError::NotFound("API key"));
    }
    audit::record(
        &txn,
        clock,
        AuditEvent::new(tenant, "api_key.revoked")
            .actor(actor)
            .detail("api_key_id", id),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// One key of the given scope (an operator key: `None`; a tenant's: its id). A key of another
/// scope is not found.
pub async fn get<C: ConnectionTrait>(
    conn: &C,
    tenant: Option<&TenantId>,
    id: &str,
) -> CoreResult<ApiKey> {
    let q = Entity::find().filter(Column::Id.eq(id));
    let q = match tenant {
        Some(tid) => q.filter(Column::TenantId.eq(tid.to_string())),
        None => q.filter(Column::Kind.eq("operator")),
    };
    q.one(conn)
        .await?
        .ok_or(CoreError::NotFound("API key"))
        .and_then(ApiKey::try_from)
}

/// Removes a key from use inside the caller's transaction: it is revoked (the row stays, so
/// the audit trail can name it). Returns the key as it was and whether this call stopped a
/// working key (false: it was already revoked or expired, and nothing is recorded).
pub async fn revoke_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    tenant: Option<&TenantId>,
    id: &str,
    actor: &str,
) -> CoreResult<(ApiKey, bool)> {
    let key = get(txn, tenant, id).await?;
    let now = clock.now_us();
    if key.revoked_at.is_some() {
        return Ok((key, false));
    }
    Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    audit::record(
        txn,
        clock,
        AuditEvent::new(tenant, "api_key.revoked")
            .actor(actor)
            .detail("api_key_id", id)
            .detail("name", key.name.as_str()),
    )
    .await?;
    let live = key.expires_at > now;
    Ok((key, live))
}

/// Renames a key inside the caller's transaction (the name says who holds it); the secret and
/// expiry do not change.
pub async fn rename_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    tenant: Option<&TenantId>,
    id: &str,
    name: &str,
    actor: &str,
) -> CoreResult<ApiKey> {
    let before = get(txn, tenant, id).await?;
    let name = crate::crypto::check_credential("an API key", name, 60)?;
    Entity::update_many()
        .col_expr(Column::Name, Expr::value(name))
        .filter(Column::Id.eq(id))
        .exec(txn)
        .await?;
    audit::record(
        txn,
        clock,
        AuditEvent::new(tenant, "api_key.renamed")
            .actor(actor)
            .detail("api_key_id", id)
            .detail("previous_name", before.name.as_str())
            .detail("name", name),
    )
    .await?;
    get(txn, tenant, id).await
}
