//! Per-source rate limits at the HTTP surface. Every bucket is keyed by
//! [`authz_core::ratelimit::address_key`] of the client's address (IPv4 as is, IPv6 by its
//! /64, IPv4-mapped IPv6 as IPv4: security review F9), so one network cannot multiply its
//! budget by rotating addresses; audit records keep the full address ([`crate::params::peer_ip`]). Every
//! refusal says when to come back (`Retry-After`, RFC 9110 §10.2.3, RFC 6585 §4).
//!
//! Per-caller limits on the hot paths count in memory on each node instead
//! ([`crate::node_limits`], ADR 0008).
use actix_web::HttpRequest;
use authz_core::ratelimit;

use crate::params::client_addr;
use crate::state::AppState;

/// The rate-limit key of the request's client address.
pub fn key(req: &HttpRequest) -> String {
    client_addr(req)
        .map(ratelimit::address_key)
        .unwrap_or_else(|| "unknown".into())
}

/// Counts one `name` event from this request's source in a window of `window_secs`; once the
/// count is over `limit`, `Some(seconds)` until the window ends.
pub async fn exceeded(
    state: &AppState,
    req: &HttpRequest,
    name: &str,
    window_secs: i64,
    limit: i64,
) -> authz_core::CoreResult<Option<i64>> {
    let bucket = format!("{name}:{}", key(req));
    let n = ratelimit::hit(&state.store.db, state.clock.as_ref(), &bucket, window_secs).await?;
    Ok((n > limit).then(|| ratelimit::retry_after(state.clock.as_ref(), window_secs)))
}
