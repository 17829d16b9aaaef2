//! A tenant's explicit administrators (an accepted invitation or the operator's grant), as the
//! three surfaces list, show, change and remove them. There is one administrator role, so what
//! an update changes is the administrator's part in the tenant's security alerts (reuse of a
//! refresh token, a replayed assertion, …): on, their email is one of the tenant's alert
//! recipients; off, it is not. Removing one ends their signed-in sessions in the
//! tenant at once, and the last administrator cannot be removed (nobody but the operator could
//! manage the tenant after). Admins through the tenant's admin group come and go with the
//! group, in the IdP.
use authz_core::admin::role::{self, ExplicitAdmin};
use authz_core::clock::Clock;
use authz_core::mail::alert_recipients;
use authz_core::{CoreError, CoreResult, Store, TenantId};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
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
    /// Whether their email receives the tenant's security alerts.
    pub security_alerts: bool,
}

/// What an update of an administrator changes.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminChange {
    /// Add (`true`) or remove (`false`) their email from the tenant's alert recipients.
    pub security_alerts: Option<bool>,
}

/// The view of `a`; `recipients` are the tenant's alert recipients, read once by the caller (a
/// list reads them once, not once per administrator).
async fn view<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    a: ExplicitAdmin,
    recipients: &[String],
) -> CoreResult<AdminView> {
    let u = authz_core::user::get(conn, tenant, &a.user_id).await.ok();
    let email = u.as_ref().and_then(|u| u.email.as_deref());
    let security_alerts =
        email.is_some_and(|e| recipients.iter().any(|r| r.eq_ignore_ascii_case(e)));
    Ok(AdminView {
        security_alerts,
        email: u.as_ref().and_then(|u| u.email.clone()),
        name: u.and_then(|u| u.name),
        user_id: a.user_id,
        granted_via: a.granted_via,
        since: time(a.created_at),
    })
}

pub async fn list<C: ConnectionTrait>(conn: &C, tenant: &TenantId) -> CoreResult<Vec<AdminView>> {
    let recipients = alert_recipients(conn, tenant).await?;
    let mut out = Vec::new();
    for a in role::list(conn, tenant).await? {
        out.push(view(conn, tenant, a, &recipients).await?);
    }
    Ok(out)
}

pub async fn show<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    user_id: &str,
) -> CoreResult<AdminView> {
    let a = role::get(conn, tenant, user_id).await?;
    view(conn, tenant, a, &alert_recipients(conn, tenant).await?).await
}

/// Changes an administrator (see the module documentation), audited with the recipients.
pub async fn update(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    user_id: &str,
    change: &AdminChange,
    actor: &str,
) -> CoreResult<AdminView> {
    let txn = store.begin().await?;
    let a = role::get(&txn, tenant, user_id).await?;
    if let Some(on) = change.security_alerts {
        let u = authz_core::user::get(&txn, tenant, user_id).await?;
        let Some(email) = u.email.map(|e| e.to_lowercase()) else {
            return Err(CoreError::invalid(
                "this administrator has no email address to send alerts to",
            ));
        };
        let mut list = alert_recipients(&txn, tenant).await?;
        list.retain(|r| !r.eq_ignore_ascii_case(&email));
        if on {
            list.push(email);
        }
        authz_core::mail::set_alert_recipients_in(&txn, clock, tenant, &list, actor).await?;
    }
    let v = view(&txn, tenant, a, &alert_recipients(&txn, tenant).await?).await?;
    txn.commit().await?;
    Ok(v)
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
    let removed = view(&txn, tenant, a, &alert_recipients(&txn, tenant).await?).await?;
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
