//! A tenant's explicit administrators (an accepted invitation or the operator's grant), as the
//! three surfaces list, show and remove them. Removing one ends their signed-in sessions in the
//! tenant at once, and the last administrator cannot be removed (nobody but the operator could
//! manage the tenant after). Admins through the tenant's admin group come and go with the
//! group, in the IdP.
use authz_core::admin::role::{self, ExplicitAdmin};
use authz_core::clock::Clock;
use authz_core::{CoreResult, Store, TenantId};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;

use super::{finish, time, Impact, Removed};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminView {
    pub user_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// How they became one: `invitation` or `operator`.
    pub granted_via: String,
    pub since: String,
}

async fn view<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    a: ExplicitAdmin,
) -> CoreResult<AdminView> {
    let u = authz_core::user::get(conn, tenant, &a.user_id).await.ok();
    Ok(AdminView {
        email: u.as_ref().and_then(|u| u.email.clone()),
        name: u.and_then(|u| u.name),
        user_id: a.user_id,
        granted_via: a.granted_via,
        since: time(a.created_at),
    })
}

pub async fn list<C: ConnectionTrait>(conn: &C, tenant: &TenantId) -> CoreResult<Vec<AdminView>> {
    let mut out = Vec::new();
    for a in role::list(conn, tenant).await? {
        out.push(view(conn, tenant, a).await?);
    }
    Ok(out)
}

pub async fn show<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    user_id: &str,
) -> CoreResult<AdminView> {
    let a = role::get(conn, tenant, user_id).await?;
    view(conn, tenant, a).await
}

/// Removes the administrator and ends their sessions (`dry_run`: only says what it would end).
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    user_id: &str,
    actor: &str,
    dry_run: bool,
) -> CoreResult<Removed<AdminView>> {
    let txn = store.begin().await?;
    let (a, sessions) = role::remove_in(&txn, clock, tenant, user_id, actor).await?;
    let removed = view(&txn, tenant, a).await?;
    finish(txn, dry_run).await?;
    Ok(Removed {
        removed,
        revoked: Impact {
            sessions,
            users: 1,
            ..Impact::default()
        },
    })
}
