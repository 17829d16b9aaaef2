//! What directory changes do to access (DESIGN §6.4), always inside the caller's transaction
//! so the change and its effect commit together, and every node sees both at once:
//!
//! - deactivation (`active=false`) and deletion revoke every session, grant family and token
//!   of the linked SSO identities and forget their consents; sign-in is refused from then on;
//! - reactivation only allows sign-in again: nothing revoked comes back (the user signs in and
//!   consents again);
//! - losing a group (removal, group deletion) revokes every grant family of the user whose
//!   scopes are no longer all granted. Families whose scopes are all still granted survive;
//!   the refresh path never re-mints an ungranted scope either way.
//! - deletion unlinks the identities, marks them deleted and leaves tombstones keyed by the
//!   link values, so a JIT sign-in does not bring the user back.
use sea_orm::sea_query::{Cond, Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::users::DirUser;
use super::{exec, fold, t, Actor, UserFields};
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::entities::grant_families;
use crate::error::CoreResult;
use crate::tenant::TenantId;
use crate::token::revoke;
use crate::{consent, grant, scope};

/// The SSO identities (`users` rows) linked to a SCIM user.
pub async fn linked_users<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    scim_user_ids: &[String],
) -> CoreResult<Vec<String>> {
    let mut out = Vec::new();
    for chunk in scim_user_ids.chunks(500) {
        let q = Query::select()
            .column(t("id"))
            .from(t("users"))
            .and_where(Expr::col(t("tenant_id")).eq(tenant.0.clone()))
            .and_where(Expr::col(t("scim_user_id")).is_in(chunk.iter().cloned()))
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

/// Links unlinked SSO identities whose link value matches this SCIM user (they signed in
/// before the IdP provisioned them, or after a deletion). Returns how many were linked.
pub(crate) async fn link_identities<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    scim_user_id: &str,
    f: &UserFields,
) -> CoreResult<u64> {
    let mut by = Cond::any().add(
        Cond::all()
            .add(Expr::col(t("link_attr")).eq("userName"))
            .add(Expr::col(t("link_value")).eq(fold(&f.user_name))),
    );
    if let Some(ext) = &f.external_id {
        by = by.add(
            Cond::all()
                .add(Expr::col(t("link_attr")).eq("externalId"))
                .add(Expr::col(t("link_value")).eq(fold(ext))),
        );
    }
    let mut q = Query::update();
    q.table(t("users"))
        .value(t("scim_user_id"), scim_user_id)
        .and_where(Expr::col(t("tenant_id")).eq(tenant.0.clone()))
        .and_where(Expr::col(t("scim_user_id")).is_null())
        .cond_where(by.clone());
    if f.active {
        q.value(t("status"), "active");
    }
    let n = exec(conn, &q).await?;
    // Re-provisioned: the IdP vouches for this person again.
    let tomb = Query::delete()
        .from_table(t("scim_tombstones"))
        .and_where(Expr::col(t("tenant_id")).eq(tenant.0.clone()))
        .cond_where(by)
        .to_owned();
    exec(conn, &tomb).await?;
    Ok(n)
}

async fn set_status<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    users: &[String],
    status: &str,
    unlink: bool,
) -> CoreResult<()> {
    for chunk in users.chunks(500) {
        let mut q = Query::update();
        q.table(t("users"))
            .value(t("status"), status)
            .and_where(Expr::col(t("tenant_id")).eq(tenant.0.clone()))
            .and_where(Expr::col(t("id")).is_in(chunk.iter().cloned()));
        if unlink {
            q.value(t("scim_user_id"), Option::<String>::None)
                .value(t("email"), Option::<String>::None)
                .value(t("email_lower"), Option::<String>::None)
                .value(t("name"), Option::<String>::None);
        }
        exec(conn, &q).await?;
    }
    Ok(())
}

async fn revoke_all<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    users: &[String],
) -> CoreResult<(u64, u64)> {
    let (mut tokens, mut consents) = (0, 0);
    for u in users {
        tokens += revoke::revoke_user(conn, clock, tenant, u, "scim").await?;
        consents += consent::forget_for_user(conn, tenant, u).await?;
    }
    Ok((tokens, consents))
}

/// `active` became false: the linked identities are deactivated and lose all access now.
pub async fn deactivate<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    scim_user_id: &str,
    actor: &Actor,
) -> CoreResult<()> {
    let users = linked_users(conn, tenant, &[scim_user_id.to_string()]).await?;
    set_status(conn, tenant, &users, "deactivated", false).await?;
    let (tokens, consents) = revoke_all(conn, clock, tenant, &users).await?;
    audit::record(
        conn,
        clock,
        AuditEvent::new(Some(tenant), "scim.user.deactivated")
            .actor(actor.0.clone())
            .detail("scim_user_id", scim_user_id)
            .detail("identities", users)
            .detail("tokens_revoked", tokens)
            .detail("consents_forgotten", consents),
    )
    .await?;
    Ok(())
}

/// `active` became true again: sign-in is allowed; nothing revoked is restored.
pub async fn reactivate<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    scim_user_id: &str,
    actor: &Actor,
) -> CoreResult<()> {
    let users = linked_users(conn, tenant, &[scim_user_id.to_string()]).await?;
    set_status(conn, tenant, &users, "active", false).await?;
    audit::record(
        conn,
        clock,
        AuditEvent::new(Some(tenant), "scim.user.reactivated")
            .actor(actor.0.clone())
            .detail("scim_user_id", scim_user_id)
            .detail("identities", users),
    )
    .await?;
    Ok(())
}

/// The user is being deleted: revoke, unlink, mark deleted and tombstone its link values.
pub(crate) async fn delete<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    user: &DirUser,
    actor: &Actor,
) -> CoreResult<()> {
    let users = linked_users(conn, tenant, &[user.id.clone()]).await?;
    let (tokens, consents) = revoke_all(conn, clock, tenant, &users).await?;
    // Every link value that could admit this person again: the SCIM user's own, and those
    // of the identities already linked (whatever their connection's link attribute).
    let mut keys: Vec<(String, String)> = vec![("userName".into(), fold(&user.user_name))];
    if let Some(ext) = &user.external_id {
        keys.push(("externalId".into(), fold(ext)));
    }
    for chunk in users.chunks(500) {
        let q = Query::select()
            .columns([t("link_attr"), t("link_value")])
            .from(t("users"))
            .and_where(Expr::col(t("id")).is_in(chunk.iter().cloned()))
            .and_where(Expr::col(t("link_value")).is_not_null())
            .to_owned();
        for r in conn
            .query_all(conn.get_database_backend().build(&q))
            .await?
        {
            let attr: Option<String> = r.try_get("", "link_attr")?;
            let value: String = r.try_get("", "link_value")?;
            keys.push((attr.unwrap_or_else(|| "externalId".into()), value));
        }
    }
    keys.sort();
    keys.dedup();
    let now = clock.now_us();
    for (attr, value) in &keys {
        let q = Query::insert()
            .into_table(t("scim_tombstones"))
            .columns([
                t("tenant_id"),
                t("link_attr"),
                t("link_value"),
                t("scim_user_id"),
                t("deleted_at"),
            ])
            .values_panic([
                tenant.0.clone().into(),
                attr.clone().into(),
                value.clone().into(),
                user.id.clone().into(),
                now.into(),
            ])
            .on_conflict(
                OnConflict::columns([t("tenant_id"), t("link_attr"), t("link_value")])
                    .update_columns([t("scim_user_id"), t("deleted_at")])
                    .to_owned(),
            )
            .to_owned();
        exec(conn, &q).await?;
    }
    set_status(conn, tenant, &users, "deleted", true).await?;
    audit::record(
        conn,
        clock,
        AuditEvent::new(Some(tenant), "scim.user.deprovisioned")
            .actor(actor.0.clone())
            .detail("scim_user_id", user.id.as_str())
            .detail("identities", users)
            .detail("tokens_revoked", tokens)
            .detail("consents_forgotten", consents)
            .detail("tombstones", keys.len()),
    )
    .await?;
    Ok(())
}

/// Is there a tombstone for this link value (a deleted SCIM user)?
pub async fn is_tombstoned<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    attr: &str,
    value: &str,
) -> CoreResult<bool> {
    let q = Query::select()
        .column(t("scim_user_id"))
        .from(t("scim_tombstones"))
        .and_where(Expr::col(t("tenant_id")).eq(tenant.0.clone()))
        .and_where(Expr::col(t("link_attr")).eq(attr))
        .and_where(Expr::col(t("link_value")).eq(fold(value)))
        .to_owned();
    Ok(conn
        .query_one(conn.get_database_backend().build(&q))
        .await?
        .is_some())
}

/// These SCIM users left a group (removal or group deletion): every live grant family of
/// their identities that holds a scope no longer granted to them is revoked, with its tokens.
pub async fn membership_lost<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    scim_user_ids: &[String],
    actor: &Actor,
) -> CoreResult<u64> {
    let users = linked_users(conn, tenant, scim_user_ids).await?;
    let mut revoked = 0;
    for user in users {
        let families = grant_families::Entity::find()
            .filter(grant_families::Column::TenantId.eq(tenant.0.clone()))
            .filter(grant_families::Column::UserId.eq(user.clone()))
            .filter(grant_families::Column::RevokedAt.is_null())
            .all(conn)
            .await?;
        for fam in families {
            let granted = grant::granted_to_user(conn, tenant, &fam.resource_id, &user).await?;
            let lost: Vec<String> = scope::split(&fam.scopes)
                .into_iter()
                .filter(|s| s != scope::OFFLINE_ACCESS && !granted.contains(s))
                .collect();
            if lost.is_empty() {
                continue;
            }
            let n = revoke::revoke_family(conn, clock, &fam.id).await?;
            revoked += 1;
            audit::record(
                conn,
                clock,
                AuditEvent::new(Some(tenant), "grant.revoked")
                    .actor(actor.0.clone())
                    .user(user.clone())
                    .client(fam.client_id.clone())
                    .scope(fam.scopes.clone())
                    .detail("reason", "group_membership_lost")
                    .detail("scopes_no_longer_granted", lost)
                    .detail("tokens_revoked", n),
            )
            .await?;
        }
    }
    Ok(revoked)
}
