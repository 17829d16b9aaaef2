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
}

impl NodeLimits {
    pub fn new(limits: RateLimits) -> Self {
        NodeLimits {
            limits,
            grants: NodeCounter::new(60),
            introspections: NodeCounter::new(60),
            audit_events: NodeCounter::new(60),
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
