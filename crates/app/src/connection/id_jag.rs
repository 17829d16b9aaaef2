//! Enterprise-managed authorization on a connection (ADR 0014): accept the ID-JAGs its IdP
//! signs, and name the clients that may redeem them. One use case for the console, the admin
//! API and the CLI.
use authz_core::clock::Clock;
use authz_core::id_jag::{self, IdJagSettings};
use authz_core::{connection, CoreResult, Store};

use super::ConnectionActor;

/// What to change; `None` leaves it.
#[derive(Debug, Default, Clone)]
pub struct IdJagChange {
    pub enabled: Option<bool>,
    /// Replaces the list of allowed client ids.
    pub clients: Option<Vec<String>>,
}

/// The connection's current ID-JAG settings.
pub async fn get(store: &Store, by: &ConnectionActor, id: &str) -> CoreResult<IdJagSettings> {
    let c = connection::get(&store.db, by.tenant(), id).await?;
    Ok(IdJagSettings::of(&c))
}

/// Applies `change` to the connection `id` of the actor's tenant and returns the settings now
/// stored. `Invalid` for a SAML connection, an unknown or public client.
pub async fn set(
    store: &Store,
    clock: &dyn Clock,
    by: &ConnectionActor,
    id: &str,
    change: IdJagChange,
) -> CoreResult<IdJagSettings> {
    let current = get(store, by, id).await?;
    let new = IdJagSettings {
        enabled: change.enabled.unwrap_or(current.enabled),
        clients: change.clients.unwrap_or(current.clients),
    };
    id_jag::set(store, clock, by.tenant(), id, &new, by.actor()).await
}
