//! Admin API keys (issue "console"): an operator key acts on the platform (tenants, resources,
//! pre-registered clients); a tenant-admin key acts on one tenant only. Shown once, stored as
//! SHA-256, expiring, revocable; every change is audited. The kind and the tenant come from the
//! stored row, never from the request.
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ConnectionTrait, QueryResult};

use crate::audit::{self, AuditEvent};
use crate::clock::{Clock, MICROS};
use crate::crypto::{random_token, sha256_hex};
use crate::db::Store;
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

fn t(n: &str) -> Alias {
    Alias::new(n)
}

fn row(r: &QueryResult) -> CoreResult<ApiKey> {
    let kind: String = r.try_get("", "kind")?;
    let tenant: Option<String> = r.try_get("", "tenant_id")?;
    let scope = match (kind.as_str(), tenant) {
        ("operator", None) => Scope::Operator,
        ("tenant_admin", Some(t)) => Scope::TenantAdmin(TenantId(t)),
        _ => {
            return Err(CoreError::Config(
                "an API key row has an unknown kind".into(),
            ))
        }
    };
    Ok(ApiKey {
        id: r.try_get("", "id")?,
        scope,
        name: r.try_get("", "name")?,
        created_at: r.try_get("", "created_at")?,
        expires_at: r.try_get("", "expires_at")?,
        revoked_at: r.try_get("", "revoked_at")?,
    })
}

const COLUMNS: [&str; 7] = [
    "id",
    "kind",
    "tenant_id",
    "name",
    "created_at",
    "expires_at",
    "revoked_at",
];

/// Creates a key; the secret is returned once and never stored.
pub async fn create(
    store: &Store,
    clock: &dyn Clock,
    scope: Scope,
    name: &str,
    ttl_secs: i64,
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
    let q = Query::insert()
        .into_table(t("api_keys"))
        .columns([
            t("id"),
            t("kind"),
            t("tenant_id"),
            t("name"),
            t("key_hash"),
            t("created_at"),
            t("expires_at"),
        ])
        .values_panic([
            key.id.clone().into(),
            kind.into(),
            tenant.as_ref().map(|t| t.0.clone()).into(),
            key.name.clone().into(),
            sha256_hex(&secret).into(),
            now.into(),
            key.expires_at.into(),
        ])
        .to_owned();
    txn.execute(txn.get_database_backend().build(&q)).await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(tenant.as_ref(), "api_key.created")
            .actor("operator")
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
    let q = Query::select()
        .columns(COLUMNS.map(t))
        .from(t("api_keys"))
        .and_where(Expr::col(t("key_hash")).eq(sha256_hex(presented)))
        .to_owned();
    let Some(r) = conn
        .query_one(conn.get_database_backend().build(&q))
        .await?
    else {
        return Ok(None);
    };
    let key = row(&r)?;
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
    let mut q = Query::select()
        .columns(COLUMNS.map(t))
        .from(t("api_keys"))
        .order_by(t("created_at"), sea_orm::Order::Desc)
        .to_owned();
    match tenant {
        Some(tid) => q.and_where(Expr::col(t("tenant_id")).eq(tid.0.clone())),
        None => q.and_where(Expr::col(t("kind")).eq("operator")),
    };
    conn.query_all(conn.get_database_backend().build(&q))
        .await?
        .iter()
        .map(row)
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
    let mut q = Query::update()
        .table(t("api_keys"))
        .value(t("revoked_at"), clock.now_us())
        .and_where(Expr::col(t("id")).eq(id))
        .and_where(Expr::col(t("revoked_at")).is_null())
        .to_owned();
    match tenant {
        Some(tid) => q.and_where(Expr::col(t("tenant_id")).eq(tid.0.clone())),
        None => q.and_where(Expr::col(t("kind")).eq("operator")),
    };
    let n = txn
        .execute(txn.get_database_backend().build(&q))
        .await?
        .rows_affected();
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
