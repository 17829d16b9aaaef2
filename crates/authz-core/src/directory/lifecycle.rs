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
use sea_orm::sea_query::{Cond, Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};

use super::users::DirUser;
use super::{fold, Actor, UserFields};
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::entities::{grant_families, scim_tombstones, users as identities};
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
        out.extend(
            identities::Entity::find()
                .select_only()
                .column(identities::Column::Id)
                .filter(identities::Column::TenantId.eq(tenant.to_string()))
                .filter(identities::Column::ScimUserId.is_in(chunk.iter().cloned()))
                .into_tuple::<String>()
                .all(conn)
                .await?,
        );
    }
    Ok(out)
}

/// The link values that match this SCIM user: its folded `userName`, and its folded
/// `externalId` if it has one, each with the attribute it is a value of. One condition shape
/// for both tables that carry link values (identities and tombstones).
fn link_match<Col: ColumnTrait>(attr: Col, value: Col, f: &UserFields) -> Cond {
    let mut by = Cond::any().add(
        Cond::all()
            .add(attr.eq("userName"))
            .add(value.eq(fold(&f.user_name))),
    );
    if let Some(ext) = &f.external_id {
        by = by.add(
            Cond::all()
                .add(attr.eq("externalId"))
                .add(value.eq(fold(ext))),
        );
    }
    by
}

/// Links unlinked SSO identities whose link value matches this SCIM user (they signed in
/// before the IdP provisioned them, or after a deletion). Returns how many were linked.
pub(crate) async fn link_identities<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    scim_user_id: &str,
    f: &UserFields,
) -> CoreResult<u64> {
    let mut q = identities::Entity::update_many()
        .col_expr(identities::Column::ScimUserId, Expr::value(scim_user_id))
        .filter(identities::Column::TenantId.eq(tenant.to_string()))
        .filter(identities::Column::ScimUserId.is_null())
        .filter(link_match(
            identities::Column::LinkAttr,
            identities::Column::LinkValue,
            f,
        ));
    if f.active {
        q = q.col_expr(identities::Column::Status, Expr::value("active"));
    }
    let n = q.exec(conn).await?.rows_affected;
    // Re-provisioned: the IdP vouches for this person again.
    scim_tombstones::Entity::delete_many()
        .filter(scim_tombstones::Column::TenantId.eq(tenant.to_string()))
        .filter(link_match(
            scim_tombstones::Column::LinkAttr,
            scim_tombstones::Column::LinkValue,
            f,
        ))
        .exec(conn)
        .await?;
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
        let mut q = identities::Entity::update_many()
            .col_expr(identities::Column::Status, Expr::value(status))
            .filter(identities::Column::TenantId.eq(tenant.to_string()))
            .filter(identities::Column::Id.is_in(chunk.iter().cloned()));
        if unlink {
            for col in [
                identities::Column::ScimUserId,
                identities::Column::Email,
                identities::Column::EmailLower,
                identities::Column::Name,
            ] {
                q = q.col_expr(col, Expr::value(Option::<String>::None));
            }
        }
        q.exec(conn).await?;
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
    let users = linked_users(conn, tenant, std::slice::from_ref(&user.id)).await?;
    let (tokens, consents) = revoke_all(conn, clock, tenant, &users).await?;
    // Every link value that could admit this person again: the SCIM user's own, and those
    // of the identities already linked (whatever their connection's link attribute).
    let mut keys: Vec<(String, String)> = vec![("userName".into(), fold(&user.user_name))];
    if let Some(ext) = &user.external_id {
        keys.push(("externalId".into(), fold(ext)));
    }
    for chunk in users.chunks(500) {
        let rows: Vec<(Option<String>, Option<String>)> = identities::Entity::find()
            .select_only()
            .columns([identities::Column::LinkAttr, identities::Column::LinkValue])
            .filter(identities::Column::Id.is_in(chunk.iter().cloned()))
            .filter(identities::Column::LinkValue.is_not_null())
            .into_tuple()
            .all(conn)
            .await?;
        for (attr, value) in rows {
            let Some(value) = value else { continue };
            keys.push((attr.unwrap_or_else(|| "externalId".into()), value));
        }
    }
    keys.sort();
    keys.dedup();
    let now = clock.now_us();
    for (attr, value) in &keys {
        scim_tombstones::Entity::insert(scim_tombstones::ActiveModel {
            tenant_id: Set(tenant.to_string()),
            link_attr: Set(attr.clone()),
            link_value: Set(value.clone()),
            scim_user_id: Set(user.id.clone()),
            deleted_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                scim_tombstones::Column::TenantId,
                scim_tombstones::Column::LinkAttr,
                scim_tombstones::Column::LinkValue,
            ])
            .update_columns([
                scim_tombstones::Column::ScimUserId,
                scim_tombstones::Column::DeletedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
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
    Ok(scim_tombstones::Entity::find()
        .filter(scim_tombstones::Column::TenantId.eq(tenant.to_string()))
        .filter(scim_tombstones::Column::LinkAttr.eq(attr))
        .filter(scim_tombstones::Column::LinkValue.eq(fold(value)))
        .one(conn)
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
            .filter(grant_families::Column::TenantId.eq(tenant.to_string()))
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
