//! Calls per user and minute through the gateway, per tier of the tool called (tenant setting
//! `gateway_calls_per_minute`). Counted in the shared database (`ratelimit::hit`, one upsert per
//! call) so every gateway node counts against the same budget.
use authz_core::admin::settings;
use authz_core::clock::{Clock, MICROS};
use authz_core::scope::Tier;
use authz_core::{ratelimit, CoreResult};
use sea_orm::ConnectionTrait;

use super::TokenHolder;

const WINDOW_SECS: i64 = 60;

/// Over the limit: which tier, and the seconds until the window ends (`Retry-After`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimited {
    pub tier: Tier,
    pub retry_after_secs: i64,
}

/// Counts one call for each entry of `tiers` (a batch counts each of its calls) and says
/// whether any went over. The tenant's limits are read through the settings cache (stale by
/// at most `settings::CACHE_SECS`).
pub async fn count_calls<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    holder: &TokenHolder,
    tiers: &[Tier],
) -> CoreResult<Option<RateLimited>> {
    if tiers.is_empty() {
        return Ok(None);
    }
    let limits = settings::get_cached(conn, holder.tenant()).await?;
    for tier in tiers {
        let bucket = format!(
            "gateway:{}:{}:{}",
            holder.tenant(),
            holder.user_id(),
            tier.as_str()
        );
        let n = ratelimit::hit(conn, clock, &bucket, WINDOW_SECS).await?;
        if n > limits.gateway_calls_per_minute(*tier) {
            let into_window = (clock.now_us() / MICROS).rem_euclid(WINDOW_SECS);
            return Ok(Some(RateLimited {
                tier: *tier,
                retry_after_secs: (WINDOW_SECS - into_window).max(1),
            }));
        }
    }
    Ok(None)
}
