//! Changing an account: its secret (rotated with an overlap, the pattern of resource secrets,
//! `resource_secret::rotate`), its granted scopes, its state. Each change is audited, and each
//! change that takes access away revokes the account's grant families in the same transaction,
//! so every node refuses their tokens from the next request on (DESIGN §4b, §6.3).
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::{
    find, find_for_update, grants_json, new_secret, resolve_grants, Grants, Method, ServiceAccount,
};
use crate::audit::{self, AuditEvent};
use crate::clock::{Clock, MICROS};
use crate::crypto::sha256_hex;
use crate::db::Store;
use crate::entities::{grant_families, service_accounts};
use crate::error::{CoreError, CoreResult};
use crate::resource_secret::MAX_OVERLAP_SECS;
use crate::tenant::TenantId;
use crate::token::CredentialKind;

pub struct RotatedSecret {
    pub account: ServiceAccount,
    /// Shown once; only its hash is kept.
    pub secret: String,
    /// Until when (µs) the replaced secret still works; `None`: it stopped at once.
    pub previous_valid_until: Option<i64>,
}

/// Issues a new secret. It works at once; the current one keeps working for `overlap_secs`
/// (0: it stops now, e.g. after a leak); a secret replaced earlier stops now.
pub async fn rotate_secret(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    key: &str,
    overlap_secs: i64,
    actor: &str,
) -> CoreResult<RotatedSecret> {
    if !(0..=MAX_OVERLAP_SECS).contains(&overlap_secs) {
        return Err(CoreError::invalid(format!(
            "the overlap must be 0 to {MAX_OVERLAP_SECS} seconds"
        )));
    }
    let txn = store.begin().await?;
    let m = find(&txn, tenant, key).await?;
    if Method::parse(&m.auth_method)? != Method::ClientSecretBasic {
        return Err(CoreError::invalid(
            "this account authenticates with private_key_jwt: replace its keys instead",
        ));
    }
    let now = clock.now_us();
    let secret = new_secret();
    let previous_valid_until =
        (overlap_secs > 0 && m.secret_hash.is_some()).then(|| now + overlap_secs * MICROS);
    let mut am: service_accounts::ActiveModel = m.clone().into();
    am.secret_hash = Set(Some(sha256_hex(&secret)));
    am.prev_secret_hash = Set(previous_valid_until.and(m.secret_hash.clone()));
    am.prev_secret_until = Set(previous_valid_until);
    am.updated_at = Set(super::next_version(&m, now));
    let m = am.update(&txn).await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "service_account.secret_rotated")
            .actor(actor)
            .client(m.client_id.clone())
            .detail("service_account_id", m.id.as_str())
            .detail(
                "overlap_secs",
                previous_valid_until.map_or(0, |_| overlap_secs),
            ),
    )
    .await?;
    txn.commit().await?;
    Ok(RotatedSecret {
        account: ServiceAccount::try_from(m)?,
        secret,
        previous_valid_until,
    })
}

/// Revokes the account's live grant families (all, or those of `resource_id` holding one of
/// `scopes`) with their tokens. Returns (families, tokens) revoked.
async fn revoke_families<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    account_id: &str,
    only: Option<(&str, &[String])>,
) -> CoreResult<(u64, u64)> {
    let mut q = grant_families::Entity::find()
        .filter(grant_families::Column::TenantId.eq(tenant.to_string()))
        .filter(grant_families::Column::UserId.eq(account_id))
        .filter(grant_families::Column::Kind.eq(CredentialKind::ClientCredentials.as_str()))
        .filter(grant_families::Column::RevokedAt.is_null());
    if let Some((resource_id, _)) = only {
        q = q.filter(grant_families::Column::ResourceId.eq(resource_id));
    }
    let (mut families, mut tokens) = (0, 0);
    for fam in q.all(conn).await? {
        if let Some((_, scopes)) = only {
            let held = crate::scope::split(&fam.scopes);
            if !held.iter().any(|s| scopes.contains(s)) {
                continue;
            }
        }
        tokens += crate::token::revoke::revoke_family(conn, clock, &fam.id).await?;
        families += 1;
    }
    Ok((families, tokens))
}

/// Replaces the account's granted scopes (critical ones refused). Families carrying a scope
/// that is no longer granted are revoked at once; the account asks for a new token.
pub async fn set_grants(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    key: &str,
    asked: &[(String, Vec<String>)],
    actor: &str,
) -> CoreResult<(ServiceAccount, u64)> {
    let txn = store.begin().await?;
    let out = set_grants_in(&txn, clock, tenant, key, asked, actor).await?;
    txn.commit().await?;
    Ok(out)
}

/// [`set_grants`] inside the caller's transaction (a use case that previews or combines it).
pub async fn set_grants_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    key: &str,
    asked: &[(String, Vec<String>)],
    actor: &str,
) -> CoreResult<(ServiceAccount, u64)> {
    let m = find_for_update(txn, tenant, key).await?;
    let grants = resolve_grants(txn, asked).await?;
    let before: Grants = serde_json::from_str(&m.grants).unwrap_or_default();
    let mut revoked = 0;
    for (resource_id, scopes) in &before {
        let now_granted = grants.get(resource_id).cloned().unwrap_or_default();
        let lost: Vec<String> = scopes
            .iter()
            .filter(|s| !now_granted.contains(s))
            .cloned()
            .collect();
        if !lost.is_empty() {
            revoked += revoke_families(
                txn,
                clock,
                tenant,
                &m.id,
                Some((resource_id.as_str(), lost.as_slice())),
            )
            .await?
            .1;
        }
    }
    let version = super::next_version(&m, clock.now_us());
    let mut am: service_accounts::ActiveModel = m.into();
    am.grants = Set(grants_json(&grants));
    am.updated_at = Set(version);
    let m = am.update(txn).await?;
    audit::record(
        txn,
        clock,
        AuditEvent::new(Some(tenant), "service_account.updated")
            .actor(actor)
            .client(m.client_id.clone())
            .detail("service_account_id", m.id.as_str())
            .detail("change", "grants")
            .detail("grants", serde_json::to_value(&grants).unwrap_or_default())
            .detail("tokens_revoked", revoked),
    )
    .await?;
    Ok((ServiceAccount::try_from(m)?, revoked))
}

/// Disables (revoking every token of the account at once, on every node) or enables an
/// account. Returns the account and the number of tokens revoked.
pub async fn set_enabled(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    key: &str,
    enabled: bool,
    actor: &str,
) -> CoreResult<(ServiceAccount, u64)> {
    let txn = store.begin().await?;
    let out = set_enabled_in(&txn, clock, tenant, key, enabled, actor).await?;
    txn.commit().await?;
    Ok(out)
}

/// [`set_enabled`] inside the caller's transaction.
pub async fn set_enabled_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    key: &str,
    enabled: bool,
    actor: &str,
) -> CoreResult<(ServiceAccount, u64)> {
    let m = find_for_update(txn, tenant, key).await?;
    let now = clock.now_us();
    let (action, revoked) = if enabled {
        ("service_account.enabled", 0)
    } else {
        let (_, n) = revoke_families(txn, clock, tenant, &m.id, None).await?;
        ("service_account.disabled", n)
    };
    let mut am: service_accounts::ActiveModel = m.clone().into();
    am.disabled_at = Set(if enabled {
        None
    } else {
        Some(m.disabled_at.unwrap_or(now))
    });
    am.updated_at = Set(super::next_version(&m, now));
    let m = am.update(txn).await?;
    audit::record(
        txn,
        clock,
        AuditEvent::new(Some(tenant), action)
            .actor(actor)
            .client(m.client_id.clone())
            .detail("service_account_id", m.id.as_str())
            .detail("tokens_revoked", revoked),
    )
    .await?;
    Ok((ServiceAccount::try_from(m)?, revoked))
}

/// Removes an account, revoking its tokens first. Its audit trail stays.
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    key: &str,
    actor: &str,
) -> CoreResult<u64> {
    let txn = store.begin().await?;
    let r = remove_in(&txn, clock, tenant, key, actor).await?;
    txn.commit().await?;
    Ok(r.tokens)
}

/// What [`remove_in`] ended.
pub struct Removed {
    pub account: ServiceAccount,
    /// Grant families revoked (each with its tokens).
    pub families: u64,
    pub tokens: u64,
}

/// [`remove`] inside the caller's transaction (a preview rolls it back).
pub async fn remove_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    key: &str,
    actor: &str,
) -> CoreResult<Removed> {
    let m = find_for_update(txn, tenant, key).await?;
    let (families, tokens) = revoke_families(txn, clock, tenant, &m.id, None).await?;
    service_accounts::Entity::delete_by_id(m.id.clone())
        .exec(txn)
        .await?;
    audit::record(
        txn,
        clock,
        AuditEvent::new(Some(tenant), "service_account.removed")
            .actor(actor)
            .client(m.client_id.clone())
            .detail("service_account_id", m.id.as_str())
            .detail("name", m.name.as_str())
            .detail("tokens_revoked", tokens),
    )
    .await?;
    Ok(Removed {
        account: ServiceAccount::try_from(m)?,
        families,
        tokens,
    })
}

/// Renames an account inside the caller's transaction (names are unique in a tenant: they are
/// how people find an account). Tokens are unaffected: the client id does not change.
pub async fn rename_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    key: &str,
    name: &str,
    actor: &str,
) -> CoreResult<ServiceAccount> {
    let name = super::check_name(name)?;
    let m = find(txn, tenant, key).await?;
    if m.name == name {
        return ServiceAccount::try_from(m);
    }
    let taken = service_accounts::Entity::find()
        .filter(service_accounts::Column::TenantId.eq(tenant.to_string()))
        .filter(service_accounts::Column::Name.eq(name))
        .one(txn)
        .await?;
    if taken.is_some() {
        return Err(CoreError::Conflict(format!(
            "a service account named '{name}' already exists"
        )));
    }
    let before = m.name.clone();
    let version = super::next_version(&m, clock.now_us());
    let mut am: service_accounts::ActiveModel = m.into();
    am.name = Set(name.to_string());
    am.updated_at = Set(version);
    let m = am.update(txn).await?;
    audit::record(
        txn,
        clock,
        AuditEvent::new(Some(tenant), "service_account.updated")
            .actor(actor)
            .client(m.client_id.clone())
            .detail("service_account_id", m.id.as_str())
            .detail("change", "name")
            .detail("previous_name", before)
            .detail("name", m.name.as_str()),
    )
    .await?;
    ServiceAccount::try_from(m)
}
