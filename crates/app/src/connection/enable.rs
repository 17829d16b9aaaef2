//! Enable or disable a connection. Disabling cuts off what it issued (sessions, grants, tokens,
//! codes) in the same transaction — the admin's lever when an IdP is compromised (review F7);
//! enabling a pending connection (added in a setup session) makes it serve everyone.
use authz_core::connection;

use super::{ConnectionActor, ConnectionError, Deps};

/// Sets the connection `id` of the actor's tenant enabled or disabled.
pub async fn set_enabled(
    deps: Deps<'_>,
    by: &ConnectionActor,
    id: &str,
    enabled: bool,
) -> Result<(), ConnectionError> {
    connection::set_enabled(deps.store, deps.clock, by.tenant(), id, enabled, by.actor()).await?;
    Ok(())
}
