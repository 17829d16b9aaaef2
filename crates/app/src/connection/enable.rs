//! Enable or disable a connection. Disabling cuts off what it issued (sessions, grants, tokens,
//! codes) in the same transaction — the admin's lever when an IdP is compromised (review F7);
//! enabling a pending connection (added in a setup session) makes it serve everyone.
use authz_core::clock::Clock;
use authz_core::{connection, CoreResult, Store};

use super::ConnectionActor;

/// Sets the connection `id` of the actor's tenant enabled or disabled; `NotFound("connection")`
/// if the tenant has no such connection.
pub async fn set_enabled(
    store: &Store,
    clock: &dyn Clock,
    by: &ConnectionActor,
    id: &str,
    enabled: bool,
) -> CoreResult<()> {
    connection::set_enabled(store, clock, by.tenant(), id, enabled, by.actor()).await
}
