//! Edit a connection: its name; an OIDC connection's client secret (rotation at the IdP); a SAML
//! connection's IdP metadata (certificate rotation: the new metadata is parsed and must carry a
//! signing certificate, its entity ID becomes the connection's issuer).
use authz_core::connection::{self, ConnectionUpdate};
use authz_core::CoreError;
use saml::SamlSettings;

use super::{parse_metadata, ConnectionActor, ConnectionError, Deps, Metadata};

/// What to change; `None` leaves it. A SAML connection ignores `client_secret` (its secret is
/// the SP key, generated), an OIDC one ignores `metadata`.
pub struct Edit<'a> {
    pub name: Option<&'a str>,
    pub client_secret: Option<&'a str>,
    pub metadata: Option<Metadata<'a>>,
}

/// Applies `edit` to the connection `id` of the actor's tenant; returns its id.
pub async fn edit(
    deps: Deps<'_>,
    by: &ConnectionActor,
    id: &str,
    edit: Edit<'_>,
) -> Result<String, ConnectionError> {
    let conn = connection::get(&deps.store.db, by.tenant(), id)
        .await
        .map_err(|e| e.unless_unavailable(ConnectionError::NotFound))?;
    let mut u = ConnectionUpdate {
        name: edit.name,
        ..Default::default()
    };
    let new_issuer;
    if conn.kind == "saml" {
        if let Some(m) = edit.metadata {
            let xml = m.xml().await?;
            let idp = parse_metadata(&xml)?;
            let mut s: SamlSettings = serde_json::from_value(conn.settings.clone())
                .map_err(|e| CoreError::Config(e.to_string()))?;
            s.idp_metadata = xml;
            u.settings =
                Some(serde_json::to_value(&s).map_err(|e| CoreError::Config(e.to_string()))?);
            new_issuer = idp.entity_id;
            u.issuer = Some(&new_issuer);
        }
    } else if !conn.is_development() {
        // A development connection's secret is its users: replaced only by the operator's file.
        u.client_secret = edit.client_secret;
    }
    connection::update(
        deps.store,
        deps.clock,
        deps.key,
        by.tenant(),
        &conn.id,
        u,
        by.actor(),
    )
    .await?;
    Ok(conn.id)
}
