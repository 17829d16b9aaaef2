//! A credential presented a second time — a replayed authorization code or a rotated-out refresh
//! token — is a sign of theft: the grant is revoked, the event audited and the tenant's alert
//! recipients mailed, the same way for both (RFC 9700 §4.5, §4.14.2).
use sea_orm::ConnectionTrait;

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::error::CoreResult;
use crate::tenant::TenantId;

/// What was presented twice.
pub(crate) struct Replay<'a> {
    /// The audit action, e.g. `code.replay_detected`.
    pub action: &'static str,
    /// The alert kind and its title.
    pub alert: (&'static str, &'static str),
    pub meaning: &'static str,
    pub tenant: &'a TenantId,
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub session_id: &'a str,
    pub tokens_revoked: u64,
}

/// Audits the replay and queues the alert, in the caller's transaction.
pub(crate) async fn report<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    r: Replay<'_>,
) -> CoreResult<()> {
    // `refresh_token.reuse_detected` → `refresh_token`, `code.replay_detected` → `code`.
    crate::metrics::replay(r.action.split('.').next().unwrap_or(r.action));
    audit::record(
        conn,
        clock,
        AuditEvent::new(Some(r.tenant), r.action)
            .result("denied")
            .user(r.user_id.to_string())
            .client(r.client_id.to_string())
            .session(r.session_id.to_string())
            .detail("tokens_revoked", r.tokens_revoked)
            .detail("alert", true),
    )
    .await?;
    crate::mail::alert(
        conn,
        clock,
        r.tenant,
        r.alert.0,
        r.alert.1,
        r.action,
        &[
            ("Client", r.client_id.to_string()),
            ("User", r.user_id.to_string()),
            ("Tokens revoked", r.tokens_revoked.to_string()),
            ("What it means", r.meaning.to_string()),
        ],
    )
    .await
}
