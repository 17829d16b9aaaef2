//! SCIM groups (RFC 7643 §4.2) in `scim_groups`, members in `scim_group_members`.
//!
//! Membership changes are set operations — `INSERT … ON CONFLICT DO NOTHING` for additions,
//! `DELETE … WHERE member_id IN (…)` for removals — and only bump the group's version, so
//! concurrent PATCHes of one group (Entra ID sends them in parallel) lose no member.
use sea_orm::sea_query::{Expr, OnConflict, Order, Query, SelectStatement};
use sea_orm::{ConnectionTrait, QueryResult};
use serde_json::Value;

use super::users::{existing_ids, list_in};
use super::{exec, fold, lifecycle, t, tenant_cond, Actor, GroupFields, ListQuery, Page};
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::is_unique_violation;
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

const TABLE: &str = "scim_groups";
const MEMBERS: &str = "scim_group_members";
/// Rows per INSERT of members (two bound values each, far below both backends' limits).
const CHUNK: usize = 1000;

pub const SORTABLE: &[&str] = &[
    "display_name_lower",
    "external_id",
    "created_at",
    "updated_at",
    "id",
];

const COLUMNS: [&str; 8] = [
    "id",
    "tenant_id",
    "display_name",
    "external_id",
    "resource",
    "version",
    "created_at",
    "updated_at",
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

fn row(r: &QueryResult) -> CoreResult<DirGroup> {
    let resource: String = r.try_get("", "resource")?;
    Ok(DirGroup {
        id: r.try_get("", "id")?,
        tenant: TenantId(r.try_get("", "tenant_id")?),
        display_name: r.try_get("", "display_name")?,
        external_id: r.try_get("", "external_id")?,
        resource: serde_json::from_str(&resource)
            .map_err(|e| CoreError::Config(format!("stored SCIM group is not JSON: {e}")))?,
        version: r.try_get("", "version")?,
        created_at: r.try_get("", "created_at")?,
        updated_at: r.try_get("", "updated_at")?,
    })
}

fn select() -> SelectStatement {
    Query::select()
        .columns(COLUMNS.map(|c| (t(TABLE), t(c))))
        .from(t(TABLE))
        .to_owned()
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
        let mut q = Query::insert()
            .into_table(t(MEMBERS))
            .columns([t("group_id"), t("member_id"), t("display")])
            .on_conflict(
                OnConflict::columns([t("group_id"), t("member_id")])
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        for id in chunk {
            q.values_panic([
                group.into(),
                (*id).clone().into(),
                display.get(*id).cloned().into(),
            ]);
        }
        exec(conn, &q).await?;
    }
    Ok(())
}

async fn remove_members<C: ConnectionTrait>(
    conn: &C,
    group: &str,
    ids: &[String],
) -> CoreResult<()> {
    for chunk in ids.chunks(CHUNK) {
        let q = Query::delete()
            .from_table(t(MEMBERS))
            .and_where(Expr::col(t("group_id")).eq(group))
            .and_where(Expr::col(t("member_id")).is_in(chunk.iter().cloned()))
            .to_owned();
        exec(conn, &q).await?;
    }
    Ok(())
}

async fn member_ids<C: ConnectionTrait>(conn: &C, group: &str) -> CoreResult<Vec<String>> {
    let q = Query::select()
        .column(t("member_id"))
        .from(t(MEMBERS))
        .and_where(Expr::col(t("group_id")).eq(group))
        .to_owned();
    conn.query_all(conn.get_database_backend().build(&q))
        .await?
        .iter()
        .map(|r| r.try_get::<String>("", "member_id").map_err(Into::into))
        .collect()
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
    let q = Query::insert()
        .into_table(t(TABLE))
        .columns([
            t("id"),
            t("tenant_id"),
            t("display_name"),
            t("display_name_lower"),
            t("external_id"),
            t("resource"),
            t("version"),
            t("created_at"),
            t("updated_at"),
        ])
        .values_panic([
            id.clone().into(),
            tenant.0.clone().into(),
            f.display_name.clone().into(),
            fold(&f.display_name).into(),
            f.external_id.clone().into(),
            f.resource.to_string().into(),
            1i64.into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    if let Err(e) = conn.execute(conn.get_database_backend().build(&q)).await {
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
    let q = select()
        .cond_where(tenant_cond(TABLE, tenant))
        .and_where(Expr::col((t(TABLE), t("id"))).eq(id))
        .to_owned();
    match conn
        .query_one(conn.get_database_backend().build(&q))
        .await?
    {
        Some(r) => row(&r),
        None => Err(CoreError::NotFound("group")),
    }
}

pub async fn find_by_name<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    name: &str,
) -> CoreResult<Option<DirGroup>> {
    let q = select()
        .cond_where(tenant_cond(TABLE, tenant))
        .and_where(Expr::col((t(TABLE), t("display_name_lower"))).eq(fold(name)))
        .to_owned();
    conn.query_one(conn.get_database_backend().build(&q))
        .await?
        .map(|r| row(&r))
        .transpose()
}

pub async fn list<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    q: &ListQuery,
) -> CoreResult<Page<DirGroup>> {
    list_in(conn, TABLE, &COLUMNS, SORTABLE, tenant, q, row).await
}

/// The members of a group, with their userNames as `display`, in a stable order.
pub async fn members<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    group: &str,
) -> CoreResult<Vec<Member>> {
    let q = Query::select()
        .column((t("scim_users"), t("id")))
        .column((t("scim_users"), t("user_name")))
        .column((t(MEMBERS), t("display")))
        .from(t(MEMBERS))
        .inner_join(
            t("scim_users"),
            Expr::col((t("scim_users"), t("id"))).equals((t(MEMBERS), t("member_id"))),
        )
        .and_where(Expr::col((t(MEMBERS), t("group_id"))).eq(group))
        .and_where(Expr::col((t("scim_users"), t("tenant_id"))).eq(tenant.0.clone()))
        .order_by((t("scim_users"), t("user_name_lower")), Order::Asc)
        .to_owned();
    conn.query_all(conn.get_database_backend().build(&q))
        .await?
        .iter()
        .map(|r| {
            let shown: Option<String> = r.try_get("", "display")?;
            Ok(Member {
                id: r.try_get("", "id")?,
                display: match shown {
                    Some(d) => d,
                    None => r.try_get("", "user_name")?,
                },
            })
        })
        .collect()
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
    let q = Query::select()
        .column((t(TABLE), t("id")))
        .from(t(MEMBERS))
        .inner_join(
            t(TABLE),
            Expr::col((t(TABLE), t("id"))).equals((t(MEMBERS), t("group_id"))),
        )
        .and_where(Expr::col((t(MEMBERS), t("member_id"))).eq(scim_user_id))
        .and_where(Expr::col((t(TABLE), t("tenant_id"))).eq(tenant.0.clone()))
        .cond_where(
            sea_orm::sea_query::Cond::any()
                .add(Expr::col((t(TABLE), t("id"))).eq(key))
                .add(Expr::col((t(TABLE), t("external_id"))).eq(key)),
        )
        .limit(1)
        .to_owned();
    Ok(conn
        .query_one(conn.get_database_backend().build(&q))
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
        let q = Query::select()
            .column((t(MEMBERS), t("member_id")))
            .column((t(TABLE), t("id")))
            .column((t(TABLE), t("display_name")))
            .from(t(MEMBERS))
            .inner_join(
                t(TABLE),
                Expr::col((t(TABLE), t("id"))).equals((t(MEMBERS), t("group_id"))),
            )
            .and_where(Expr::col((t(MEMBERS), t("member_id"))).is_in(chunk.iter().cloned()))
            .and_where(Expr::col((t(TABLE), t("tenant_id"))).eq(tenant.0.clone()))
            .order_by((t(TABLE), t("display_name_lower")), Order::Asc)
            .to_owned();
        for r in conn
            .query_all(conn.get_database_backend().build(&q))
            .await?
        {
            out.entry(r.try_get("", "member_id")?)
                .or_default()
                .push(Member {
                    id: r.try_get("", "id")?,
                    display: r.try_get("", "display_name")?,
                });
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
    let mut q = Query::update();
    q.table(t(TABLE))
        .value(t("updated_at"), clock.now_us())
        .cond_where(tenant_cond(TABLE, tenant))
        .and_where(Expr::col((t(TABLE), t("id"))).eq(current.id.clone()));
    if let Some(f) = fields {
        if fold(&f.display_name) != fold(&current.display_name) {
            if let Some(other) = find_by_name(conn, tenant, &f.display_name).await? {
                if other.id != current.id {
                    return Err(taken(&f.display_name));
                }
            }
        }
        q.value(t("display_name"), f.display_name.clone())
            .value(t("display_name_lower"), fold(&f.display_name))
            .value(t("external_id"), f.external_id.clone())
            .value(t("resource"), f.resource.to_string())
            .value(t("version"), current.version + 1)
            .and_where(Expr::col((t(TABLE), t("version"))).eq(current.version));
    } else {
        q.value(t("version"), Expr::col((t(TABLE), t("version"))).add(1));
    }
    match conn.execute(conn.get_database_backend().build(&q)).await {
        Ok(r) if r.rows_affected() == 0 => {
            return match fields {
                Some(_) => Ok(None),
                None => Err(CoreError::NotFound("group")),
            }
        }
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(taken(
                &fields.map(|f| f.display_name.as_str()).unwrap_or(""),
            ))
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
    let q = Query::delete()
        .from_table(t(MEMBERS))
        .and_where(Expr::col(t("group_id")).eq(id))
        .to_owned();
    exec(conn, &q).await?;
    let grants = Query::delete()
        .from_table(t("org_grants"))
        .and_where(Expr::col(t("tenant_id")).eq(tenant.0.clone()))
        .and_where(Expr::col(t("group_key")).eq(id))
        .to_owned();
    let grants_removed = exec(conn, &grants).await?;
    let q = Query::delete()
        .from_table(t(TABLE))
        .cond_where(tenant_cond(TABLE, tenant))
        .and_where(Expr::col((t(TABLE), t("id"))).eq(id))
        .to_owned();
    exec(conn, &q).await?;
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
