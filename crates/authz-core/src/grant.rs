//! Org grants: which scopes of a resource a tenant's admin allows its members to consent to.
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::org_grants;
use crate::error::{CoreError, CoreResult};
use crate::resource::{self, Resource};
use crate::scope::Tier;
use crate::tenant::TenantId;

/// Grant key meaning "every member of the tenant".
pub const EVERYONE: &str = "*";

/// Grants `scopes` of `resource` to every member of the tenant. Critical-tier scopes are not
/// granted to everyone by default (DESIGN §5): see [`add_for_everyone_confirmed`].
pub async fn add_for_everyone(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    res: &Resource,
    scopes: &[String],
) -> CoreResult<Vec<String>> {
    add_for_everyone_confirmed(store, clock, tenant, res, scopes, false).await
}

/// As [`add_for_everyone`]; with `allow_critical` the operator confirmed that critical-tier
/// scopes go to every member (each use still needs a fresh IdP sign-in: step-up).
pub async fn add_for_everyone_confirmed(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    res: &Resource,
    scopes: &[String],
    allow_critical: bool,
) -> CoreResult<Vec<String>> {
    if scopes.is_empty() {
        return Err(CoreError::invalid("no scopes given"));
    }
    let catalogue = resource::catalogue(&store.db, &res.id).await?;
    for s in scopes {
        let Some(entry) = catalogue.iter().find(|c| &c.name == s) else {
            return Err(CoreError::invalid(format!(
                "scope '{s}' is not in the catalogue of {}",
                res.uri
            )));
        };
        if entry.tier == Tier::Critical && !allow_critical {
            return Err(CoreError::invalid(format!(
                "scope '{s}' is critical-tier: granting it to every member needs explicit confirmation (--allow-critical)"
            )));
        }
    }
    let txn = store.begin().await?;
    let existing = granted_scopes(&txn, tenant, &res.id).await?;
    let mut added = Vec::new();
    for s in scopes {
        if existing.contains(s) || added.contains(s) {
            continue;
        }
        org_grants::Entity::insert(org_grants::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            tenant_id: Set(tenant.0.clone()),
            resource_id: Set(res.id.clone()),
            scope: Set(s.clone()),
            group_key: Set(EVERYONE.to_string()),
            created_at: Set(clock.now_us()),
        })
        .exec_without_returning(&txn)
        .await?;
        added.push(s.clone());
    }
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "grant.added")
            .actor("operator")
            .resource(res.uri.clone())
            .scope(added.join(" "))
            .detail("to", "everyone")
            .detail("critical_confirmed", allow_critical),
    )
    .await?;
    txn.commit().await?;
    Ok(added)
}

/// The scopes of a resource granted to every member of the tenant.
pub async fn granted_scopes<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    resource_id: &str,
) -> CoreResult<Vec<String>> {
    Ok(org_grants::Entity::find()
        .filter(org_grants::Column::TenantId.eq(tenant.0.clone()))
        .filter(org_grants::Column::ResourceId.eq(resource_id))
        .filter(org_grants::Column::GroupKey.eq(EVERYONE))
        .all(conn)
        .await?
        .into_iter()
        .map(|g| g.scope)
        .collect())
}
