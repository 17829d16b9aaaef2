//! Who administers a tenant. A signed-in tenant user is an admin when
//! - they were made one explicitly: an accepted invitation bound to their identity, or an
//!   operator's grant (`tenant_admins`), or
//! - the tenant names an admin group and the user belongs to it, either as a SCIM group
//!   (membership pushed by the IdP, so removing the user from the group ends their admin
//!   rights at the next request) or in the IdP's groups claim of the sign-in that started the
//!   session.
//!
//! The check runs on every console request: nothing about the role is cached in a cookie.
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::tenant_admins::{self, Column, Entity};
use crate::entities::{tenants, users};
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

/// Why a user is an admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminVia {
    /// Listed in `tenant_admins` (invitation or operator).
    Explicit(String),
    /// Member of the tenant's admin group by SCIM.
    ScimGroup(String),
    /// The IdP's groups claim at sign-in named the admin group.
    IdpClaim(String),
}

impl AdminVia {
    pub fn describe(&self) -> String {
        match self {
            AdminVia::Explicit(v) => format!("explicit ({v})"),
            AdminVia::ScimGroup(g) => format!("SCIM group '{g}'"),
            AdminVia::IdpClaim(g) => format!("IdP group claim '{g}'"),
        }
    }
}

/// The tenant's admin group: an identifier, never a display name (DESIGN §7) — a SCIM group's
/// `id` or `externalId`, or an exact value of the IdP's groups claim (Entra: the group's object
/// id). Anyone who can create a group in the IdP can give it any display name.
pub async fn admin_group<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
) -> CoreResult<Option<String>> {
    let g: Option<String> = tenants::Entity::find_by_id(tenant.to_string())
        .select_only()
        .column(tenants::Column::AdminGroup)
        .into_tuple()
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("tenant"))?;
    Ok(g.filter(|g| !g.trim().is_empty()))
}

/// Sets (or clears, with `None`) the admin group, audited.
pub async fn set_admin_group(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    group: Option<&str>,
    actor: &str,
) -> CoreResult<()> {
    let group = group.map(str::trim).filter(|g| !g.is_empty());
    if group.is_some_and(|g| g.len() > 256) {
        return Err(CoreError::invalid("the admin group name is too long"));
    }
    let txn = store.begin().await?;
    tenants::Entity::update_many()
        .col_expr(
            tenants::Column::AdminGroup,
            Expr::value(group.map(str::to_string)),
        )
        .filter(tenants::Column::Id.eq(tenant.to_string()))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "tenant.admin_group_changed")
            .actor(actor)
            .detail("admin_group", group.map(str::to_string)),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Is `user_id` an admin of `tenant`, and why? `idp_groups` are the groups the IdP asserted at
/// the sign-in that started the current session.
pub async fn admin_via<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    user_id: &str,
    idp_groups: &[String],
) -> CoreResult<Option<AdminVia>> {
    if let Some(m) = Entity::find_by_id((tenant.to_string(), user_id.to_string()))
        .one(conn)
        .await?
    {
        return Ok(Some(AdminVia::Explicit(m.granted_via)));
    }
    let Some(group) = admin_group(conn, tenant).await? else {
        return Ok(None);
    };
    let u = crate::user::get(conn, tenant, user_id).await?;
    if !u.active {
        return Ok(None);
    }
    // Exact values: no case folding, no display names.
    if idp_groups.iter().any(|g| g == &group) {
        return Ok(Some(AdminVia::IdpClaim(group)));
    }
    if let Some(scim_id) = scim_user_of(conn, tenant, user_id).await? {
        if crate::directory::groups::is_member_by_key(conn, tenant, &scim_id, &group).await? {
            return Ok(Some(AdminVia::ScimGroup(group)));
        }
    }
    Ok(None)
}

async fn scim_user_of<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    user_id: &str,
) -> CoreResult<Option<String>> {
    let linked: Option<Option<String>> = users::Entity::find()
        .select_only()
        .column(users::Column::ScimUserId)
        .filter(users::Column::TenantId.eq(tenant.to_string()))
        .filter(users::Column::Id.eq(user_id))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(linked.flatten())
}

/// Makes `user_id` an explicit admin (idempotent), audited in the caller's transaction.
pub async fn grant<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    user_id: &str,
    via: &str,
    invitation_id: Option<&str>,
    actor: &str,
) -> CoreResult<()> {
    Entity::insert(tenant_admins::ActiveModel {
        tenant_id: Set(tenant.to_string()),
        user_id: Set(user_id.to_string()),
        granted_via: Set(via.to_string()),
        invitation_id: Set(invitation_id.map(str::to_string)),
        created_at: Set(clock.now_us()),
    })
    .on_conflict(
        OnConflict::columns([Column::TenantId, Column::UserId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    audit::record(
        conn,
        clock,
        AuditEvent::new(Some(tenant), "admin.granted")
            .actor(actor)
            .user(user_id.to_string())
            .detail("via", via)
            .detail("invitation_id", invitation_id.map(str::to_string)),
    )
    .await
}

/// Removes an explicit admin, audited. Group-based admins lose the role by leaving the group.
pub async fn revoke(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    user_id: &str,
    actor: &str,
) -> CoreResult<bool> {
    let txn = store.begin().await?;
    let n = Entity::delete_by_id((tenant.to_string(), user_id.to_string()))
        .exec(&txn)
        .await?
        .rows_affected;
    if n > 0 {
        audit::record(
            &txn,
            clock,
            AuditEvent::new(Some(tenant), "admin.revoked")
                .actor(actor)
                .user(user_id.to_string()),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(n > 0)
}

/// Removes an explicit admin inside the caller's transaction and ends their signed-in
/// sessions in the tenant (the console runs on them; the role check alone would let a session
/// stay open on a page already rendered). Refuses to remove the tenant's last administrator
/// when no admin group can supply another: nobody could then manage the tenant but the
/// operator. Returns the admin as they were and the number of sessions ended.
pub async fn remove_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    user_id: &str,
    actor: &str,
) -> CoreResult<(ExplicitAdmin, u64)> {
    let all = list(txn, tenant).await?;
    let Some(admin) = all.iter().find(|a| a.user_id == user_id).cloned() else {
        return Err(CoreError::NotFound("administrator"));
    };
    if all.len() == 1 && admin_group(txn, tenant).await?.is_none() {
        return Err(CoreError::Conflict(
            "this is the organisation's last administrator: make someone else an administrator first".into(),
        ));
    }
    Entity::delete_by_id((tenant.to_string(), user_id.to_string()))
        .exec(txn)
        .await?;
    let sessions = crate::session::revoke_for_user(txn, clock, tenant, user_id).await?;
    audit::record(
        txn,
        clock,
        AuditEvent::new(Some(tenant), "admin.revoked")
            .actor(actor)
            .user(user_id.to_string())
            .detail("sessions_ended", sessions),
    )
    .await?;
    Ok((admin, sessions))
}

/// One explicit admin of the tenant.
pub async fn get<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    user_id: &str,
) -> CoreResult<ExplicitAdmin> {
    list(conn, tenant)
        .await?
        .into_iter()
        .find(|a| a.user_id == user_id)
        .ok_or(CoreError::NotFound("administrator"))
}

#[derive(Clone, Debug)]
pub struct ExplicitAdmin {
    pub user_id: String,
    pub granted_via: String,
    pub created_at: i64,
}

/// The tenant's explicit admins, oldest first.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
) -> CoreResult<Vec<ExplicitAdmin>> {
    Ok(Entity::find()
        .filter(Column::TenantId.eq(tenant.to_string()))
        .order_by_asc(Column::CreatedAt)
        .all(conn)
        .await?
        .into_iter()
        .map(|m| ExplicitAdmin {
            user_id: m.user_id,
            granted_via: m.granted_via,
            created_at: m.created_at,
        })
        .collect())
}

/// Is the user of this Gatehouse session an admin of `tenant`? Explicit admins always count;
/// the admin group (SCIM membership or the IdP's groups claim) only for a session signed in
/// through an *enabled* connection: a connection still pending on an invitation's setup session
/// is under the invitee's control and must not vouch for anyone's group memberships.
pub async fn session_admin_via<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    session: &crate::session::Session,
) -> CoreResult<Option<AdminVia>> {
    let enabled = crate::connection::get(conn, tenant, &session.connection_id)
        .await
        .map(|c| c.enabled)
        .unwrap_or(false);
    let groups = if enabled {
        crate::session::idp_groups(conn, &session.id).await?
    } else {
        Vec::new()
    };
    match admin_via(conn, tenant, &session.user_id, &groups).await? {
        Some(AdminVia::Explicit(v)) => Ok(Some(AdminVia::Explicit(v))),
        Some(group) if enabled => Ok(Some(group)),
        _ => Ok(None),
    }
}
