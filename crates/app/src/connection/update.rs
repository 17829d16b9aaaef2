//! Change a connection (issue 16 §2): what [`super::edit`] changes (name, client secret, SAML
//! metadata) and whether it is enabled, as one request of the admin API or the CLI. Disabling
//! cuts off what it issued (see [`super::enable`]).
use super::edit::{edit, Edit};
use super::view::ConnectionView;
use super::{ConnectionActor, ConnectionError, Deps};

/// What to change; `None` leaves it.
pub struct Change<'a> {
    pub edit: Edit<'a>,
    pub enabled: Option<bool>,
}

impl Change<'_> {
    pub fn is_empty(&self) -> bool {
        self.edit.name.is_none()
            && self.edit.client_secret.is_none()
            && self.edit.metadata.is_none()
            && self.enabled.is_none()
    }
}

/// Applies `change` to the connection `id` of the actor's tenant and returns it as it now is.
pub async fn update(
    deps: Deps<'_>,
    by: &ConnectionActor,
    id: &str,
    change: Change<'_>,
) -> Result<ConnectionView, ConnectionError> {
    if change.is_empty() {
        return Err(ConnectionError::Core(authz_core::CoreError::invalid(
            "nothing to change: give name, client_secret, metadata or enabled",
        )));
    }
    let id = edit(deps, by, id, change.edit).await?;
    if let Some(on) = change.enabled {
        super::enable::set_enabled(deps.store, deps.clock, by, &id, on).await?;
    }
    Ok(super::view::show(deps.store, by, &id).await?)
}
