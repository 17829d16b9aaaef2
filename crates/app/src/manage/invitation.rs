//! A tenant's admin invitations: list, show, extend (the link already mailed works for
//! another seven days) and remove (withdraw: the link and any setup session stop at once).
use authz_core::admin::invitation::{self, Invitation, LinkState};
use authz_core::clock::Clock;
use authz_core::{CoreError, CoreResult, Store, TenantId};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{finish, time, Impact, Removed};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    /// Who invited (as the audit log names them).
    pub invited_by: String,
    pub created_at: String,
    pub expires_at: String,
    /// `pending`, `expired`, `accepted` (setup session open or done), `admin` (bound to an
    /// administrator) or `revoked`.
    pub status: String,
}

impl InvitationView {
    pub fn new(i: &Invitation, now_us: i64) -> Self {
        let status = if i.bound_user_id.is_some() {
            "admin"
        } else {
            match i.link_state(now_us) {
                LinkState::Pending => "pending",
                LinkState::Expired => "expired",
                LinkState::AlreadyUsed => "accepted",
                LinkState::Revoked => "revoked",
            }
        };
        InvitationView {
            id: i.id.clone(),
            email: i.email.clone(),
            invited_by: i.created_by.clone(),
            created_at: time(i.created_at),
            expires_at: time(i.expires_at),
            status: status.into(),
        }
    }
}

pub async fn list<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
) -> CoreResult<Vec<InvitationView>> {
    let now = clock.now_us();
    Ok(invitation::list(conn, tenant)
        .await?
        .iter()
        .map(|i| InvitationView::new(i, now))
        .collect())
}

pub async fn show<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
) -> CoreResult<InvitationView> {
    let i = invitation::by_id(conn, tenant, id)
        .await?
        .ok_or(CoreError::NotFound("invitation"))?;
    Ok(InvitationView::new(&i, clock.now_us()))
}

/// What may change on an invitation: `extend: true` gives it seven days from now.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationChange {
    #[serde(default)]
    pub extend: bool,
}

pub async fn update(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    change: &InvitationChange,
    actor: &str,
) -> CoreResult<InvitationView> {
    if !change.extend {
        return show(&store.db, clock, tenant, id).await;
    }
    let txn = store.begin().await?;
    let i = invitation::extend_in(&txn, clock, tenant, id, actor).await?;
    txn.commit().await?;
    Ok(InvitationView::new(&i, clock.now_us()))
}

/// Withdraws the invitation (`dry_run`: only says what it would stop): a pending link stops
/// working and an open setup session ends.
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    actor: &str,
    dry_run: bool,
) -> CoreResult<Removed<InvitationView>> {
    let now = clock.now_us();
    let txn = store.begin().await?;
    let i = invitation::revoke_in(&txn, clock, tenant, id, actor).await?;
    finish(txn, dry_run).await?;
    let pending = i.link_state(now) == LinkState::Pending;
    let mut removed = InvitationView::new(&i, now);
    if !dry_run {
        removed.status = "revoked".into();
    }
    Ok(Removed {
        removed,
        revoked: Impact {
            credentials: pending as u64,
            sessions: i.setup_live(now) as u64,
            ..Impact::default()
        },
    })
}
