//! Per-caller limits on the hot paths (grants per client, introspection and audit events per
//! resource server), counted in this process's memory on each node: no database write on the
//! hot paths (DESIGN §10, ADR 0008).
use authz_core::clock::Clock;
use authz_core::ratelimit::node::NodeCounter;

use crate::error::OAuthError;

/// Per-caller limits on the hot paths, per node and per minute (`GATEHOUSE_RATE_*`; ADR 0008).
/// The defaults are abuse ceilings far above what one well-behaved caller sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Token responses that issued tokens (authorization_code, refresh_token), per client.
    pub grants_per_client: i64,
    /// Introspection calls, per authenticated resource server.
    pub introspections_per_rs: i64,
    /// `POST /audit/v1/events` calls, per authenticated resource server.
    pub audit_events_per_rs: i64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            grants_per_client: 6_000,
            introspections_per_rs: 600_000,
            audit_events_per_rs: 60_000,
        }
    }
}

/// The counters of [`RateLimits`], in this process's memory: no database write on the hot
/// paths (DESIGN §10). One per node, shared by its workers.
#[derive(Debug)]
pub struct NodeLimits {
    limits: RateLimits,
    grants: NodeCounter,
    introspections: NodeCounter,
    audit_events: NodeCounter,
    /// This node's recent readings of the shared failed-authentication counters
    /// (`client_auth::guarded`).
    pub(crate) failed_auth: SharedCountView,
}

impl NodeLimits {
    pub fn new(limits: RateLimits) -> Self {
        NodeLimits {
            limits,
            grants: NodeCounter::new(60),
            introspections: NodeCounter::new(60),
            audit_events: NodeCounter::new(60),
            failed_auth: SharedCountView::new(60),
        }
    }

    /// Refuses a grant before any work once `client_id` has had its grants this minute, so a
    /// refused request burns no code and rotates no refresh token; [`Self::granted`] counts
    /// the grants that issued tokens.
    pub fn grant(&self, clock: &dyn Clock, client_id: &str) -> Result<(), OAuthError> {
        match self
            .grants
            .full(clock, client_id, self.limits.grants_per_client)
        {
            None => Ok(()),
            Some(s) => Err(OAuthError::too_many(
                "too many token requests for this client; retry later",
                s,
            )),
        }
    }

    pub fn granted(&self, clock: &dyn Clock, client_id: &str) {
        self.grants.add(clock, client_id);
    }

    /// Refuses an introspection before any work once the resource server whose credentials
    /// name `rs_client_id` has had its introspections this minute; [`Self::introspected`]
    /// counts the calls whose credentials were right, so nobody else can use up its budget.
    pub fn introspection(&self, clock: &dyn Clock, rs_client_id: &str) -> Result<(), OAuthError> {
        match self
            .introspections
            .full(clock, rs_client_id, self.limits.introspections_per_rs)
        {
            None => Ok(()),
            Some(s) => Err(OAuthError::too_many(
                "too many introspection requests from this resource server; retry later",
                s,
            )),
        }
    }

    pub fn introspected(&self, clock: &dyn Clock, rs_client_id: &str) {
        self.introspections.add(clock, rs_client_id);
    }

    /// Counts one audit event posted by the resource server `rs_id`.
    pub fn audit_event(&self, clock: &dyn Clock, rs_id: &str) -> Result<(), OAuthError> {
        match self
            .audit_events
            .hit(clock, rs_id, self.limits.audit_events_per_rs)
        {
            None => Ok(()),
            Some(s) => Err(OAuthError::too_many(
                "too many audit events from this resource server; retry later",
                s,
            )),
        }
    }
}

/// How long a node trusts its last reading of a shared counter that is under its limit.
pub const SHARED_COUNT_READ_EVERY_US: i64 = 1_000_000;

/// A node's last reading of shared fixed-window counters (`authz_core::ratelimit`), so that a
/// check before every request reads the shared row at most once a second per key instead of
/// once per request (a database round trip on every confidential client's grant, issue 15).
///
/// A reading at or over its limit holds until the window ends (a window's count never goes
/// down); one under it is trusted for [`SHARED_COUNT_READ_EVERY_US`]. Every hit this node adds
/// returns the shared count, which replaces the reading at once. So a limit reached through
/// other nodes is seen here within a second; within that second this node still checks what
/// it is sent, and the first of those checks that fails reads the count from its hit and
/// refuses from then on.
#[derive(Debug)]
pub struct SharedCountView {
    window_secs: i64,
    seen: std::sync::Mutex<std::collections::HashMap<String, Reading>>,
}

#[derive(Clone, Copy, Debug)]
struct Reading {
    /// `ratelimit::window_start` of the reading.
    window: i64,
    read_at_us: i64,
    count: i64,
}

impl SharedCountView {
    pub fn new(window_secs: i64) -> Self {
        SharedCountView {
            window_secs: window_secs.max(1),
            seen: Default::default(),
        }
    }

    /// The count of `key` in the current window if this node's reading still holds against
    /// `limit`; `None`: read the shared counter (and pass the result to [`Self::saw`]).
    pub fn known(&self, clock: &dyn Clock, key: &str, limit: i64) -> Option<i64> {
        let now = clock.now_us();
        let window = authz_core::ratelimit::window_start(clock, self.window_secs);
        let seen = self.seen.lock().ok()?;
        let r = seen.get(key)?;
        let holds = r.window == window
            && (r.count >= limit || now - r.read_at_us < SHARED_COUNT_READ_EVERY_US);
        holds.then_some(r.count)
    }

    /// Records the shared count of `key` just read or returned by a hit.
    pub fn saw(&self, clock: &dyn Clock, key: &str, count: i64) {
        let now = clock.now_us();
        let window = authz_core::ratelimit::window_start(clock, self.window_secs);
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        if seen.len() >= authz_core::ratelimit::node::MAX_KEYS {
            seen.clear();
        }
        seen.insert(
            key.to_string(),
            Reading {
                window,
                read_at_us: now,
                count,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authz_core::clock::FixedClock;

    #[test]
    fn a_reading_under_the_limit_holds_a_second_and_one_at_it_until_the_window_ends() {
        // 10 s into a minute window.
        let clock = FixedClock::new(1_700_000_000 / 60 * 60 * 1_000_000 + 10_000_000);
        let view = SharedCountView::new(60);
        assert_eq!(view.known(&clock, "k", 30), None, "never read");
        view.saw(&clock, "k", 3);
        assert_eq!(view.known(&clock, "k", 30), Some(3));
        clock.advance_secs(1);
        assert_eq!(view.known(&clock, "k", 30), None, "stale after a second");
        view.saw(&clock, "k", 30);
        clock.advance_secs(40);
        assert_eq!(view.known(&clock, "k", 30), Some(30), "at the limit: held");
        clock.advance_secs(10);
        assert_eq!(view.known(&clock, "k", 30), None, "a new window");
        assert_eq!(view.known(&clock, "other", 30), None);
    }
}
