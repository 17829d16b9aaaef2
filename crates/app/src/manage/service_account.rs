//! A tenant's service accounts (issue 14 §3), as the three surfaces list, show, change and
//! remove them. Creation, secret rotation and key replacement stay in
//! `authz_core::service_account`; a change here (name, granted scopes, on/off) runs in one
//! transaction, and narrowing the scopes or disabling revokes the tokens at once.
use authz_core::clock::Clock;
use authz_core::service_account::{self as sa, ServiceAccount};
use authz_core::{CoreResult, Store, TenantId};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;

use super::{finish, time, Impact, Removed};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceAccountView {
    pub id: String,
    pub name: String,
    /// The `client_id` it authenticates with at the token endpoint.
    pub client_id: String,
    /// `client_secret_basic` (also accepted as `client_secret_post`) or `private_key_jwt`.
    pub auth_method: String,
    /// Granted scopes by resource id.
    #[schema(value_type = Object)]
    pub grants: serde_json::Value,
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    pub jwks_uri: Option<String>,
    pub enabled: bool,
    /// Until when the secret replaced by the last rotation still works.
    pub previous_secret_valid_until: Option<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl From<ServiceAccount> for ServiceAccountView {
    fn from(a: ServiceAccount) -> Self {
        ServiceAccountView {
            enabled: a.enabled(),
            auth_method: a.method.as_str().to_string(),
            grants: serde_json::to_value(&a.grants).unwrap_or_default(),
            previous_secret_valid_until: a.previous_secret_until.map(time),
            created_at: time(a.created_at),
            last_used_at: a.last_used_at.map(time),
            id: a.id,
            name: a.name,
            client_id: a.client_id,
            jwks: a.jwks,
            jwks_uri: a.jwks_uri,
        }
    }
}

pub async fn list<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
) -> CoreResult<Vec<ServiceAccountView>> {
    Ok(sa::list(conn, tenant)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

pub async fn show<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    key: &str,
) -> CoreResult<ServiceAccountView> {
    Ok(sa::get(conn, tenant, key).await?.into())
}

/// What may change on an account: any of its name, granted scopes (replaced as a whole:
/// `[(resource URI or id, scopes)]`) and state.
#[derive(Debug, Default)]
pub struct ServiceAccountChange {
    pub name: Option<String>,
    pub grants: Option<Vec<(String, Vec<String>)>>,
    pub enabled: Option<bool>,
}

/// The account after the change, and the tokens the change revoked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UpdatedServiceAccount {
    #[serde(flatten)]
    pub account: ServiceAccountView,
    /// Tokens revoked by the change (a scope no longer granted, or the account disabled).
    pub tokens_revoked: u64,
}

pub async fn update(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    key: &str,
    change: &ServiceAccountChange,
    actor: &str,
) -> CoreResult<UpdatedServiceAccount> {
    let txn = store.begin().await?;
    let mut a = sa::get(&txn, tenant, key).await?;
    let mut revoked = 0;
    if let Some(name) = &change.name {
        a = sa::rename_in(&txn, clock, tenant, &a.id, name, actor).await?;
    }
    if let Some(g) = &change.grants {
        let (b, n) = sa::set_grants_in(&txn, clock, tenant, &a.id, g, actor).await?;
        a = b;
        revoked += n;
    }
    if let Some(on) = change.enabled {
        if on != a.enabled() {
            let (b, n) = sa::set_enabled_in(&txn, clock, tenant, &a.id, on, actor).await?;
            a = b;
            revoked += n;
        }
    }
    txn.commit().await?;
    Ok(UpdatedServiceAccount {
        account: a.into(),
        tokens_revoked: revoked,
    })
}

/// Removes the account and revokes its tokens at once (`dry_run`: only says what it would
/// end). Its audit trail stays.
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    key: &str,
    actor: &str,
    dry_run: bool,
) -> CoreResult<Removed<ServiceAccountView>> {
    let txn = store.begin().await?;
    let r = sa::remove_in(&txn, clock, tenant, key, actor).await?;
    finish(txn, dry_run).await?;
    Ok(Removed {
        removed: r.account.into(),
        revoked: Impact {
            grants: r.families,
            credentials: 1,
            ..Impact::default()
        },
    })
}
