//! Calls per user and minute through the gateway, per tier of the tool called (tenant setting
//! `gateway_calls_per_minute`), counted in the shared database so every gateway node counts
//! against the same budget.
//!
//! Writing one upsert per call serialises every call of a user on one row (measured: a
//! gateway at 6 % of the upstream's throughput, `docs/benchmarks.md`). So each node counts in
//! memory and adds its count to the shared row in one statement ([`ratelimit::hit_by`]) when
//! its copy is a second old, or on every call once the count is within 20 % of the limit.
//! Far from the limit a node may not yet see up to a second of the other nodes' calls; near
//! it, every call reads and writes the shared count, so the limit holds exactly where it
//! matters. A rate limit is not a revocation: nothing here decides whether a token is valid.
use std::collections::HashMap;
use std::sync::Mutex;

use authz_core::admin::settings;
use authz_core::clock::{Clock, MICROS};
use authz_core::scope::Tier;
use authz_core::{ratelimit, CoreResult};
use sea_orm::ConnectionTrait;

use super::TokenHolder;

const WINDOW_SECS: i64 = 60;
/// How old a node's copy of a shared count may grow before the node adds its calls to it.
const SYNC_AFTER_US: i64 = MICROS;

/// Over the limit: which tier, and the seconds until the window ends (`Retry-After`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimited {
    pub tier: Tier,
    pub retry_after_secs: i64,
}

/// This node's view of the shared counters (one per gateway process).
#[derive(Default)]
pub struct CallCounter {
    buckets: Mutex<HashMap<String, Local>>,
}

#[derive(Clone, Copy, Default)]
struct Local {
    window: i64,
    /// The shared count when this node last added to it.
    shared: i64,
    /// Calls counted here and not yet added to the shared row.
    pending: i64,
    /// None: never read in this window (the first call always reads the shared count).
    synced_at_us: Option<i64>,
}

/// What to do after counting one call locally.
enum Step {
    /// The local estimate decides.
    Decided(i64),
    /// Add `pending` calls to the shared row first.
    Flush(i64),
}

impl CallCounter {
    fn count_one(&self, bucket: &str, window: i64, now_us: i64, limit: i64) -> Step {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, l| l.window == window);
        }
        let l = map.entry(bucket.to_string()).or_default();
        if l.window != window {
            *l = Local {
                window,
                ..Local::default()
            };
        }
        l.pending += 1;
        let estimate = l.shared + l.pending;
        let near_limit = estimate * 5 >= limit * 4;
        let stale = l.synced_at_us.is_none_or(|t| now_us - t >= SYNC_AFTER_US);
        if near_limit || stale {
            let n = l.pending;
            l.pending = 0;
            l.synced_at_us = Some(now_us);
            Step::Flush(n)
        } else {
            Step::Decided(estimate)
        }
    }

    /// The shared count after this node's flush, plus what was counted here meanwhile.
    fn synced(&self, bucket: &str, window: i64, shared: i64) -> i64 {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(bucket) {
            Some(l) if l.window == window => {
                l.shared = l.shared.max(shared);
                l.shared + l.pending
            }
            _ => shared,
        }
    }
}

/// Counts one call for each entry of `tiers` (a batch counts each of its calls) and says
/// whether any went over. The tenant's limits are read through the settings cache (stale by
/// at most `settings::CACHE_SECS`).
pub async fn count_calls<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    counter: &CallCounter,
    holder: &TokenHolder,
    tiers: &[Tier],
) -> CoreResult<Option<RateLimited>> {
    if tiers.is_empty() {
        return Ok(None);
    }
    let limits = settings::get_cached(conn, holder.tenant()).await?;
    let now = clock.now_us();
    let window = now / (WINDOW_SECS * MICROS);
    for tier in tiers {
        let limit = limits.gateway_calls_per_minute(*tier);
        let bucket = format!(
            "gateway:{}:{}:{}",
            holder.tenant(),
            holder.user_id(),
            tier.as_str()
        );
        let n = match counter.count_one(&bucket, window, now, limit) {
            Step::Decided(n) => n,
            Step::Flush(pending) => {
                let shared = ratelimit::hit_by(conn, clock, &bucket, WINDOW_SECS, pending).await?;
                counter.synced(&bucket, window, shared)
            }
        };
        if n > limit {
            let into_window = (now / MICROS).rem_euclid(WINDOW_SECS);
            return Ok(Some(RateLimited {
                tier: *tier,
                retry_after_secs: (WINDOW_SECS - into_window).max(1),
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_from_the_limit_a_node_flushes_once_a_second_and_near_it_on_every_call() {
        let c = CallCounter::default();
        let (b, w, limit) = ("k", 1, 100);
        // The first call always reads the shared count.
        assert!(matches!(c.count_one(b, w, 0, limit), Step::Flush(1)));
        assert_eq!(c.synced(b, w, 1), 1);
        for i in 2..=10 {
            assert!(matches!(c.count_one(b, w, 1000, limit), Step::Decided(n) if n == i));
        }
        // A second later, the nine calls counted here go to the shared row at once.
        assert!(matches!(c.count_one(b, w, MICROS, limit), Step::Flush(10)));
        // Another node's 70 calls show up in the shared count: now within 20 % of the limit.
        assert_eq!(c.synced(b, w, 80), 80);
        assert!(matches!(
            c.count_one(b, w, MICROS + 1, limit),
            Step::Flush(1)
        ));
        // A new window starts from nothing.
        assert!(matches!(
            c.count_one(b, w + 1, MICROS + 2, limit),
            Step::Flush(1)
        ));
    }
}
