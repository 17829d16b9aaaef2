//! A tenant's admin API keys (`ghadm_…`, for scripts that call the admin API): show, rename,
//! remove. Removing revokes the key at once; its row stays so the audit log can name it.
use authz_core::api_key::{self, ApiKey};
use authz_core::clock::Clock;
use authz_core::{CoreResult, Store, TenantId};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{finish, time, Impact, Removed};

/// An admin key as every surface shows it (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminKeyView {
    pub id: String,
    /// Who holds it.
    pub name: String,
    pub created_at: String,
    pub expires_at: String,
    /// `active`, `expired` or `revoked`.
    pub status: String,
}

impl AdminKeyView {
    pub fn new(k: &ApiKey, now_us: i64) -> Self {
        let status = if k.revoked_at.is_some() {
            "revoked"
        } else if k.expires_at <= now_us {
            "expired"
        } else {
            "active"
        };
        AdminKeyView {
            id: k.id.clone(),
            name: k.name.clone(),
            created_at: time(k.created_at),
            expires_at: time(k.expires_at),
            status: status.into(),
        }
    }
}

pub async fn list<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
) -> CoreResult<Vec<AdminKeyView>> {
    let now = clock.now_us();
    Ok(api_key::list(conn, Some(tenant))
        .await?
        .iter()
        .map(|k| AdminKeyView::new(k, now))
        .collect())
}

pub async fn show<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
) -> CoreResult<AdminKeyView> {
    let k = api_key::get(conn, Some(tenant), id).await?;
    Ok(AdminKeyView::new(&k, clock.now_us()))
}

/// What may change on a key: its name.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminKeyChange {
    pub name: Option<String>,
}

pub async fn update(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    change: &AdminKeyChange,
    actor: &str,
) -> CoreResult<AdminKeyView> {
    let txn = store.begin().await?;
    let mut k = api_key::get(&txn, Some(tenant), id).await?;
    if let Some(name) = &change.name {
        k = api_key::rename_in(&txn, clock, Some(tenant), id, name, actor).await?;
    }
    txn.commit().await?;
    Ok(AdminKeyView::new(&k, clock.now_us()))
}

/// Revokes the key at once (`dry_run`: only says what it would stop).
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    actor: &str,
    dry_run: bool,
) -> CoreResult<Removed<AdminKeyView>> {
    let txn = store.begin().await?;
    let (k, live) = api_key::revoke_in(&txn, clock, Some(tenant), id, actor).await?;
    finish(txn, dry_run).await?;
    let mut view = AdminKeyView::new(&k, clock.now_us());
    if !dry_run {
        view.status = "revoked".into();
    }
    Ok(Removed {
        removed: view,
        revoked: Impact {
            credentials: live as u64,
            ..Impact::default()
        },
    })
}
