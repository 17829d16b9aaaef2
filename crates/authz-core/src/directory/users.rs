//! SCIM users (RFC 7643 §4.1) in `scim_users`, with their emails in `scim_user_emails` for
//! filtering. The representation is stored whole (`resource`); the columns beside it exist for
//! filters, sorting, uniqueness and the SSO link.
use sea_orm::sea_query::{Expr, Func, Order, Query, SelectStatement};
use sea_orm::{ConnectionTrait, QueryResult};
use serde_json::Value;

use super::{exec, fold, lifecycle, t, tenant_cond, Actor, ListQuery, Page, UserFields};
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::is_unique_violation;
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

const TABLE: &str = "scim_users";

/// Columns a list may be sorted on (the SCIM layer maps `sortBy` to one of these).
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

const COLUMNS: [&str; 9] = [
    "id",
    "tenant_id",
    "user_name",
    "external_id",
    "active",
    "resource",
    "version",
    "created_at",
    "updated_at",
];

fn row(r: &QueryResult) -> CoreResult<DirUser> {
    let resource: String = r.try_get("", "resource")?;
    Ok(DirUser {
        id: r.try_get("", "id")?,
        tenant: TenantId(r.try_get("", "tenant_id")?),
        user_name: r.try_get("", "user_name")?,
        external_id: r.try_get("", "external_id")?,
        active: r.try_get("", "active")?,
        resource: serde_json::from_str(&resource)
            .map_err(|e| CoreError::Config(format!("stored SCIM user is not JSON: {e}")))?,
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

fn columns(f: &UserFields) -> Vec<(&'static str, sea_orm::sea_query::SimpleExpr)> {
    let lower = |o: &Option<String>| o.as_deref().map(fold);
    vec![
        ("user_name", f.user_name.clone().into()),
        ("user_name_lower", fold(&f.user_name).into()),
        ("external_id", f.external_id.clone().into()),
        ("external_id_lower", lower(&f.external_id).into()),
        ("display_name_lower", lower(&f.display_name).into()),
        ("given_name_lower", lower(&f.given_name).into()),
        ("family_name_lower", lower(&f.family_name).into()),
        ("title_lower", lower(&f.title).into()),
        ("user_type_lower", lower(&f.user_type).into()),
        ("employee_number", f.employee_number.clone().into()),
        ("department_lower", lower(&f.department).into()),
        ("active", f.active.into()),
        ("resource", f.resource.to_string().into()),
    ]
}

fn taken(user_name: &str) -> CoreError {
    CoreError::conflict(format!(
        "userName '{user_name}' is already taken in this tenant"
    ))
}

async fn write_emails<C: ConnectionTrait>(conn: &C, id: &str, f: &UserFields) -> CoreResult<()> {
    let del = Query::delete()
        .from_table(t("scim_user_emails"))
        .and_where(Expr::col(t("scim_user_id")).eq(id))
        .to_owned();
    exec(conn, &del).await?;
    insert_emails(conn, id, f).await
}

async fn insert_emails<C: ConnectionTrait>(conn: &C, id: &str, f: &UserFields) -> CoreResult<()> {
    if f.emails.is_empty() {
        return Ok(());
    }
    let mut ins = Query::insert()
        .into_table(t("scim_user_emails"))
        .columns([
            t("scim_user_id"),
            t("value_lower"),
            t("type_lower"),
            t("is_primary"),
        ])
        .to_owned();
    for e in &f.emails {
        ins.values_panic([
            id.into(),
            fold(&e.value).into(),
            e.kind.as_deref().map(fold).into(),
            e.primary.into(),
        ]);
    }
    exec(conn, &ins).await?;
    Ok(())
}

/// PostgreSQL: the user, its emails, the link of earlier SSO identities and the removal of
/// its tombstones in one statement (data-modifying CTEs), the same effects as the portable
/// path in four round trips fewer (SCIM creation throughput, DESIGN §10). Returns the number
/// of identities linked.
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
        tenant.0.clone().into(),
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
        let cols = columns(f);
        let mut names = vec![t("id"), t("tenant_id")];
        let mut values: Vec<sea_orm::sea_query::SimpleExpr> =
            vec![id.clone().into(), tenant.0.clone().into()];
        for (n, v) in cols {
            names.push(t(n));
            values.push(v);
        }
        names.extend([t("version"), t("created_at"), t("updated_at")]);
        values.extend([1i64.into(), now.into(), now.into()]);
        let q = Query::insert()
            .into_table(t(TABLE))
            .columns(names)
            .values_panic(values)
            .to_owned();
        if let Err(e) = conn.execute(conn.get_database_backend().build(&q)).await {
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
    let q = select()
        .cond_where(tenant_cond(TABLE, tenant))
        .and_where(Expr::col((t(TABLE), t("id"))).eq(id))
        .to_owned();
    match conn
        .query_one(conn.get_database_backend().build(&q))
        .await?
    {
        Some(r) => row(&r),
        None => Err(CoreError::NotFound("user")),
    }
}

pub async fn find_by_user_name<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    user_name: &str,
) -> CoreResult<Option<DirUser>> {
    let q = select()
        .cond_where(tenant_cond(TABLE, tenant))
        .and_where(Expr::col((t(TABLE), t("user_name_lower"))).eq(fold(user_name)))
        .to_owned();
    conn.query_one(conn.get_database_backend().build(&q))
        .await?
        .map(|r| row(&r))
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
        "userName" => "user_name_lower",
        _ => "external_id_lower",
    };
    let q = select()
        .cond_where(tenant_cond(TABLE, tenant))
        .and_where(Expr::col((t(TABLE), t(col))).eq(fold(value)))
        .order_by((t(TABLE), t("created_at")), Order::Asc)
        .limit(1)
        .to_owned();
    conn.query_one(conn.get_database_backend().build(&q))
        .await?
        .map(|r| row(&r))
        .transpose()
}

/// One page of the tenant's users matching `q` (RFC 7644 §3.4.2). Filtering, counting and
/// paging happen in the database.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    q: &ListQuery,
) -> CoreResult<Page<DirUser>> {
    list_in(conn, TABLE, &COLUMNS, SORTABLE, tenant, q, row).await
}

/// The SCIM users no identity has signed in as yet (they exist only in the directory), by
/// user name; with `q`, only those whose user name or display name contains it (folded).
pub async fn unlinked<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    q: Option<&str>,
    count: u64,
) -> CoreResult<Page<DirUser>> {
    use crate::entities::users;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};
    let linked = users::Entity::find()
        .select_only()
        .column(users::Column::ScimUserId)
        .filter(users::Column::TenantId.eq(tenant.0.clone()))
        .filter(users::Column::ScimUserId.is_not_null())
        .into_query();
    let mut cond =
        sea_orm::Condition::all().add(Expr::col((t(TABLE), t("id"))).not_in_subquery(linked));
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        let like = || crate::db::literal_like(&fold(q), true);
        cond = cond.add(
            sea_orm::Condition::any()
                .add(Expr::col((t(TABLE), t("user_name_lower"))).like(like()))
                .add(Expr::col((t(TABLE), t("display_name_lower"))).like(like())),
        );
    }
    list(
        conn,
        tenant,
        &ListQuery {
            condition: cond,
            sort: Some(("user_name_lower".into(), true)),
            start_index: 1,
            count,
        },
    )
    .await
}

pub(crate) async fn list_in<C: ConnectionTrait, T>(
    conn: &C,
    table: &str,
    columns: &[&str],
    sortable: &[&str],
    tenant: &TenantId,
    q: &ListQuery,
    map: fn(&QueryResult) -> CoreResult<T>,
) -> CoreResult<Page<T>> {
    let cond = tenant_cond(table, tenant).add(q.condition.clone());
    let count = Query::select()
        .expr_as(Func::count(Expr::col((t(table), t("id")))), t("n"))
        .from(t(table))
        .cond_where(cond.clone())
        .to_owned();
    let total: i64 = conn
        .query_one(conn.get_database_backend().build(&count))
        .await?
        .map(|r| r.try_get("", "n"))
        .transpose()?
        .unwrap_or(0);
    if q.count == 0 {
        return Ok(Page {
            total: total as u64,
            items: Vec::new(),
        });
    }
    let mut sel = Query::select()
        .columns(columns.iter().map(|c| (t(table), t(c))))
        .from(t(table))
        .cond_where(cond)
        .to_owned();
    if let Some((col, asc)) = &q.sort {
        if !sortable.contains(&col.as_str()) {
            return Err(CoreError::invalid(format!("cannot sort on '{col}'")));
        }
        // RFC 7644 §3.4.2.3: unassigned values sort last ascending, first descending.
        let nulls = Expr::col((t(table), t(col.as_str()))).is_null();
        sel.order_by_expr(nulls.into(), if *asc { Order::Asc } else { Order::Desc });
        sel.order_by(
            (t(table), t(col.as_str())),
            if *asc { Order::Asc } else { Order::Desc },
        );
    }
    sel.order_by((t(table), t("created_at")), Order::Asc)
        .order_by((t(table), t("id")), Order::Asc)
        .limit(q.count)
        .offset(q.start_index.saturating_sub(1));
    conn.query_all(conn.get_database_backend().build(&sel))
        .await?
        .iter()
        .map(map)
        .collect::<CoreResult<Vec<_>>>()
        .map(|items| Page {
            total: total as u64,
            items,
        })
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
    let mut q = Query::update();
    q.table(t(TABLE));
    for (n, v) in columns(f) {
        q.value(t(n), v);
    }
    q.value(t("version"), current.version + 1)
        .value(t("updated_at"), clock.now_us())
        .cond_where(tenant_cond(TABLE, tenant))
        .and_where(Expr::col((t(TABLE), t("id"))).eq(current.id.clone()))
        .and_where(Expr::col((t(TABLE), t("version"))).eq(current.version));
    match conn.execute(conn.get_database_backend().build(&q)).await {
        Ok(r) if r.rows_affected() == 0 => return Ok(None),
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
    let groups = Query::select()
        .column(t("group_id"))
        .from(t("scim_group_members"))
        .and_where(Expr::col(t("member_id")).eq(id))
        .to_owned();
    let bump = Query::update()
        .table(t("scim_groups"))
        .value(t("version"), Expr::col(t("version")).add(1))
        .value(t("updated_at"), clock.now_us())
        .and_where(Expr::col(t("tenant_id")).eq(tenant.0.clone()))
        .and_where(Expr::col(t("id")).in_subquery(groups))
        .to_owned();
    exec(conn, &bump).await?;
    for (table, col) in [
        ("scim_group_members", "member_id"),
        ("scim_user_emails", "scim_user_id"),
    ] {
        let q = Query::delete()
            .from_table(t(table))
            .and_where(Expr::col(t(col)).eq(id))
            .to_owned();
        exec(conn, &q).await?;
    }
    let q = Query::delete()
        .from_table(t(TABLE))
        .cond_where(tenant_cond(TABLE, tenant))
        .and_where(Expr::col((t(TABLE), t("id"))).eq(id))
        .to_owned();
    exec(conn, &q).await?;
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
        let q = Query::select()
            .column((t(TABLE), t("id")))
            .from(t(TABLE))
            .cond_where(tenant_cond(TABLE, tenant))
            .and_where(Expr::col((t(TABLE), t("id"))).is_in(chunk.iter().cloned()))
            .to_owned();
        for r in conn
            .query_all(conn.get_database_backend().build(&q))
            .await?
        {
            out.push(r.try_get::<String>("", "id")?);
        }
    }
    Ok(out)
}
