//! A tenant's SCIM tokens (the IdP's provisioning credential): show, rename, remove. Removing
//! a live token stops the IdP's provisioning until it is given a new one, which the removal's
//! impact says. Rotation (a successor with an overlap) is its own operation.
use authz_core::clock::Clock;
use authz_core::scim_token::{self, ScimToken};
use authz_core::{CoreResult, Store, TenantId};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{finish, time, Impact, Removed};

/// A SCIM token as every surface shows it (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScimTokenView {
    pub id: String,
    /// Which IdP or job holds it.
    pub name: String,
    pub created_at: String,
    pub expires_at: String,
    pub revoked: bool,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    pub last_used_at: Option<String>,
}

impl ScimTokenView {
    pub fn new(t: &ScimToken, now_us: i64) -> Self {
        let status = if t.revoked_at.is_some() {
            "revoked"
        } else if t.expires_at <= now_us {
            "expired"
        } else {
            "active"
        };
        ScimTokenView {
            id: t.id.clone(),
            name: t.name.clone(),
            created_at: time(t.created_at),
            expires_at: time(t.expires_at),
            revoked: t.revoked_at.is_some(),
            status: status.into(),
            last_used_at: t.last_used_at.map(time),
        }
    }
}

pub async fn list<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
) -> CoreResult<Vec<ScimTokenView>> {
    let now = clock.now_us();
    Ok(scim_token::list(conn, tenant)
        .await?
        .iter()
        .map(|t| ScimTokenView::new(t, now))
        .collect())
}

pub async fn show<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
) -> CoreResult<ScimTokenView> {
    let t = scim_token::get(conn, tenant, id).await?;
    Ok(ScimTokenView::new(&t, clock.now_us()))
}

/// What may change on a token: its name.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScimTokenChange {
    pub name: Option<String>,
}

pub async fn update(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    change: &ScimTokenChange,
    actor: &str,
) -> CoreResult<ScimTokenView> {
    let txn = store.begin().await?;
    let mut t = scim_token::get(&txn, tenant, id).await?;
    if let Some(name) = &change.name {
        t = scim_token::rename_in(&txn, clock, tenant, id, name, actor).await?;
    }
    txn.commit().await?;
    Ok(ScimTokenView::new(&t, clock.now_us()))
}

/// Revokes the token at once (`dry_run`: only says what it would stop).
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    actor: &str,
    dry_run: bool,
) -> CoreResult<Removed<ScimTokenView>> {
    let txn = store.begin().await?;
    let (t, live) = scim_token::revoke_in(&txn, clock, tenant, id, actor).await?;
    finish(txn, dry_run).await?;
    let mut view = ScimTokenView::new(&t, clock.now_us());
    if !dry_run {
        view.revoked = true;
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
