//! What Gatehouse keeps of the IdP sign-in behind a Gatehouse session, so that a leaver loses
//! access without SCIM (DESIGN §4b): the upstream OIDC refresh token (sealed with the master
//! key, like a connection's client secret, DESIGN §6.2) and when the IdP last vouched for the
//! person. A refresh of a grant family started from the session asks the IdP again through
//! [`UpstreamRefresher`] (RFC 6749 §6) once the tenant's interval has passed
//! (`token::upstream_check`).
use async_trait::async_trait;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::clock::{Clock, MICROS};
use crate::connection::Connection;
use crate::crypto::MasterKey;
use crate::entities::upstream_sessions;
use crate::error::CoreResult;
use crate::tenant::TenantId;

/// What the IdP answered a `refresh_token` grant (RFC 6749 §6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamAnswer {
    /// The grant still stands. The IdP may have issued a new refresh token (RFC 6749 §6: "the
    /// authorization server MAY issue a new refresh token"); it replaces the stored one.
    Valid { rotated: Option<String> },
    /// The IdP answered `invalid_grant` (RFC 6749 §5.2): the person was suspended or deleted, or
    /// the grant revoked (Google, Entra and Okta revoke a suspended user's refresh tokens).
    Revoked { detail: String },
    /// No answer that says either: network error, timeout, 5xx, another error code, a
    /// malformed response. Neither revokes nor extends access.
    Unreachable { detail: String },
}

/// The upstream refresh call, implemented by the OIDC relying party (through the SSRF-safe
/// fetcher); a stub in tests.
#[async_trait]
pub trait UpstreamRefresher: Send + Sync {
    async fn refresh(
        &self,
        connection: &Connection,
        client_secret: &str,
        refresh_token: &str,
    ) -> UpstreamAnswer;
}

/// How long a node holds the right to check one session (longer than the fetcher's timeout),
/// so two nodes never present one possibly rotating upstream token at once.
pub const LEASE_SECS: i64 = 30;

/// The sign-in behind a session.
pub struct SignIn<'a> {
    pub tenant: &'a TenantId,
    pub session_id: &'a str,
    pub connection_id: &'a str,
    pub user_id: &'a str,
    /// The refresh token the IdP returned with the code exchange, if any.
    pub refresh_token: Option<&'a str>,
    /// Without a new refresh token, reuse the person's latest one for this connection. Only for
    /// IdPs whose refresh tokens do not rotate and are returned on first consent only (Google):
    /// a copy of a rotating token would be spent by one session and fail in the other.
    pub reuse_previous: bool,
}

/// Records the IdP sign-in behind a new session (inside the sign-in's transaction).
pub async fn record_sign_in<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    key: &MasterKey,
    s: &SignIn<'_>,
) -> CoreResult<()> {
    let sealed = match s.refresh_token {
        Some(rt) if !rt.is_empty() => Some(key.seal(rt.as_bytes())?),
        _ if s.reuse_previous => upstream_sessions::Entity::find()
            .filter(upstream_sessions::Column::TenantId.eq(s.tenant.to_string()))
            .filter(upstream_sessions::Column::ConnectionId.eq(s.connection_id))
            .filter(upstream_sessions::Column::UserId.eq(s.user_id))
            .filter(upstream_sessions::Column::RefreshTokenEnc.is_not_null())
            .order_by_desc(upstream_sessions::Column::CreatedAt)
            .one(conn)
            .await?
            .and_then(|m| m.refresh_token_enc),
        _ => None,
    };
    let now = clock.now_us();
    upstream_sessions::Entity::insert(upstream_sessions::ActiveModel {
        session_id: Set(s.session_id.to_string()),
        tenant_id: Set(s.tenant.to_string()),
        connection_id: Set(s.connection_id.to_string()),
        user_id: Set(s.user_id.to_string()),
        refresh_token_enc: Set(sealed),
        checked_at: Set(now),
        attempted_at: Set(None),
        created_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The record behind a session of `tenant`, if any.
pub async fn get<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    session_id: &str,
) -> CoreResult<Option<upstream_sessions::Model>> {
    Ok(
        upstream_sessions::Entity::find_by_id(session_id.to_string())
            .filter(upstream_sessions::Column::TenantId.eq(tenant.to_string()))
            .one(conn)
            .await?,
    )
}

/// Takes the lease to check the session at the IdP now: only if a check is due (the last one is
/// at least `interval_secs` old) and no other node holds a live lease. One conditional UPDATE,
/// so exactly one of several racing nodes wins.
pub async fn claim_check<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    session_id: &str,
    interval_secs: i64,
) -> CoreResult<bool> {
    use sea_orm::sea_query::Condition;
    let now = clock.now_us();
    let r = upstream_sessions::Entity::update_many()
        .col_expr(upstream_sessions::Column::AttemptedAt, Some(now).into())
        .filter(upstream_sessions::Column::SessionId.eq(session_id))
        .filter(upstream_sessions::Column::TenantId.eq(tenant.to_string()))
        .filter(upstream_sessions::Column::CheckedAt.lte(now - interval_secs * MICROS))
        .filter(
            Condition::any()
                .add(upstream_sessions::Column::AttemptedAt.is_null())
                .add(upstream_sessions::Column::AttemptedAt.lt(now - LEASE_SECS * MICROS)),
        )
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

/// The IdP vouched for the person now; keeps a rotated refresh token (sealed).
pub async fn record_success<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    key: &MasterKey,
    tenant: &TenantId,
    session_id: &str,
    rotated: Option<&str>,
) -> CoreResult<()> {
    let mut q = upstream_sessions::Entity::update_many()
        .col_expr(upstream_sessions::Column::CheckedAt, clock.now_us().into())
        .col_expr(
            upstream_sessions::Column::AttemptedAt,
            Option::<i64>::None.into(),
        );
    if let Some(rt) = rotated.filter(|r| !r.is_empty()) {
        q = q.col_expr(
            upstream_sessions::Column::RefreshTokenEnc,
            Some(key.seal(rt.as_bytes())?).into(),
        );
    }
    q.filter(upstream_sessions::Column::SessionId.eq(session_id))
        .filter(upstream_sessions::Column::TenantId.eq(tenant.to_string()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Forgets the upstream refresh token of a session (the IdP revoked it: a dead credential is
/// not kept, and a later sign-in does not inherit it).
pub async fn forget_token<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    session_id: &str,
) -> CoreResult<()> {
    upstream_sessions::Entity::update_many()
        .col_expr(
            upstream_sessions::Column::RefreshTokenEnc,
            Option::<String>::None.into(),
        )
        .filter(upstream_sessions::Column::SessionId.eq(session_id))
        .filter(upstream_sessions::Column::TenantId.eq(tenant.to_string()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Rows no grant family can still use: families start within a session's life and live at most
/// 90 days (DESIGN §5), so a record older than that (plus a day) is deleted by housekeeping.
pub async fn purge_old<C: ConnectionTrait>(conn: &C, clock: &dyn Clock) -> CoreResult<u64> {
    let max_days = crate::admin::settings::REFRESH_LIFETIME_DAYS.1 + 2;
    Ok(upstream_sessions::Entity::delete_many()
        .filter(
            upstream_sessions::Column::CreatedAt.lt(clock.now_us() - max_days * 86_400 * MICROS),
        )
        .exec(conn)
        .await?
        .rows_affected)
}
