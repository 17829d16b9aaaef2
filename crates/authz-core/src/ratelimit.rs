//! Fixed-window counters in the shared database, so every node counts against the same limit.
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryTrait, Set};
use std::net::{IpAddr, Ipv6Addr};

use crate::clock::{Clock, MICROS};
use crate::entities::rate_limits::{self, Column, Entity};
use crate::error::CoreResult;

pub mod node;

/// Adds one hit to `bucket` in the current window and returns the window's count: one
/// statement (an upsert returning the row), so concurrent nodes never lose a hit.
pub async fn hit<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    bucket: &str,
    window_secs: i64,
) -> CoreResult<i64> {
    hit_by(conn, clock, bucket, window_secs, 1).await
}

/// Adds `n` hits at once (a node flushing the hits it counted locally) and returns the
/// window's count, in the same one statement as [`hit`].
pub async fn hit_by<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    bucket: &str,
    window_secs: i64,
    n: i64,
) -> CoreResult<i64> {
    let window = window_start(clock, window_secs);
    let mut q = Entity::insert(rate_limits::ActiveModel {
        bucket: Set(bucket.to_string()),
        window_start: Set(window),
        hits: Set(n),
    })
    .on_conflict(
        OnConflict::columns([Column::Bucket, Column::WindowStart])
            .value(Column::Hits, Expr::col((Entity, Column::Hits)).add(n))
            .to_owned(),
    )
    .into_query();
    q.returning_all();
    let row = Entity::find()
        .from_raw_sql(conn.get_database_backend().build(&q))
        .one(conn)
        .await?
        .ok_or_else(|| DbErr::Custom("rate limit upsert returned no row".into()))?;
    Ok(row.hits)
}

/// The current window's count for `bucket`, without adding a hit.
pub async fn count<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    bucket: &str,
    window_secs: i64,
) -> CoreResult<i64> {
    let window = window_start(clock, window_secs);
    Ok(Entity::find_by_id((bucket.to_string(), window))
        .one(conn)
        .await?
        .map_or(0, |r| r.hits))
}

/// The current window, stored by its start in seconds so old windows can be pruned by age.
/// Every counter of a window length uses it, in the database and in a node's memory, so their
/// windows line up.
pub fn window_start(clock: &dyn Clock, window_secs: i64) -> i64 {
    clock.now_us() / (window_secs * MICROS) * window_secs
}

/// The bucket key of a client address, the one key every per-source limit uses (security
/// review F9): an IPv4 address as is; an IPv6 address by its /64, the smallest block a
/// subscriber is assigned (RFC 6177), so rotating through the 2^64 addresses of one network
/// does not multiply its budget; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, a dual-stack
/// listener's view of an IPv4 peer) as the IPv4 address it is. Audit records keep the full
/// address.
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", Ipv6Addr::from(prefix))
            }
        },
    }
}

/// [`address_key`] of a textual address; anything that is not an address (`unknown`) is its
/// own key.
pub fn source_key(source: &str) -> String {
    source
        .parse::<IpAddr>()
        .map(address_key)
        .unwrap_or_else(|_| source.to_string())
}

/// Seconds until the current window of `window_secs` ends (at least 1): the `Retry-After` of a
/// refusal counted in that window.
pub fn retry_after(clock: &dyn Clock, window_secs: i64) -> i64 {
    let now_us = clock.now_us();
    let end_us = (window_start(clock, window_secs) + window_secs) * MICROS;
    ((end_us - now_us + MICROS - 1) / MICROS).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> String {
        address_key(s.parse().unwrap())
    }

    #[test]
    fn ipv6_is_keyed_by_its_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(key("203.0.113.9"), "203.0.113.9");
        assert_ne!(key("203.0.113.9"), key("203.0.113.10"));
        assert_eq!(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(
            key("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            key("2001:db8:1:2::1")
        );
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(source_key("2001:db8:1:2:a:b:c:d"), "2001:db8:1:2::/64");
        assert_eq!(source_key("unknown"), "unknown");
    }

    #[test]
    fn retry_after_counts_to_the_end_of_the_window() {
        let c = crate::clock::FixedClock::new((3_600 * 1000 + 10) * MICROS);
        assert_eq!(retry_after(&c, 60), 50);
        assert_eq!(retry_after(&c, 3600), 3590);
        let c = crate::clock::FixedClock::new(3_600 * 1000 * MICROS);
        assert_eq!(retry_after(&c, 60), 60);
    }
}
