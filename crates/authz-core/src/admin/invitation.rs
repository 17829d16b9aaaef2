//! Admin invitations: how a tenant gets its first admin (and how more are invited).
//!
//! 1. An operator (or an admin) invites an address; the invitation email carries a one-time link
//!    (`/admin/invitations/{token}`, valid [`INVITE_SECS`]). Only its SHA-256 is stored.
//! 2. Opening the link (GET) changes nothing: mail scanners follow links. The page's "Accept"
//!    button POSTs; [`accept`] consumes the token exactly once (a conditional update, safe across
//!    nodes) and opens a **setup-only session** of at most [`SETUP_SECS`], in which the invitee
//!    can configure connections and nothing else.
//! 3. The invitee signs in through a connection of the tenant. [`bind`] grants the admin role
//!    only if the IdP-asserted email equals the invited address: someone the link was forwarded
//!    to, signing in through the organisation's IdP as themselves, gets nothing. Connections the
//!    setup session adds stay pending until an admin enables them (ADR 0007).
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::audit::{self, AuditEvent};
use crate::clock::{Clock, MICROS};
use crate::crypto::{random_token, sha256_hex};
use crate::db::Store;
use crate::entities::admin_invitations::{self, Column, Entity};
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

/// An invitation link is valid for 7 days.
pub const INVITE_SECS: i64 = 7 * 86_400;
/// A setup-only session lasts at most 24 hours.
pub const SETUP_SECS: i64 = 24 * 3600;

#[derive(Clone, Debug)]
pub struct Invitation {
    pub id: String,
    pub tenant: TenantId,
    pub email: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub setup_expires_at: Option<i64>,
    pub bound_user_id: Option<String>,
    pub revoked_at: Option<i64>,
}

/// What a link is, as its page explains it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    Pending,
    Expired,
    AlreadyUsed,
    Revoked,
}

impl Invitation {
    /// Is its setup-only session live: accepted, not yet bound to an admin, not withdrawn,
    /// within its 24 hours?
    pub fn setup_live(&self, now_us: i64) -> bool {
        self.bound_user_id.is_none()
            && self.revoked_at.is_none()
            && self.setup_expires_at.is_some_and(|e| e > now_us)
    }

    pub fn link_state(&self, now_us: i64) -> LinkState {
        if self.revoked_at.is_some() {
            LinkState::Revoked
        } else if self.accepted_at.is_some() {
            LinkState::AlreadyUsed
        } else if self.expires_at <= now_us {
            LinkState::Expired
        } else {
            LinkState::Pending
        }
    }
}

impl From<admin_invitations::Model> for Invitation {
    fn from(m: admin_invitations::Model) -> Self {
        Invitation {
            id: m.id,
            tenant: TenantId::from_stored(m.tenant_id),
            email: m.email_lower,
            created_by: m.created_by,
            created_at: m.created_at,
            expires_at: m.expires_at,
            accepted_at: m.accepted_at,
            setup_expires_at: m.setup_expires_at,
            bound_user_id: m.bound_user_id,
            revoked_at: m.revoked_at,
        }
    }
}

/// The invitation whose `col` (its id, link-token hash or setup-session hash) is `value`.
async fn find_by<C: ConnectionTrait>(
    conn: &C,
    col: Column,
    value: &str,
) -> CoreResult<Option<Invitation>> {
    Ok(Entity::find()
        .filter(col.eq(value))
        .one(conn)
        .await?
        .map(Invitation::from))
}

/// Invites `email` to administer `tenant`: stores the invitation and queues the email in one
/// transaction. Returns the invitation and the link token (for the caller's own display only;
/// the email is how it normally travels).
pub async fn create(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    email: &str,
    actor: &str,
) -> CoreResult<(Invitation, String)> {
    let email = crate::mail::normalize_address(email)?;
    let token = random_token();
    let now = clock.now_us();
    let inv = Invitation {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: tenant.clone(),
        email: email.clone(),
        created_by: actor.to_string(),
        created_at: now,
        expires_at: now + INVITE_SECS * MICROS,
        accepted_at: None,
        setup_expires_at: None,
        bound_user_id: None,
        revoked_at: None,
    };
    let txn = store.begin().await?;
    let t_row = crate::tenant::get(&txn, tenant).await?;
    Entity::insert(admin_invitations::ActiveModel {
        id: Set(inv.id.clone()),
        tenant_id: Set(tenant.to_string()),
        email_lower: Set(email.clone()),
        token_hash: Set(sha256_hex(&token)),
        created_by: Set(actor.to_string()),
        created_at: Set(now),
        expires_at: Set(inv.expires_at),
        accepted_at: NotSet,
        setup_hash: NotSet,
        setup_expires_at: NotSet,
        bound_user_id: NotSet,
        bound_at: NotSet,
        revoked_at: NotSet,
    })
    .exec_without_returning(&txn)
    .await?;
    let link = format!(
        "{}/admin/invitations/{token}",
        crate::mail::ISSUER_PLACEHOLDER
    );
    let expires = crate::clock::rfc3339(inv.expires_at, chrono::SecondsFormat::Secs);
    let values = [
        ("tenant", t_row.name.as_str()),
        ("link", link.as_str()),
        ("expires", expires.as_str()),
        ("email", email.as_str()),
    ];
    let text = crate::mail::fill(
        include_str!("../../../../web/email/admin-invitation.txt"),
        &values,
        false,
    );
    let html = crate::mail::fill(
        include_str!("../../../../web/email/admin-invitation.html"),
        &values,
        true,
    );
    crate::mail::enqueue(
        &txn,
        clock,
        Some(tenant),
        "admin_invitation",
        std::slice::from_ref(&email),
        &format!("[Gatehouse] You are invited to administer {}", t_row.name),
        &text,
        &html,
    )
    .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "admin.invited")
            .actor(actor)
            .detail("invitation_id", inv.id.as_str())
            .detail("email", email.as_str())
            .detail("expires_at", inv.expires_at),
    )
    .await?;
    txn.commit().await?;
    Ok((inv, token))
}

/// An invitation of `tenant` by id, whatever its state.
pub async fn by_id<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    id: &str,
) -> CoreResult<Option<Invitation>> {
    Ok(find_by(conn, Column::Id, id)
        .await?
        .filter(|i| &i.tenant == tenant))
}

/// The invitation behind a link token, whatever its state (the GET page; consumes nothing).
pub async fn peek<C: ConnectionTrait>(conn: &C, token: &str) -> CoreResult<Option<Invitation>> {
    find_by(conn, Column::TokenHash, &sha256_hex(token)).await
}

/// Accepts a pending invitation exactly once and opens its setup-only session. Returns the
/// invitation and the setup-session secret (for a cookie).
pub async fn accept(
    store: &Store,
    clock: &dyn Clock,
    token: &str,
) -> CoreResult<(Invitation, String)> {
    let now = clock.now_us();
    let hash = sha256_hex(token);
    let txn = store.begin().await?;
    let Some(inv) = find_by(&txn, Column::TokenHash, &hash).await? else {
        return Err(CoreError::NotFound("invitation"));
    };
    match inv.link_state(now) {
        LinkState::Pending => {}
        LinkState::Expired => return Err(CoreError::invalid("this invitation has expired")),
        LinkState::AlreadyUsed => {
            return Err(CoreError::invalid("this invitation was already accepted"))
        }
        LinkState::Revoked => return Err(CoreError::invalid("this invitation was withdrawn")),
    }
    let secret = random_token();
    let setup_until = now + SETUP_SECS * MICROS;
    let n = Entity::update_many()
        .col_expr(Column::AcceptedAt, Expr::value(now))
        .col_expr(Column::SetupHash, Expr::value(sha256_hex(&secret)))
        .col_expr(Column::SetupExpiresAt, Expr::value(setup_until))
        .filter(Column::TokenHash.eq(hash))
        .filter(Column::AcceptedAt.is_null())
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?
        .rows_affected;
    if n != 1 {
        return Err(CoreError::invalid("this invitation was already accepted"));
    }
    // Connections a lapsed setup session of this tenant left pending carry over to this invitee.
    crate::connection::adopt_lapsed_pending(&txn, now, &inv.tenant, &inv.id).await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(&inv.tenant), "admin.invitation_accepted")
            .actor(format!("invitation:{}", inv.id))
            .detail("invitation_id", inv.id.as_str())
            .detail("email", inv.email.as_str())
            .detail("setup_expires_at", setup_until),
    )
    .await?;
    txn.commit().await?;
    Ok((
        Invitation {
            accepted_at: Some(now),
            setup_expires_at: Some(setup_until),
            ..inv
        },
        secret,
    ))
}

/// The live setup-only session behind a cookie value: accepted, not yet bound to an admin,
/// not withdrawn, within its 24 hours.
pub async fn setup_session<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    secret: &str,
) -> CoreResult<Option<Invitation>> {
    let Some(inv) = find_by(conn, Column::SetupHash, &sha256_hex(secret)).await? else {
        return Ok(None);
    };
    Ok(inv.setup_live(clock.now_us()).then_some(inv))
}

/// Ends the setup-only session this cookie secret names, on the server (its cookie alone no
/// longer works anywhere): sign-out from a setup session. Audited. `None` when no live session
/// matched. The invitation link was used once at acceptance, so a new session takes a new
/// invitation.
pub async fn end_setup_session(
    store: &Store,
    clock: &dyn Clock,
    secret: &str,
) -> CoreResult<Option<Invitation>> {
    let now = clock.now_us();
    let txn = store.begin().await?;
    let Some(inv) = setup_session(&txn, clock, secret).await? else {
        return Ok(None);
    };
    Entity::update_many()
        .col_expr(Column::SetupExpiresAt, Expr::value(now))
        .filter(Column::Id.eq(inv.id.clone()))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(&inv.tenant), "admin.setup_session_ended")
            .actor(format!("setup:{}", inv.id))
            .detail("email", inv.email.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(Some(inv))
}

/// The live setup session of an invitation by id (a sign-in started from it carries the id).
pub async fn live_by_id<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
) -> CoreResult<Option<Invitation>> {
    let Some(inv) = find_by(conn, Column::Id, id).await? else {
        return Ok(None);
    };
    let live = &inv.tenant == tenant && inv.setup_live(clock.now_us());
    Ok(live.then_some(inv))
}

/// The end of a sign-in started from a setup session: grants the admin role when the IdP's
/// email is the invited one (case-insensitive), else records the mismatch and grants nothing.
/// Runs in the sign-in's transaction. Returns whether the role was granted.
pub async fn bind<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    invitation_id: &str,
    user_id: &str,
    idp_email: Option<&str>,
) -> CoreResult<bool> {
    let Some(inv) = live_by_id(conn, clock, tenant, invitation_id).await? else {
        return Ok(false);
    };
    let matches = idp_email.is_some_and(|e| e.trim().to_lowercase() == inv.email);
    if !matches {
        audit::record(
            conn,
            clock,
            AuditEvent::new(Some(tenant), "admin.invitation_email_mismatch")
                .result("failure")
                .actor(format!("invitation:{}", inv.id))
                .user(user_id.to_string())
                .detail("invitation_id", inv.id.as_str())
                .detail("invited_email", inv.email.as_str())
                .detail("idp_email", idp_email.map(str::to_string)),
        )
        .await?;
        return Ok(false);
    }
    let n = Entity::update_many()
        .col_expr(Column::BoundUserId, Expr::value(user_id))
        .col_expr(Column::BoundAt, Expr::value(clock.now_us()))
        .filter(Column::Id.eq(inv.id.clone()))
        .filter(Column::BoundUserId.is_null())
        .filter(Column::RevokedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected;
    if n != 1 {
        return Ok(false);
    }
    super::role::grant(
        conn,
        clock,
        tenant,
        user_id,
        "invitation",
        Some(&inv.id),
        &format!("invitation:{}", inv.id),
    )
    .await?;
    Ok(true)
}

/// The tenant's invitations, newest first.
pub async fn list<C: ConnectionTrait>(conn: &C, tenant: &TenantId) -> CoreResult<Vec<Invitation>> {
    Ok(Entity::find()
        .filter(Column::TenantId.eq(tenant.to_string()))
        .order_by_desc(Column::CreatedAt)
        .all(conn)
        .await?
        .into_iter()
        .map(Invitation::from)
        .collect())
}

/// Withdraws an invitation (its link and any setup session stop working), audited.
pub async fn revoke(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    actor: &str,
) -> CoreResult<()> {
    let txn = store.begin().await?;
    revoke_in(&txn, clock, tenant, id, actor).await?;
    txn.commit().await?;
    Ok(())
}

/// [`revoke`] inside the caller's transaction. Returns the invitation as it was (its link
/// state and setup session say what the withdrawal ended). An invitation already withdrawn is
/// not found.
pub async fn revoke_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    actor: &str,
) -> CoreResult<Invitation> {
    let before = by_id(txn, tenant, id)
        .await?
        .filter(|i| i.revoked_at.is_none())
        .ok_or(CoreError::NotFound("invitation"))?;
    Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(clock.now_us()))
        .filter(Column::TenantId.eq(tenant.to_string()))
        .filter(Column::Id.eq(id))
        .filter(Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    audit::record(
        txn,
        clock,
        AuditEvent::new(Some(tenant), "admin.invitation_revoked")
            .actor(actor)
            .detail("invitation_id", id),
    )
    .await?;
    Ok(before)
}

/// Gives a pending (or expired, never accepted) invitation a fresh [`INVITE_SECS`] from now,
/// inside the caller's transaction: the link already mailed works again. A used or withdrawn
/// invitation cannot be extended (invite again instead).
pub async fn extend_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    actor: &str,
) -> CoreResult<Invitation> {
    let inv = by_id(txn, tenant, id)
        .await?
        .ok_or(CoreError::NotFound("invitation"))?;
    if inv.revoked_at.is_some() || inv.accepted_at.is_some() {
        return Err(CoreError::invalid(
            "only an invitation that was never accepted or withdrawn can be extended; invite again instead",
        ));
    }
    let until = clock.now_us() + INVITE_SECS * MICROS;
    Entity::update_many()
        .col_expr(Column::ExpiresAt, Expr::value(until))
        .filter(Column::TenantId.eq(tenant.to_string()))
        .filter(Column::Id.eq(id))
        .exec(txn)
        .await?;
    audit::record(
        txn,
        clock,
        AuditEvent::new(Some(tenant), "admin.invitation_extended")
            .actor(actor)
            .detail("invitation_id", id)
            .detail("expires_at", until),
    )
    .await?;
    Ok(Invitation {
        expires_at: until,
        ..inv
    })
}
