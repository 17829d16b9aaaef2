//! The operator's tenants (issue 16 §2): show, change, remove. Every surface (the CLI, the admin
//! API, the operator console) shows the same [`TenantView`] and calls these use cases; only an
//! [`Operator`] may, since a tenant admin never sees another tenant.
use authz_core::clock::Clock;
use authz_core::{CoreError, CoreResult, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::principal::Operator;
use crate::removal::{Impact, Removed};

/// A tenant as every surface shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantView {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// Its email domains, verified or not.
    pub domains: Vec<String>,
    /// `jit` or `scim`.
    pub provisioning: String,
    /// Who receives its security alerts.
    pub alert_recipients: Vec<String>,
    /// Suspended by the operator (incident response).
    pub suspended: bool,
}

/// Every tenant, by slug.
pub async fn list(store: &Store, _op: &Operator) -> CoreResult<Vec<TenantView>> {
    let mut out = Vec::new();
    for t in authz_core::tenant::list(&store.db).await? {
        out.push(view(store, t).await?);
    }
    Ok(out)
}

/// One tenant by slug.
pub async fn show(store: &Store, _op: &Operator, slug: &str) -> CoreResult<TenantView> {
    let t = authz_core::tenant::find_by_slug(&store.db, slug).await?;
    view(store, t).await
}

async fn view(store: &Store, t: authz_core::tenant::Tenant) -> CoreResult<TenantView> {
    let db = &store.db;
    let domains = authz_core::admin::domain::list(db, &t.id)
        .await?
        .into_iter()
        .map(|d| d.domain)
        .collect();
    Ok(TenantView {
        id: t.id.to_string(),
        provisioning: authz_core::directory::policy::get(db, &t.id)
            .await?
            .as_str()
            .into(),
        alert_recipients: authz_core::mail::alert_recipients(db, &t.id).await?,
        suspended: authz_core::incident::is_suspended(db, &t.id).await?,
        domains,
        slug: t.slug,
        name: t.name,
    })
}

/// What the operator may change on a tenant; absent fields stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantChange {
    /// The display name (the slug is the tenant's URL and does not change).
    pub name: Option<String>,
    /// `jit` or `scim`.
    pub provisioning: Option<String>,
    /// Replaces the security-alert recipients (an empty list: no alerts).
    pub alert_recipients: Option<Vec<String>>,
}

/// Applies `change`, each part audited on the tenant's chain by the core; returns the tenant
/// as it now is. The provisioning policy is parsed before anything is written.
pub async fn update(
    store: &Store,
    clock: &dyn Clock,
    op: &Operator,
    slug: &str,
    change: TenantChange,
) -> CoreResult<TenantView> {
    let t = authz_core::tenant::find_by_slug(&store.db, slug).await?;
    let provisioning = change
        .provisioning
        .as_deref()
        .map(authz_core::directory::Provisioning::parse)
        .transpose()?;
    if change.name.is_none() && provisioning.is_none() && change.alert_recipients.is_none() {
        return Err(CoreError::invalid(
            "nothing to change: give name, provisioning or alert_recipients",
        ));
    }
    let actor = op.actor();
    if let Some(name) = &change.name {
        authz_core::tenant::rename(store, clock, &t.id, name, actor).await?;
    }
    if let Some(p) = provisioning {
        authz_core::directory::policy::set(store, clock, &t.id, p, actor).await?;
    }
    if let Some(r) = &change.alert_recipients {
        authz_core::mail::set_alert_recipients(store, clock, &t.id, r, actor).await?;
    }
    show(store, op, slug).await
}

/// Removes the tenant (ADR 0021), or previews what that ends.
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    op: &Operator,
    slug: &str,
    dry_run: bool,
) -> CoreResult<Removed<TenantView>> {
    let before = show(store, op, slug).await?;
    let counts =
        authz_core::removal::tenant::remove(store, clock, slug, op.actor(), dry_run).await?;
    Ok(Removed {
        removed: before,
        revoked: Impact::from(counts),
    })
}
