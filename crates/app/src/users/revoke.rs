//! Revocation by an admin or the operator: everything a user holds (every grant, refresh and
//! access token), or one of their browser sessions. Each in one transaction with its audit
//! record, so a revocation is never half done or unrecorded.
use authz_core::audit::{self, AuditEvent};
use authz_core::clock::Clock;
use authz_core::token::revoke;
use authz_core::{session, user, CoreError, Store, TenantId};

use crate::principal::{Operator, TenantAdmin};

/// Why nothing was revoked.
#[derive(Debug)]
pub enum RevokeError {
    /// The user is not one of the tenant's (the lookup's own error, for the API's problem).
    UnknownUser(CoreError),
    /// The session is not a live session of that user.
    UnknownSession,
    Core(CoreError),
}

impl From<CoreError> for RevokeError {
    fn from(e: CoreError) -> Self {
        RevokeError::Core(e)
    }
}

impl From<sea_orm::DbErr> for RevokeError {
    fn from(e: sea_orm::DbErr) -> Self {
        RevokeError::Core(e.into())
    }
}

/// Revokes every grant and token of the user `user_id` of the admin's tenant (RFC 7009 §2.1:
/// revoking a refresh token revokes the access tokens of its grant too); returns how many
/// tokens.
pub async fn all_of_user(
    store: &Store,
    clock: &dyn Clock,
    admin: &TenantAdmin,
    user_id: &str,
) -> Result<u64, RevokeError> {
    let txn = store.begin().await?;
    let u = user::get(&txn, admin.tenant(), user_id)
        .await
        .map_err(RevokeError::UnknownUser)?;
    let n = revoke::revoke_user(&txn, clock, admin.tenant(), &u.id, admin.actor()).await?;
    txn.commit().await?;
    Ok(n)
}

/// What the operator revoked for an email: how many accounts had it, how many tokens.
pub struct ByEmail {
    pub users: usize,
    pub tokens: u64,
}

/// The operator (CLI) revokes everything of every account of `tenant` with this email (one
/// person may have signed in through several connections). `None`: no such user.
pub async fn all_of_email(
    store: &Store,
    clock: &dyn Clock,
    operator: &Operator,
    tenant: &TenantId,
    email: &str,
) -> Result<Option<ByEmail>, CoreError> {
    let users = user::find_by_email(&store.db, tenant, email).await?;
    if users.is_empty() {
        return Ok(None);
    }
    let txn = store.begin().await?;
    let mut tokens = 0;
    for u in &users {
        tokens += revoke::revoke_user(&txn, clock, tenant, &u.id, operator.actor()).await?;
    }
    txn.commit().await?;
    Ok(Some(ByEmail {
        users: users.len(),
        tokens,
    }))
}

/// Ends one live browser session of the user `user_id` (the admin saw it on the user's page);
/// audited as `session.revoked`.
pub async fn session(
    store: &Store,
    clock: &dyn Clock,
    admin: &TenantAdmin,
    user_id: &str,
    session_id: &str,
) -> Result<(), RevokeError> {
    let t = admin.tenant();
    let u = user::get(&store.db, t, user_id)
        .await
        .map_err(RevokeError::UnknownUser)?;
    let live = session::list_for_user(&store.db, clock, t, &u.id).await?;
    if !live.iter().any(|s| s.id == session_id) {
        return Err(RevokeError::UnknownSession);
    }
    let txn = store.begin().await?;
    session::revoke_one(&txn, clock, t, session_id).await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(t), "session.revoked")
            .actor(admin.actor())
            .user(u.id.clone())
            .session(session_id.to_string()),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
