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
    add(
        store,
        clock,
        tenant,
        res,
        scopes,
        None,
        allow_critical,
        "operator",
    )
    .await
}

/// Grants `scopes` of `resource` to the members of a SCIM group of the tenant (`group`), or
/// to everyone (`None`). Critical-tier scopes need `allow_critical` either way.
// Eight arguments: the store, the clock, the tenant and the actor every write takes, and the
// four parts of the grant itself.
#[allow(clippy::too_many_arguments)]
pub async fn add(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    res: &Resource,
    scopes: &[String],
    group: Option<&str>,
    allow_critical: bool,
    actor: &str,
) -> CoreResult<Vec<String>> {
    let txn = store.begin().await?;
    let added = add_in(
        &txn,
        clock,
        tenant,
        res,
        scopes,
        group,
        allow_critical,
        actor,
    )
    .await?;
    txn.commit().await?;
    Ok(added)
}

/// [`add`] inside the caller's transaction (changing a grant's scopes adds and removes in one).
#[allow(clippy::too_many_arguments)]
pub async fn add_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    res: &Resource,
    scopes: &[String],
    group: Option<&str>,
    allow_critical: bool,
    actor: &str,
) -> CoreResult<Vec<String>> {
    if scopes.is_empty() {
        return Err(CoreError::invalid("no scopes given"));
    }
    let to_whom = match group {
        Some(_) => "the members of a group",
        None => "every member",
    };
    let catalogue = resource::catalogue(txn, &res.id).await?;
    for s in scopes {
        let Some(entry) = catalogue.iter().find(|c| &c.name == s) else {
            return Err(CoreError::invalid(format!(
                "scope '{s}' is not in the catalogue of {}",
                res.uri
            )));
        };
        if entry.tier == Tier::Critical && !allow_critical {
            return Err(CoreError::invalid(format!(
                "scope '{s}' is critical-tier: granting it to {to_whom} needs explicit confirmation (--allow-critical)"
            )));
        }
    }
    let key = match group {
        Some(g) => crate::directory::groups::get(txn, tenant, g).await?.id,
        None => EVERYONE.to_string(),
    };
    let existing: Vec<String> = org_grants::Entity::find()
        .filter(org_grants::Column::TenantId.eq(tenant.to_string()))
        .filter(org_grants::Column::ResourceId.eq(res.id.clone()))
        .filter(org_grants::Column::GroupKey.eq(key.clone()))
        .all(txn)
        .await?
        .into_iter()
        .map(|g| g.scope)
        .collect();
    let mut added = Vec::new();
    for s in scopes {
        if existing.contains(s) || added.contains(s) {
            continue;
        }
        org_grants::Entity::insert(org_grants::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            tenant_id: Set(tenant.to_string()),
            resource_id: Set(res.id.clone()),
            scope: Set(s.clone()),
            group_key: Set(key.clone()),
            created_at: Set(clock.now_us()),
        })
        .exec_without_returning(txn)
        .await?;
        added.push(s.clone());
    }
    let critical: Vec<String> = added
        .iter()
        .filter(|s| {
            catalogue
                .iter()
                .any(|c| &c.name == *s && c.tier == Tier::Critical)
        })
        .cloned()
        .collect();
    if !critical.is_empty() {
        let to = group
            .map(|g| format!("the members of group {g}"))
            .unwrap_or_else(|| "every member".into());
        crate::mail::alert(
            txn,
            clock,
            tenant,
            "alert.critical_scope_granted",
            "Critical permission granted",
            "grant.added",
            &[
                ("Resource", res.uri.clone()),
                ("Scopes", critical.join(" ")),
                ("Granted to", to),
                ("By", actor.to_string()),
                (
                    "What it means",
                    "every use of a critical scope still needs a fresh sign-in at your identity provider".into(),
                ),
            ],
        )
        .await?;
    }
    audit::record(
        txn,
        clock,
        AuditEvent::new(Some(tenant), "grant.added")
            .actor(actor)
            .resource(res.uri.clone())
            .scope(added.join(" "))
            .detail("to", if group.is_some() { "group" } else { "everyone" })
            .detail("scim_group_id", group.map(str::to_string))
            .detail("critical_confirmed", allow_critical),
    )
    .await?;
    Ok(added)
}

/// The scopes of a resource granted to every member of the tenant.
pub async fn granted_scopes<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    resource_id: &str,
) -> CoreResult<Vec<String>> {
    Ok(org_grants::Entity::find()
        .filter(org_grants::Column::TenantId.eq(tenant.to_string()))
        .filter(org_grants::Column::ResourceId.eq(resource_id))
        .filter(org_grants::Column::GroupKey.eq(EVERYONE))
        .all(conn)
        .await?
        .into_iter()
        .map(|g| g.scope)
        .collect())
}

/// The scopes of a resource granted to this user: those granted to everyone, and those granted
/// to a SCIM group the user's identity is linked into.
pub async fn granted_to_user<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    resource_id: &str,
    user_id: &str,
) -> CoreResult<Vec<String>> {
    use crate::entities::{scim_group_members, users};
    use sea_orm::{JoinType, QuerySelect, QueryTrait, RelationTrait};
    // The groups the identity's SCIM user is a member of.
    let groups = scim_group_members::Entity::find()
        .select_only()
        .column(scim_group_members::Column::GroupId)
        .join(
            JoinType::InnerJoin,
            scim_group_members::Relation::Identity.def(),
        )
        .filter(users::Column::Id.eq(user_id))
        .filter(users::Column::TenantId.eq(tenant.to_string()))
        .into_query();
    Ok(org_grants::Entity::find()
        .select_only()
        .distinct()
        .column(org_grants::Column::Scope)
        .filter(org_grants::Column::TenantId.eq(tenant.to_string()))
        .filter(org_grants::Column::ResourceId.eq(resource_id))
        .filter(
            sea_orm::Condition::any()
                .add(org_grants::Column::GroupKey.eq(EVERYONE))
                .add(org_grants::Column::GroupKey.in_subquery(groups)),
        )
        .into_tuple()
        .all(conn)
        .await?)
}

/// [`granted_to_user`]'s rule as an SQL expression: the granted scopes, space-separated (NULL:
/// none), for the user, tenant and resource of the row `alias` (columns `user_id`, `tenant_id`,
/// `resource_id`), with `everyone` the placeholder bound to [`EVERYONE`]. For the grouped reads
/// of the grants (ADR 0025); keep it in step with [`granted_to_user`].
pub(crate) fn granted_sql(alias: &str, everyone: &str) -> String {
    format!(
        "(SELECT string_agg(DISTINCT og.scope, ' ') FROM org_grants og \
         WHERE og.tenant_id = {alias}.tenant_id AND og.resource_id = {alias}.resource_id \
         AND (og.group_key = {everyone} OR og.group_key IN (SELECT m.group_id \
           FROM scim_group_members m JOIN users pu ON pu.scim_user_id = m.member_id \
           WHERE pu.id = {alias}.user_id AND pu.tenant_id = {alias}.tenant_id)))"
    )
}

/// The scopes of [`granted_sql`]'s answer.
pub(crate) fn granted_of(listed: Option<String>) -> Vec<String> {
    listed
        .map(|g| g.split(' ').map(str::to_string).collect())
        .unwrap_or_default()
}

/// One org grant, for the admin's list.
#[derive(Clone, Debug)]
pub struct Grant {
    pub resource_id: String,
    pub resource_uri: String,
    pub scope: String,
    /// `None`: every member; else the SCIM group's id.
    pub group: Option<String>,
    pub created_at: i64,
}

/// The tenant's org grants, by resource and scope.
pub async fn list<C: ConnectionTrait>(conn: &C, tenant: &TenantId) -> CoreResult<Vec<Grant>> {
    use sea_orm::QueryOrder;
    let rows = org_grants::Entity::find()
        .filter(org_grants::Column::TenantId.eq(tenant.to_string()))
        .order_by_asc(org_grants::Column::ResourceId)
        .order_by_asc(org_grants::Column::Scope)
        .all(conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for g in rows {
        let res = resource::get(conn, &g.resource_id).await?;
        out.push(Grant {
            resource_id: g.resource_id,
            resource_uri: res.uri,
            scope: g.scope,
            group: (g.group_key != EVERYONE).then_some(g.group_key),
            created_at: g.created_at,
        });
    }
    Ok(out)
}

/// Withdraws org grants of `scopes` of `resource_id` from everyone (`group: None`) or a SCIM
/// group, audited; every live grant family in the tenant that holds a scope its user is no
/// longer granted is revoked with its tokens, in the same transaction (DESIGN §5).
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    resource_id: &str,
    scopes: &[String],
    group: Option<&str>,
    actor: &str,
) -> CoreResult<u64> {
    let txn = store.begin().await?;
    let revoked = remove_in(&txn, clock, tenant, resource_id, scopes, group, actor).await?;
    txn.commit().await?;
    Ok(revoked)
}

/// [`remove`] inside the caller's transaction (a use case previews it by rolling back, so the
/// preview counts exactly what a removal revokes). Returns the grant families revoked.
pub async fn remove_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    resource_id: &str,
    scopes: &[String],
    group: Option<&str>,
    actor: &str,
) -> CoreResult<u64> {
    use crate::entities::grant_families;
    let key = group.unwrap_or(EVERYONE).to_string();
    let deleted = org_grants::Entity::delete_many()
        .filter(org_grants::Column::TenantId.eq(tenant.to_string()))
        .filter(org_grants::Column::ResourceId.eq(resource_id))
        .filter(org_grants::Column::GroupKey.eq(key.clone()))
        .filter(org_grants::Column::Scope.is_in(scopes.iter().cloned()))
        .exec(txn)
        .await?
        .rows_affected;
    if deleted == 0 {
        return Err(CoreError::NotFound("grant"));
    }
    audit::record(
        txn,
        clock,
        AuditEvent::new(Some(tenant), "org_grant.removed")
            .actor(actor)
            .resource(resource_id.to_string())
            .scope(scopes.join(" "))
            .detail("group", group.map(str::to_string)),
    )
    .await?;
    let families = grant_families::Entity::find()
        .filter(grant_families::Column::TenantId.eq(tenant.to_string()))
        .filter(grant_families::Column::ResourceId.eq(resource_id))
        .filter(grant_families::Column::RevokedAt.is_null())
        // A service account's scopes come from the account, not from org grants (issue 14 §3).
        .filter(
            grant_families::Column::Kind
                .ne(crate::token::CredentialKind::ClientCredentials.as_str()),
        )
        .all(txn)
        .await?;
    let mut revoked = 0;
    for fam in families {
        let held = crate::scope::split(&fam.scopes);
        if !held.iter().any(|s| scopes.contains(s)) {
            continue;
        }
        let granted = granted_to_user(txn, tenant, resource_id, &fam.user_id).await?;
        let lost: Vec<String> = held
            .into_iter()
            .filter(|s| s != crate::scope::OFFLINE_ACCESS && !granted.contains(s))
            .collect();
        if lost.is_empty() {
            continue;
        }
        let n = crate::token::revoke::revoke_family(txn, clock, &fam.id).await?;
        revoked += 1;
        audit::record(
            txn,
            clock,
            AuditEvent::new(Some(tenant), "grant.revoked")
                .actor(actor)
                .user(fam.user_id.clone())
                .client(fam.client_id.clone())
                .scope(fam.scopes.clone())
                .detail("reason", "org_grant_removed")
                .detail("scopes_no_longer_granted", lost)
                .detail("tokens_revoked", n),
        )
        .await?;
    }
    Ok(revoked)
}
