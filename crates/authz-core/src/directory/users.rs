//! SCIM users (RFC 7643 §4.1) in `scim_users`, with their emails in `scim_user_emails` for
//! filtering. The representation is stored whole (`resource`); the columns beside it exist for
//! filters, sorting, uniqueness and the SSO link.
use sea_orm::sea_query::{Expr, Func, Order, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IdenStatic, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};
use serde_json::Value;

use super::{fold, lifecycle, Actor, ListQuery, Page, UserFields};
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::is_unique_violation;
use crate::entities::{scim_group_members, scim_groups, scim_user_emails, scim_users};
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

/// Columns a list may be sorted on (the filter schema maps `sortBy` to one of these).
pub const SORTABLE: &[&str] = &[
    "user_name_lower",
    "external_id",
    "display_name_lower",
    "given_name_lower",
    "family_name_lower",
    "title_lower",
    "user_type_lower",
    "employee_number",
    "department_lower",
    "active",
    "created_at",
    "updated_at",
    "id",
];

/// A stored SCIM user.
#[derive(Clone, Debug)]
pub struct DirUser {
    pub id: String,
    pub tenant: TenantId,
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    /// The representation without `id`, `meta` and `groups`.
    pub resource: Value,
    /// Bumped by every change: the ETag (RFC 7644 §3.14).
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<scim_users::Model> for DirUser {
    type Error = CoreError;
    fn try_from(m: scim_users::Model) -> CoreResult<DirUser> {
        Ok(DirUser {
            resource: serde_json::from_str(&m.resource)
                .map_err(|e| CoreError::Config(format!("stored SCIM user is not JSON: {e}")))?,
            id: m.id,
            tenant: TenantId::from_stored(m.tenant_id),
            user_name: m.user_name,
            external_id: m.external_id,
            active: m.active,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

fn of_tenant(tenant: &TenantId) -> sea_orm::Select<scim_users::Entity> {
    scim_users::Entity::find().filter(scim_users::Column::TenantId.eq(tenant.to_string()))
}

/// The columns a user's attributes set (everything but id, tenant, version and times).
fn attributes(f: &UserFields) -> scim_users::ActiveModel {
    let lower = |o: &Option<String>| o.as_deref().map(fold);
    scim_users::ActiveModel {
        user_name: Set(f.user_name.clone()),
        user_name_lower: Set(fold(&f.user_name)),
        external_id: Set(f.external_id.clone()),
        external_id_lower: Set(lower(&f.external_id)),
        display_name_lower: Set(lower(&f.display_name)),
        given_name_lower: Set(lower(&f.given_name)),
        family_name_lower: Set(lower(&f.family_name)),
        title_lower: Set(lower(&f.title)),
        user_type_lower: Set(lower(&f.user_type)),
        employee_number: Set(f.employee_number.clone()),
        department_lower: Set(lower(&f.department)),
        active: Set(f.active),
        resource: Set(f.resource.to_string()),
        ..Default::default()
    }
}

fn taken(user_name: &str) -> CoreError {
    CoreError::conflict(format!(
        "userName '{user_name}' is already taken in this tenant"
    ))
}

async fn write_emails<C: ConnectionTrait>(conn: &C, id: &str, f: &UserFields) -> CoreResult<()> {
    scim_user_emails::Entity::delete_many()
        .filter(scim_user_emails::Column::ScimUserId.eq(id))
        .exec(conn)
        .await?;
    insert_emails(conn, id, f).await
}

async fn insert_emails<C: ConnectionTrait>(conn: &C, id: &str, f: &UserFields) -> CoreResult<()> {
    if f.emails.is_empty() {
        return Ok(());
    }
    scim_user_emails::Entity::insert_many(f.emails.iter().map(|e| scim_user_emails::ActiveModel {
        scim_user_id: Set(id.to_string()),
        value_lower: Set(fold(&e.value)),
        type_lower: Set(e.kind.as_deref().map(fold)),
        is_primary: Set(e.primary),
    }))
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// PostgreSQL: the user, its emails, the link of earlier SSO identities and the removal of
/// its tombstones in one statement (data-modifying CTEs), the same effects as the portable
/// path in four round trips fewer (SCIM creation throughput, DESIGN §10). Returns the number
/// of identities linked.
///
/// The one raw statement of the directory: data-modifying CTEs (`WITH … INSERT … RETURNING`)
/// are not something an entity (or sea-query) can express. Its column names are those of the
/// `scim_users`, `scim_user_emails`, `users` and `scim_tombstones` entities; the SCIM tests
/// run it on PostgreSQL and the portable path on SQLite.
async fn create_pg<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    id: &str,
    f: &UserFields,
    now: i64,
) -> CoreResult<u64> {
    use sea_orm::{DatabaseBackend, Statement, Value as V};
    let lower = |o: &Option<String>| o.as_deref().map(fold);
    let mut values: Vec<V> = vec![
        id.into(),
        tenant.to_string().into(),
        f.user_name.clone().into(),
        fold(&f.user_name).into(),
        f.external_id.clone().into(),
        lower(&f.external_id).into(),
        lower(&f.display_name).into(),
        lower(&f.given_name).into(),
        lower(&f.family_name).into(),
        lower(&f.title).into(),
        lower(&f.user_type).into(),
        f.employee_number.clone().into(),
        lower(&f.department).into(),
        f.active.into(),
        f.resource.to_string().into(),
        now.into(),
    ];
    let mut sql = String::from(
        "WITH u AS (INSERT INTO scim_users (id, tenant_id, user_name, user_name_lower, \
         external_id, external_id_lower, display_name_lower, given_name_lower, \
         family_name_lower, title_lower, user_type_lower, employee_number, department_lower, \
         active, resource, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, \
         $7, $8, $9, $10, $11, $12, $13, $14, $15, 1, $16, $16) RETURNING id)",
    );
    if !f.emails.is_empty() {
        let mut rows = Vec::new();
        for e in &f.emails {
            let n = values.len();
            rows.push(format!("(${}, ${}, ${})", n + 1, n + 2, n + 3));
            values.push(fold(&e.value).into());
            values.push(e.kind.as_deref().map(fold).into());
            values.push(e.primary.into());
        }
        sql.push_str(&format!(
            ", e AS (INSERT INTO scim_user_emails (scim_user_id, value_lower, type_lower, \
             is_primary) SELECT u.id, v.a, v.b, v.c FROM u CROSS JOIN (VALUES {}) AS v(a, b, c))",
            rows.join(", ")
        ));
    }
    // The link values an identity may carry: $4 (userName) and $6 (externalId), folded.
    let matches = "((link_attr = 'userName' AND link_value = $4) OR \
                   (link_attr = 'externalId' AND link_value = $6))";
    let status = if f.active { ", status = 'active'" } else { "" };
    sql.push_str(&format!(
        ", l AS (UPDATE users SET scim_user_id = $1{status} WHERE tenant_id = $2 AND \
         scim_user_id IS NULL AND {matches} RETURNING 1), \
         d AS (DELETE FROM scim_tombstones WHERE tenant_id = $2 AND {matches}) \
         SELECT (SELECT count(*) FROM l) AS linked, (SELECT count(*) FROM u) AS created"
    ));
    let row = conn
        .query_one(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            sql,
            values,
        ))
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                taken(&f.user_name)
            } else {
                e.into()
            }
        })?
        .ok_or_else(|| CoreError::Config("user insert returned no row".into()))?;
    let linked: i64 = row.try_get("", "linked")?;
    Ok(linked as u64)
}

/// Creates a user (RFC 7644 §3.3). `userName` is unique per tenant, case-insensitively
/// (RFC 7643 §4.1.1): a duplicate is `Conflict`. SSO identities that already signed in with
/// this user's link value are linked to it.
pub async fn create<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    f: &UserFields,
    actor: &Actor,
) -> CoreResult<DirUser> {
    // Uniqueness is the (tenant_id, user_name_lower) constraint's: one statement, no race.
    let now = clock.now_us();
    let id = uuid::Uuid::new_v4().to_string();
    let linked = if conn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        create_pg(conn, tenant, &id, f, now).await?
    } else {
        let user = scim_users::ActiveModel {
            id: Set(id.clone()),
            tenant_id: Set(tenant.to_string()),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..attributes(f)
        };
        if let Err(e) = scim_users::Entity::insert(user)
            .exec_without_returning(conn)
            .await
        {
            return Err(if is_unique_violation(&e) {
                taken(&f.user_name)
            } else {
                e.into()
            });
        }
        insert_emails(conn, &id, f).await?;
        lifecycle::link_identities(conn, tenant, &id, f).await?
    };
    audit::record(
        conn,
        clock,
        AuditEvent::new(Some(tenant), "scim.user.created")
            .actor(actor.0.clone())
            .detail("scim_user_id", id.as_str())
            .detail("user_name", f.user_name.as_str())
            .detail("external_id", f.external_id.clone())
            .detail("active", f.active)
            .detail("linked_identities", linked),
    )
    .await?;
    if !f.active {
        lifecycle::deactivate(conn, clock, tenant, &id, actor).await?;
    }
    Ok(DirUser {
        id,
        tenant: tenant.clone(),
        user_name: f.user_name.clone(),
        external_id: f.external_id.clone(),
        active: f.active,
        resource: f.resource.clone(),
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

pub async fn get<C: ConnectionTrait>(conn: &C, tenant: &TenantId, id: &str) -> CoreResult<DirUser> {
    match of_tenant(tenant)
        .filter(scim_users::Column::Id.eq(id))
        .one(conn)
        .await?
    {
        Some(m) => m.try_into(),
        None => Err(CoreError::NotFound("user")),
    }
}

pub async fn find_by_user_name<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    user_name: &str,
) -> CoreResult<Option<DirUser>> {
    of_tenant(tenant)
        .filter(scim_users::Column::UserNameLower.eq(fold(user_name)))
        .one(conn)
        .await?
        .map(DirUser::try_from)
        .transpose()
}

/// The SCIM user whose `attr` (`externalId` or `userName`) equals `value`, case-insensitively.
pub async fn find_by_link<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    attr: &str,
    value: &str,
) -> CoreResult<Option<DirUser>> {
    let col = match attr {
        "userName" => scim_users::Column::UserNameLower,
        _ => scim_users::Column::ExternalIdLower,
    };
    of_tenant(tenant)
        .filter(col.eq(fold(value)))
        .order_by_asc(scim_users::Column::CreatedAt)
        .one(conn)
        .await?
        .map(DirUser::try_from)
        .transpose()
}

/// One page of the tenant's users matching `q` (RFC 7644 §3.4.2). Filtering, counting and
/// paging happen in the database.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    q: &ListQuery,
) -> CoreResult<Page<DirUser>> {
    list_in::<_, scim_users::Entity, _>(
        conn,
        scim_users::Column::TenantId,
        SORTABLE,
        tenant,
        q,
        DirUser::try_from,
    )
    .await
}

/// The SCIM users no identity has signed in as yet (they exist only in the directory), by
/// user name; with `search`, only those it matches (the console builds it with
/// [`super::filter::user_text_search`]).
pub async fn unlinked<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    search: Option<&super::filter::Filter>,
    count: u64,
) -> CoreResult<Page<DirUser>> {
    use crate::entities::users;
    let linked = users::Entity::find()
        .select_only()
        .column(users::Column::ScimUserId)
        .filter(users::Column::TenantId.eq(tenant.to_string()))
        .filter(users::Column::ScimUserId.is_not_null())
        .into_query();
    let mut cond = sea_orm::Condition::all().add(scim_users::Column::Id.not_in_subquery(linked));
    if let Some(search) = search {
        cond = cond.add(
            super::filter::users()
                .to_condition(search)
                .map_err(|e| CoreError::invalid(e.detail().to_string()))?,
        );
    }
    list(
        conn,
        tenant,
        &ListQuery {
            condition: cond,
            sort: Some((scim_users::Column::UserNameLower.as_str().into(), true)),
            start_index: 1,
            count,
        },
    )
    .await
}

/// One page of a directory table (users or groups): `q`'s condition AND the tenant, counted
/// and sorted in the database. `sortable` lists the columns `q.sort` may name.
pub(crate) async fn list_in<C, E, T>(
    conn: &C,
    tenant_column: E::Column,
    sortable: &[&str],
    tenant: &TenantId,
    q: &ListQuery,
    map: fn(E::Model) -> CoreResult<T>,
) -> CoreResult<Page<T>>
where
    C: ConnectionTrait,
    E: EntityTrait,
    E::Column: std::str::FromStr,
{
    let cond = sea_orm::Condition::all()
        .add(tenant_column.eq(tenant.to_string()))
        .add(q.condition.clone());
    let id = || Expr::col((E::default(), column::<E>("id")));
    let total: i64 = E::find()
        .select_only()
        .column_as(SimpleExpr::from(Func::count(id())), "n")
        .filter(cond.clone())
        .into_tuple()
        .one(conn)
        .await?
        .unwrap_or(0);
    if q.count == 0 {
        return Ok(Page {
            total: total as u64,
            items: Vec::new(),
        });
    }
    let mut sel = E::find().filter(cond);
    if let Some((col, asc)) = &q.sort {
        let column = match col.parse::<E::Column>() {
            Ok(c) if sortable.contains(&col.as_str()) => c,
            _ => return Err(CoreError::invalid(format!("cannot sort on '{col}'"))),
        };
        let order = if *asc { Order::Asc } else { Order::Desc };
        let c = || Expr::col((E::default(), column));
        // RFC 7644 §3.4.2.3: unassigned values sort last ascending, first descending.
        sel = sel
            .order_by(c().is_null(), order.clone())
            .order_by(c(), order);
    }
    let items = sel
        .order_by_asc(column::<E>("created_at"))
        .order_by_asc(column::<E>("id"))
        .limit(q.count)
        .offset(q.start_index.saturating_sub(1))
        .all(conn)
        .await?
        .into_iter()
        .map(map)
        .collect::<CoreResult<Vec<_>>>()?;
    Ok(Page {
        total: total as u64,
        items,
    })
}

/// `id` or `created_at`, which both directory entities have.
fn column<E: EntityTrait>(name: &str) -> E::Column
where
    E::Column: std::str::FromStr,
{
    name.parse()
        .unwrap_or_else(|_| panic!("directory entity has no column {name}"))
}

/// Replaces a user's attributes (PUT, or the result of a PATCH) if it is still at
/// `base_version`; `Ok(None)` when another change came first (the caller answers 412 to an
/// `If-Match`, or re-reads and re-applies a PATCH). Deactivation and reactivation take effect
/// in the same transaction (see [`lifecycle`]).
pub async fn replace<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    current: &DirUser,
    f: &UserFields,
    actor: &Actor,
) -> CoreResult<Option<DirUser>> {
    if fold(&f.user_name) != fold(&current.user_name) {
        if let Some(other) = find_by_user_name(conn, tenant, &f.user_name).await? {
            if other.id != current.id {
                return Err(taken(&f.user_name));
            }
        }
    }
    let updated = scim_users::Entity::update_many()
        .set(attributes(f))
        .col_expr(
            scim_users::Column::Version,
            Expr::value(current.version + 1),
        )
        .col_expr(scim_users::Column::UpdatedAt, Expr::value(clock.now_us()))
        .filter(scim_users::Column::TenantId.eq(tenant.to_string()))
        .filter(scim_users::Column::Id.eq(current.id.clone()))
        .filter(scim_users::Column::Version.eq(current.version))
        .exec(conn)
        .await;
    match updated {
        Ok(r) if r.rows_affected == 0 => return Ok(None),
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(taken(&f.user_name)),
        Err(e) => return Err(e.into()),
    }
    write_emails(conn, &current.id, f).await?;
    let linked = lifecycle::link_identities(conn, tenant, &current.id, f).await?;
    audit::record(
        conn,
        clock,
        AuditEvent::new(Some(tenant), "scim.user.updated")
            .actor(actor.0.clone())
            .detail("scim_user_id", current.id.as_str())
            .detail("user_name", f.user_name.as_str())
            .detail("active", f.active)
            .detail("linked_identities", linked),
    )
    .await?;
    match (current.active, f.active) {
        (true, false) => lifecycle::deactivate(conn, clock, tenant, &current.id, actor).await?,
        (false, true) => lifecycle::reactivate(conn, clock, tenant, &current.id, actor).await?,
        _ => {}
    }
    get(conn, tenant, &current.id).await.map(Some)
}

/// Deletes a user (RFC 7644 §3.6): every linked identity loses its sessions, tokens and
/// consents in this transaction, and a tombstone keeps JIT from re-creating it.
pub async fn delete<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    actor: &Actor,
) -> CoreResult<()> {
    let current = get(conn, tenant, id).await?;
    lifecycle::delete(conn, clock, tenant, &current, actor).await?;
    // The groups that lose this member change too: their versions (ETags) move on.
    let groups = scim_group_members::Entity::find()
        .select_only()
        .column(scim_group_members::Column::GroupId)
        .filter(scim_group_members::Column::MemberId.eq(id))
        .into_query();
    scim_groups::Entity::update_many()
        .col_expr(
            scim_groups::Column::Version,
            Expr::col(scim_groups::Column::Version).add(1),
        )
        .col_expr(scim_groups::Column::UpdatedAt, Expr::value(clock.now_us()))
        .filter(scim_groups::Column::TenantId.eq(tenant.to_string()))
        .filter(scim_groups::Column::Id.in_subquery(groups))
        .exec(conn)
        .await?;
    scim_group_members::Entity::delete_many()
        .filter(scim_group_members::Column::MemberId.eq(id))
        .exec(conn)
        .await?;
    scim_user_emails::Entity::delete_many()
        .filter(scim_user_emails::Column::ScimUserId.eq(id))
        .exec(conn)
        .await?;
    scim_users::Entity::delete_many()
        .filter(scim_users::Column::TenantId.eq(tenant.to_string()))
        .filter(scim_users::Column::Id.eq(id))
        .exec(conn)
        .await?;
    audit::record(
        conn,
        clock,
        AuditEvent::new(Some(tenant), "scim.user.deleted")
            .actor(actor.0.clone())
            .detail("scim_user_id", id)
            .detail("user_name", current.user_name.as_str()),
    )
    .await?;
    Ok(())
}

/// The ids, among `ids`, of users of this tenant (others' ids are not visible).
pub async fn existing_ids<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    ids: &[String],
) -> CoreResult<Vec<String>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        out.extend(
            of_tenant(tenant)
                .select_only()
                .column(scim_users::Column::Id)
                .filter(scim_users::Column::Id.is_in(chunk.iter().cloned()))
                .into_tuple::<String>()
                .all(conn)
                .await?,
        );
    }
    Ok(out)
}
