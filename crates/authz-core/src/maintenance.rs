//! Housekeeping every node runs (the work is idempotent, so nodes may overlap): rows whose
//! purpose has passed are deleted a day after they expired, so unauthenticated traffic
//! (authorization requests, sign-ins) cannot grow the store without bound.
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::clock::{Clock, MICROS};
use crate::db::Store;
use crate::entities::rate_limits;
use crate::error::CoreResult;

/// How long an expired row is kept (for support and forensics) before it is deleted.
pub const GRACE_SECS: i64 = 86_400;

/// Tables with an `expires_at` column whose expired rows carry no further meaning. Expired
/// tokens can go too: refresh tokens expire with their grant family, so reuse detection has
/// nothing left to protect. Audit records are never purged here (retention is separate).
const EXPIRING: [&str; 6] = [
    "login_transactions",
    "auth_codes",
    "saml_requests",
    "saml_handles",
    "browser_sessions",
    "tokens",
];

pub async fn purge_expired(store: &Store, clock: &dyn Clock) -> CoreResult<u64> {
    let cutoff = clock.now_us() - GRACE_SECS * MICROS;
    let mut n = 0;
    for table in EXPIRING {
        let q = Query::delete()
            .from_table(Alias::new(table))
            .and_where(Expr::col(Alias::new("expires_at")).lt(cutoff))
            .to_owned();
        let stmt = store.db.get_database_backend().build(&q);
        n += store.db.execute(stmt).await?.rows_affected();
    }
    // Rate-limit windows (stored by their start, in seconds) older than a day.
    n += rate_limits::Entity::delete_many()
        .filter(rate_limits::Column::WindowStart.lt(clock.now_s() - GRACE_SECS))
        .exec(&store.db)
        .await?
        .rows_affected;
    n += crate::upstream_session::purge_old(&store.db, clock).await?;
    Ok(n)
}
