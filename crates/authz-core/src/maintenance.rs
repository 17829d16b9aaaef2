//! Housekeeping every node runs (the work is idempotent, so nodes may overlap): rows whose
//! purpose has passed are deleted a day after they expired, so unauthenticated traffic
//! (authorization requests, sign-ins) cannot grow the store without bound.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::clock::{Clock, MICROS};
use crate::db::Store;
use crate::entities::{
    auth_codes, browser_sessions, login_transactions, rate_limits, saml_handles, saml_requests,
    tokens, used_jtis,
};
use crate::error::CoreResult;

/// How long an expired row is kept (for support and forensics) before it is deleted.
pub const GRACE_SECS: i64 = 86_400;

/// Deletes the rows of one table whose `expires_at` is before `cutoff`.
async fn purge<E: EntityTrait>(
    store: &Store,
    expires_at: E::Column,
    cutoff: i64,
) -> CoreResult<u64> {
    Ok(E::delete_many()
        .filter(expires_at.lt(cutoff))
        .exec(&store.db)
        .await?
        .rows_affected)
}

/// Tables with an `expires_at` column whose expired rows carry no further meaning are purged.
/// Expired tokens can go too: refresh tokens expire with their grant family, so reuse detection
/// has nothing left to protect. Audit records are never purged here (retention is separate).
pub async fn purge_expired(store: &Store, clock: &dyn Clock) -> CoreResult<u64> {
    let cutoff = clock.now_us() - GRACE_SECS * MICROS;
    let mut n = 0;
    n += purge::<login_transactions::Entity>(store, login_transactions::Column::ExpiresAt, cutoff)
        .await?;
    n += purge::<auth_codes::Entity>(store, auth_codes::Column::ExpiresAt, cutoff).await?;
    n += purge::<saml_requests::Entity>(store, saml_requests::Column::ExpiresAt, cutoff).await?;
    n += purge::<saml_handles::Entity>(store, saml_handles::Column::ExpiresAt, cutoff).await?;
    n += purge::<browser_sessions::Entity>(store, browser_sessions::Column::ExpiresAt, cutoff)
        .await?;
    n += purge::<tokens::Entity>(store, tokens::Column::ExpiresAt, cutoff).await?;
    // A JWT id is kept only while its JWT could still be presented: no grace.
    n += purge::<used_jtis::Entity>(store, used_jtis::Column::ExpiresAt, clock.now_us()).await?;
    // Rate-limit windows (stored by their start, in seconds) older than a day.
    n += rate_limits::Entity::delete_many()
        .filter(rate_limits::Column::WindowStart.lt(clock.now_s() - GRACE_SECS))
        .exec(&store.db)
        .await?
        .rows_affected;
    n += crate::upstream_session::purge_old(&store.db, clock).await?;
    Ok(n)
}
