//! Switching accounts in one browser (security review F1). A completed sign-in never silently
//! replaces a live session of another person or organisation: the new session waits in a
//! short-lived cookie while the person sees both accounts and chooses. Without this, one
//! navigation started by another site could swap the session that the person's MCP clients
//! later reuse.
use authz_core::crypto::sha256_hex;
use authz_core::session::{self, Session};
use authz_core::{tenant, user, TenantId};

use super::{Env, SignInError};

/// How long a completed sign-in waits for the person's choice (the pending cookie's age).
pub const PENDING_SECS: i64 = 600;

/// A completed sign-in waiting for the person to confirm the switch.
#[derive(Debug)]
pub struct Pending {
    /// The account and organisation signed in now, and the one the sign-in would replace.
    pub current_account: String,
    pub current_org: String,
    pub new_account: String,
    pub new_org: String,
    /// The new session's cookie value, held in the pending cookie until the person chooses.
    pub secret: String,
}

/// The switch form's token: derived from the pending session's secret, which only this
/// browser's cookie carries (a cross-site POST carries no Lax cookie at all).
pub fn csrf(pending_secret: &str) -> String {
    sha256_hex(&format!("switch|{pending_secret}"))
}

/// The live session of `current_cookie`, when it belongs to someone other than `user_id` of
/// `tenant` (a re-authentication of the same person replaces it without asking).
pub(crate) async fn other_session(
    env: &Env<'_>,
    current_cookie: Option<&str>,
    tenant: &TenantId,
    user_id: &str,
) -> Result<Option<Session>, SignInError> {
    let Some(c) = current_cookie else {
        return Ok(None);
    };
    Ok(session::find_active(env.db(), env.clock, c)
        .await?
        .filter(|s| &s.tenant != tenant || s.user_id != user_id))
}

/// Who a session is, for the person: account and organisation.
async fn describe(env: &Env<'_>, s: &Session) -> Result<(String, String), SignInError> {
    let u = user::get(env.db(), &s.tenant, &s.user_id).await?;
    let t = tenant::get(env.db(), &s.tenant).await?;
    Ok((u.email.or(u.name).unwrap_or(u.subject), t.name))
}

/// What the confirmation page shows: `previous` and the `pending` session of `secret`.
pub(crate) async fn pending(
    env: &Env<'_>,
    previous: &Session,
    pending: &Session,
    secret: String,
) -> Result<Pending, SignInError> {
    let (current_account, current_org) = describe(env, previous).await?;
    let (new_account, new_org) = describe(env, pending).await?;
    Ok(Pending {
        current_account,
        current_org,
        new_account,
        new_org,
        secret,
    })
}

/// The person's answer. `pending_secret` is the pending cookie's value; `verified` is the
/// edge's check of the form (not cross-site, and its token is [`csrf`] of that secret). With
/// `continues`, the pending session becomes this browser's (the edge sets its cookie);
/// otherwise it is revoked and the previous one kept. Refused: nothing changes.
pub async fn decide(
    env: &Env<'_>,
    pending_secret: Option<&str>,
    verified: impl FnOnce(&str) -> bool,
    continues: bool,
) -> Result<(), SignInError> {
    let secret = pending_secret.ok_or(SignInError::SwitchRefused)?;
    if !verified(secret) {
        return Err(SignInError::SwitchRefused);
    }
    let pending = session::find_active(env.db(), env.clock, secret)
        .await?
        .ok_or(SignInError::SwitchRefused)?;
    if !continues {
        session::revoke_one(env.db(), env.clock, &pending.tenant, &pending.id).await?;
    }
    Ok(())
}
