//! SCIM groups (RFC 7643 §4.2) in `scim_groups`, members in `scim_group_members`.
//!
//! Membership changes are set operations — `INSERT … ON CONFLICT DO NOTHING` for additions,
//! `DELETE … WHERE member_id IN (…)` for removals — and only bump the group's version, so
//! concurrent PATCHes of one group (Entra ID sends them in parallel) lose no member.
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait,
};
use serde_json::Value;

use super::users::{existing_ids, list_in};
use super::{fold, lifecycle, Actor, GroupFields, ListQuery, Page};
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::is_unique_violation;
use crate::entities::{org_grants, scim_group_members as memberships, scim_groups, scim_users};
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

/// Rows per INSERT of members (two bound values each, far below both backends' limits).
const CHUNK: usize = 1000;

pub const SORTABLE: &[&str] = &[
    "display_name_lower",
    "external_id",
    "created_at",
    "updated_at",
    "id",
];

#[derive(Clone, Debug)]
pub struct DirGroup {
    pub id: String,
    pub tenant: TenantId,
    pub display_name: String,
    pub external_id: Option<String>,
    /// The representation without `id`, `meta` and `members`.
    pub resource: Value,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A member as a group lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub display: String,
}

/// Changes to a group's membership, as the PATCH engine reports them.
#[derive(Clone, Debug, Default)]
pub struct MembershipChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// The whole new member list (PUT, or PATCH replace of `members`).
    pub replaced: Option<Vec<String>>,
    /// Display names the IdP sent with members it added, by member id.
    pub display: std::collections::HashMap<String, String>,
}

impl MembershipChange {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.replaced.is_none()
    }
}

impl TryFrom<scim_groups::Model> for DirGroup {
    type Error = CoreError;
    fn try_from(m: scim_groups::Model) -> CoreResult<DirGroup> {
        Ok(DirGroup {
            resource: serde_json::from_str(&m.resource)
                .map_err(|e| CoreError::Config(format!("stored SCIM group is not JSON: {e}")))?,
            id: m.id,
            tenant: TenantId::from_stored(m.tenant_id),
            display_name: m.display_name,
            external_id: m.external_id,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

fn of_tenant(tenant: &TenantId) -> sea_orm::Select<scim_groups::Entity> {
    scim_groups::Entity::find().filter(scim_groups::Column::TenantId.eq(tenant.to_string()))
}

fn taken(name: &str) -> CoreError {
    CoreError::conflict(format!(
        "a group named '{name}' already exists in this tenant"
    ))
}

/// Refuses member ids that are not users of this tenant (another tenant's ids included).
async fn check_members<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    ids: &[String],
) -> CoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let found: std::collections::HashSet<String> =
        existing_ids(conn, tenant, ids).await?.into_iter().collect();
    let missing: Vec<&str> = ids
        .iter()
        .filter(|i| !found.contains(*i))
        .map(String::as_str)
        .take(5)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(CoreError::invalid(format!(
            "members must be users of this tenant; not found: {}",
            missing.join(", ")
        )))
    }
}

async fn add_members<C: ConnectionTrait>(
    conn: &C,
    group: &str,
    ids: &[String],
    display: &std::collections::HashMap<String, String>,
) -> CoreResult<()> {
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<&String> = ids.iter().filter(|i| seen.insert(*i)).collect();
    for chunk in ids.chunks(CHUNK) {
        memberships::Entity::insert_many(chunk.iter().map(|id| memberships::ActiveModel {
            group_id: Set(group.to_string()),
            member_id: Set((*id).clone()),
            display: Set(display.get(*id).cloned()),
        }))
        .on_conflict(
            OnConflict::columns([memberships::Column::GroupId, memberships::Column::MemberId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    }
    Ok(())
}

async fn remove_members<C: ConnectionTrait>(
    conn: &C,
    group: &str,
    ids: &[String],
) -> CoreResult<()> {
    for chunk in ids.chunks(CHUNK) {
        memberships::Entity::delete_many()
            .filter(memberships::Column::GroupId.eq(group))
            .filter(memberships::Column::MemberId.is_in(chunk.iter().cloned()))
            .exec(conn)
            .await?;
    }
    Ok(())
}

async fn member_ids<C: ConnectionTrait>(conn: &C, group: &str) -> CoreResult<Vec<String>> {
    Ok(memberships::Entity::find()
        .select_only()
        .column(memberships::Column::MemberId)
        .filter(memberships::Column::GroupId.eq(group))
        .into_tuple()
        .all(conn)
        .await?)
}

/// Creates a group with its initial members (Okta sends them on POST).
pub async fn create<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    f: &GroupFields,
    members: &MembershipChange,
    actor: &Actor,
) -> CoreResult<DirGroup> {
    let display = &members.display;
    let members = &members.added;
    if find_by_name(conn, tenant, &f.display_name).await?.is_some() {
        return Err(taken(&f.display_name));
    }
    check_members(conn, tenant, members).await?;
    let now = clock.now_us();
    let id = uuid::Uuid::new_v4().to_string();
    let group = scim_groups::ActiveModel {
        id: Set(id.clone()),
        tenant_id: Set(tenant.to_string()),
        display_name: Set(f.display_name.clone()),
        display_name_lower: Set(fold(&f.display_name)),
        external_id: Set(f.external_id.clone()),
        resource: Set(f.resource.to_string()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    };
    if let Err(e) = scim_groups::Entity::insert(group)
        .exec_without_returning(conn)
        .await
    {
        return Err(if is_unique_violation(&e) {
            taken(&f.display_name)
        } else {
            e.into()
        });
    }
    add_members(conn, &id, members, display).await?;
    audit::record(
        conn,
        clock,
        AuditEvent::new(Some(tenant), "scim.group.created")
            .actor(actor.0.clone())
            .detail("scim_group_id", id.as_str())
            .detail("display_name", f.display_name.as_str())
            .detail("members_added", members.len()),
    )
    .await?;
    get(conn, tenant, &id).await
}

pub async fn get<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    id: &str,
) -> CoreResult<DirGroup> {
    match of_tenant(tenant)
        .filter(scim_groups::Column::Id.eq(id))
        .one(conn)
        .await?
    {
        Some(m) => m.try_into(),
        None => Err(CoreError::NotFound("group")),
    }
}

pub async fn find_by_name<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    name: &str,
) -> CoreResult<Option<DirGroup>> {
    of_tenant(tenant)
        .filter(scim_groups::Column::DisplayNameLower.eq(fold(name)))
        .one(conn)
        .await?
        .map(DirGroup::try_from)
        .transpose()
}

pub async fn list<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    q: &ListQuery,
) -> CoreResult<Page<DirGroup>> {
    list_in::<_, scim_groups::Entity, _>(
        conn,
        scim_groups::Column::TenantId,
        SORTABLE,
        tenant,
        q,
        DirGroup::try_from,
    )
    .await
}

/// The members of a group, with their userNames as `display`, in a stable order.
pub async fn members<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    group: &str,
) -> CoreResult<Vec<Member>> {
    let rows: Vec<(String, String, Option<String>)> = memberships::Entity::find()
        .select_only()
        .column(scim_users::Column::Id)
        .column(scim_users::Column::UserName)
        .column(memberships::Column::Display)
        .join(
            sea_orm::JoinType::InnerJoin,
            memberships::Relation::User.def(),
        )
        .filter(memberships::Column::GroupId.eq(group))
        .filter(scim_users::Column::TenantId.eq(tenant.to_string()))
        .order_by_asc(scim_users::Column::UserNameLower)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, user_name, shown)| Member {
            id,
            display: shown.unwrap_or(user_name),
        })
        .collect())
}

/// The groups a user is a member of (the user's read-only `groups` attribute).
pub async fn of_user<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    scim_user_id: &str,
) -> CoreResult<Vec<Member>> {
    let mut all = of_users(conn, tenant, &[scim_user_id.to_string()]).await?;
    Ok(all.remove(scim_user_id).unwrap_or_default())
}

/// Is the SCIM user a member of the tenant's group whose `id` or `externalId` is exactly `key`?
/// (The admin group is named by identifier, never by display name: DESIGN §7.)
pub async fn is_member_by_key<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    scim_user_id: &str,
    key: &str,
) -> CoreResult<bool> {
    Ok(memberships::Entity::find()
        .select_only()
        .column(scim_groups::Column::Id)
        .join(
            sea_orm::JoinType::InnerJoin,
            memberships::Relation::Group.def(),
        )
        .filter(memberships::Column::MemberId.eq(scim_user_id))
        .filter(scim_groups::Column::TenantId.eq(tenant.to_string()))
        .filter(
            sea_orm::Condition::any()
                .add(scim_groups::Column::Id.eq(key))
                .add(scim_groups::Column::ExternalId.eq(key)),
        )
        .into_tuple::<String>()
        .one(conn)
        .await?
        .is_some())
}

/// The groups of several users at once (a list page: one query, not one per user).
pub async fn of_users<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    scim_user_ids: &[String],
) -> CoreResult<std::collections::HashMap<String, Vec<Member>>> {
    let mut out: std::collections::HashMap<String, Vec<Member>> = Default::default();
    for chunk in scim_user_ids.chunks(500) {
        let rows: Vec<(String, String, String)> = memberships::Entity::find()
            .select_only()
            .column(memberships::Column::MemberId)
            .column(scim_groups::Column::Id)
            .column(scim_groups::Column::DisplayName)
            .join(
                sea_orm::JoinType::InnerJoin,
                memberships::Relation::Group.def(),
            )
            .filter(memberships::Column::MemberId.is_in(chunk.iter().cloned()))
            .filter(scim_groups::Column::TenantId.eq(tenant.to_string()))
            .order_by_asc(scim_groups::Column::DisplayNameLower)
            .into_tuple()
            .all(conn)
            .await?;
        for (member, id, display) in rows {
            out.entry(member).or_default().push(Member { id, display });
        }
    }
    Ok(out)
}

/// Applies attribute changes (`fields`, only if the group is still at `current.version`) and
/// membership changes (set operations, whatever the version). `Ok(None)`: the attributes
/// changed concurrently. Members who lost the group lose the scopes it carried, at once.
pub async fn update<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    current: &DirGroup,
    fields: Option<&GroupFields>,
    change: &MembershipChange,
    actor: &Actor,
) -> CoreResult<Option<DirGroup>> {
    let mut q = scim_groups::Entity::update_many()
        .col_expr(scim_groups::Column::UpdatedAt, Expr::value(clock.now_us()))
        .filter(scim_groups::Column::TenantId.eq(tenant.to_string()))
        .filter(scim_groups::Column::Id.eq(current.id.clone()));
    if let Some(f) = fields {
        if fold(&f.display_name) != fold(&current.display_name) {
            if let Some(other) = find_by_name(conn, tenant, &f.display_name).await? {
                if other.id != current.id {
                    return Err(taken(&f.display_name));
                }
            }
        }
        q = q
            .set(scim_groups::ActiveModel {
                display_name: Set(f.display_name.clone()),
                display_name_lower: Set(fold(&f.display_name)),
                external_id: Set(f.external_id.clone()),
                resource: Set(f.resource.to_string()),
                version: Set(current.version + 1),
                ..Default::default()
            })
            .filter(scim_groups::Column::Version.eq(current.version));
    } else {
        q = q.col_expr(
            scim_groups::Column::Version,
            Expr::col(scim_groups::Column::Version).add(1),
        );
    }
    match q.exec(conn).await {
        Ok(r) if r.rows_affected == 0 => {
            return match fields {
                Some(_) => Ok(None),
                None => Err(CoreError::NotFound("group")),
            }
        }
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(taken(fields.map(|f| f.display_name.as_str()).unwrap_or("")))
        }
        Err(e) => return Err(e.into()),
    }
    let mut lost: Vec<String> = Vec::new();
    if let Some(all) = &change.replaced {
        check_members(conn, tenant, all).await?;
        let keep: std::collections::HashSet<&String> = all.iter().collect();
        let gone: Vec<String> = member_ids(conn, &current.id)
            .await?
            .into_iter()
            .filter(|m| !keep.contains(m))
            .collect();
        remove_members(conn, &current.id, &gone).await?;
        add_members(conn, &current.id, all, &change.display).await?;
        lost.extend(gone);
    }
    if !change.added.is_empty() {
        check_members(conn, tenant, &change.added).await?;
        add_members(conn, &current.id, &change.added, &change.display).await?;
    }
    if !change.removed.is_empty() {
        remove_members(conn, &current.id, &change.removed).await?;
        lost.extend(change.removed.iter().cloned());
    }
    audit::record(
        conn,
        clock,
        AuditEvent::new(Some(tenant), "scim.group.updated")
            .actor(actor.0.clone())
            .detail("scim_group_id", current.id.as_str())
            .detail(
                "display_name",
                fields
                    .map(|f| f.display_name.clone())
                    .unwrap_or_else(|| current.display_name.clone()),
            )
            .detail("members_added", change.added.len())
            .detail("members_removed", lost.len())
            .detail("members_replaced", change.replaced.as_ref().map(Vec::len)),
    )
    .await?;
    if !lost.is_empty() {
        lifecycle::membership_lost(conn, clock, tenant, &lost, actor).await?;
    }
    get(conn, tenant, &current.id).await.map(Some)
}

/// Deletes a group: its members lose what it granted, and org grants naming it go with it.
pub async fn delete<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    actor: &Actor,
) -> CoreResult<()> {
    let current = get(conn, tenant, id).await?;
    let lost = member_ids(conn, id).await?;
    memberships::Entity::delete_many()
        .filter(memberships::Column::GroupId.eq(id))
        .exec(conn)
        .await?;
    let grants_removed = org_grants::Entity::delete_many()
        .filter(org_grants::Column::TenantId.eq(tenant.to_string()))
        .filter(org_grants::Column::GroupKey.eq(id))
        .exec(conn)
        .await?
        .rows_affected;
    scim_groups::Entity::delete_many()
        .filter(scim_groups::Column::TenantId.eq(tenant.to_string()))
        .filter(scim_groups::Column::Id.eq(id))
        .exec(conn)
        .await?;
    audit::record(
        conn,
        clock,
        AuditEvent::new(Some(tenant), "scim.group.deleted")
            .actor(actor.0.clone())
            .detail("scim_group_id", id)
            .detail("display_name", current.display_name.as_str())
            .detail("members", lost.len())
            .detail("grants_removed", grants_removed),
    )
    .await?;
    lifecycle::membership_lost(conn, clock, tenant, &lost, actor).await?;
    Ok(())
}
