//! A connection as every surface shows it (the admin API's JSON, the CLI's `--json`): never its
//! secret, and the values an IdP admin pastes are the surfaces' own business.
use authz_core::connection::Connection;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionView {
    pub id: String,
    /// `oidc`, `saml` or `dev`.
    pub kind: String,
    /// Shown at sign-in.
    pub name: String,
    /// `generic`, `entra`, `okta` or `google`.
    pub preset: String,
    /// The OIDC issuer or the SAML IdP's entity ID.
    pub issuer: String,
    /// The OIDC client id (empty for SAML).
    pub client_id: String,
    pub enabled: bool,
    /// Added by the operator (its IdP may be fetched through the operator's allow-list).
    pub operator_added: bool,
}

impl From<&Connection> for ConnectionView {
    fn from(c: &Connection) -> Self {
        ConnectionView {
            id: c.id.clone(),
            kind: c.kind.clone(),
            name: c.name.clone(),
            preset: c.preset.clone(),
            issuer: c.issuer.clone(),
            client_id: c.client_id.clone(),
            enabled: c.enabled,
            operator_added: c.operator_added,
        }
    }
}

/// Every connection of the actor's tenant, oldest first.
pub async fn list(
    store: &authz_core::Store,
    by: &super::ConnectionActor,
) -> authz_core::CoreResult<Vec<ConnectionView>> {
    Ok(authz_core::connection::list(&store.db, by.tenant())
        .await?
        .iter()
        .map(ConnectionView::from)
        .collect())
}

/// One connection of the actor's tenant; another tenant's id is not found.
pub async fn show(
    store: &authz_core::Store,
    by: &super::ConnectionActor,
    id: &str,
) -> authz_core::CoreResult<ConnectionView> {
    let c = authz_core::connection::get(&store.db, by.tenant(), id).await?;
    Ok(ConnectionView::from(&c))
}
