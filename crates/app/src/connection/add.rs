//! Add a connection: an OIDC IdP (its discovery document is fetched and checked before anything
//! is stored: the connection must work at the first user's sign-in) or a SAML IdP (its metadata
//! must carry a signing certificate; Gatehouse's SP key pair is generated here).
use authz_core::connection::{self, Connection, NewOidcConnection};
use authz_core::CoreError;
use oidc_federation::{FederationError, OidcRp, Preset};
use safe_fetch::SafeFetcher;
use saml::mapping::Mapping;
use saml::{IdpMetadata, SamlSettings};

use super::{parse_metadata, ConnectionActor, ConnectionError, Deps, Metadata};

/// An OIDC connection to add. The preset and the issuer are already parsed (a preset's default
/// issuer applied, the trailing slash trimmed).
pub struct NewOidc<'a> {
    pub name: &'a str,
    pub preset: &'a Preset,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    /// Fetches the discovery document: the public SSRF-guarded fetcher when a tenant admin typed
    /// the issuer, the operator's for the CLI.
    pub fetcher: &'a SafeFetcher,
}

/// Checks the issuer against the preset, fetches its discovery document and returns the issuer
/// it names, which is the one stored (OpenID Connect Discovery 1.0 §4.3: it must match).
pub async fn discover(
    fetcher: &SafeFetcher,
    preset: &Preset,
    issuer: &str,
) -> Result<String, ConnectionError> {
    preset
        .check_issuer_url(issuer)
        .map_err(ConnectionError::IssuerUrl)?;
    let rp = OidcRp::new(fetcher.clone());
    let meta = match rp.discover(issuer, true, preset).await {
        Ok(m) => m,
        // Some IdPs (Okta org servers, Auth0) name their issuer with a trailing slash.
        Err(first @ FederationError::Discovery { .. }) => rp
            .discover(&format!("{issuer}/"), true, preset)
            .await
            .map_err(|_| ConnectionError::Discovery(first))?,
        Err(e) => return Err(ConnectionError::Discovery(e)),
    };
    preset
        .check_discovered_issuer(meta.issuer().as_str())
        .map_err(ConnectionError::Discovery)?;
    Ok(meta.issuer().as_str().to_string())
}

/// Adds an OIDC connection after discovery succeeded.
pub async fn oidc(
    deps: Deps<'_>,
    by: &ConnectionActor,
    new: NewOidc<'_>,
) -> Result<Connection, ConnectionError> {
    oidc_with_id(deps, by, new, None).await
}

/// [`oidc`] with the id a guided console set-up allocated (and showed in the redirect URI):
/// refused when malformed or taken. The id is checked before discovery is fetched.
pub async fn oidc_with_id(
    deps: Deps<'_>,
    by: &ConnectionActor,
    new: NewOidc<'_>,
    id: Option<&str>,
) -> Result<Connection, ConnectionError> {
    if let Some(id) = id {
        connection::check_allocated_id(id)?;
    }
    let issuer = discover(new.fetcher, new.preset, new.issuer).await?;
    let row = NewOidcConnection {
        name: new.name,
        issuer: &issuer,
        client_id: new.client_id,
        client_secret: new.client_secret,
        preset: new.preset.name(),
        settings: new.preset.settings(),
    };
    store_row(deps, by, "oidc", row, id).await
}

/// Stores a checked connection row as `by`; with an allocated `id` for console actors.
async fn store_row(
    deps: Deps<'_>,
    by: &ConnectionActor,
    kind: &str,
    row: NewOidcConnection<'_>,
    id: Option<&str>,
) -> Result<Connection, ConnectionError> {
    let (store, clock, key, tenant) = (deps.store, deps.clock, deps.key, by.tenant());
    let (actor, setup_invitation) = match by {
        ConnectionActor::Operator { .. } => {
            return Ok(if kind == "saml" {
                connection::add_saml(store, clock, key, tenant, row).await?
            } else {
                connection::add_oidc(store, clock, key, tenant, row).await?
            });
        }
        ConnectionActor::Admin(a) => (a.actor(), None),
        ConnectionActor::Setup {
            admin,
            invitation_id,
        } => (admin.actor(), Some(invitation_id.as_str())),
    };
    Ok(match id {
        Some(id) => {
            let by = connection::ConsoleAdd {
                actor,
                setup_invitation,
                id,
            };
            connection::add_with_id(store, clock, key, tenant, kind, row, by).await?
        }
        None if kind == "saml" => {
            connection::add_saml_by(store, clock, key, tenant, row, actor, setup_invitation).await?
        }
        None => {
            connection::add_oidc_by(store, clock, key, tenant, row, actor, setup_invitation).await?
        }
    })
}

/// The attribute mapping of a SAML connection: the preset's, with the attributes named. The key
/// attribute is never an email (an email can be reassigned; the key must not).
pub fn saml_mapping(
    preset: &str,
    key_attribute: Option<String>,
    email_attribute: Option<String>,
    name_attribute: Option<String>,
    groups_attribute: Option<String>,
) -> Result<Mapping, String> {
    let mut mapping = Mapping::for_preset(preset, key_attribute)?;
    mapping.email_attribute = email_attribute;
    mapping.name_attribute = name_attribute;
    mapping.groups_attribute = groups_attribute;
    Ok(mapping)
}

/// A SAML connection to add.
pub struct NewSaml<'a> {
    pub name: &'a str,
    pub preset: &'a str,
    /// From [`saml_mapping`].
    pub mapping: Mapping,
    pub metadata: Metadata<'a>,
    /// Clock skew tolerated on the IdP's time conditions (SAML Core §2.5.1), in seconds.
    pub skew_secs: i64,
    /// Accept IdP-initiated SSO (an unsolicited response lands on /account, never a code).
    pub allow_idp_initiated: bool,
}

/// A SAML connection, added, with the IdP metadata it pins.
pub struct AddedSaml {
    pub connection: Connection,
    pub idp: IdpMetadata,
}

/// Adds a SAML connection: the metadata is read (or fetched) and parsed, the SP key pair
/// generated; the private key is stored sealed as the connection's secret.
pub async fn saml(
    deps: Deps<'_>,
    by: &ConnectionActor,
    new: NewSaml<'_>,
) -> Result<AddedSaml, ConnectionError> {
    saml_with_id(deps, by, new, None).await
}

/// [`saml`] with the id a guided console set-up allocated (and showed in the ACS URL and
/// entity ID): refused when malformed or taken.
pub async fn saml_with_id(
    deps: Deps<'_>,
    by: &ConnectionActor,
    new: NewSaml<'_>,
    id: Option<&str>,
) -> Result<AddedSaml, ConnectionError> {
    if let Some(id) = id {
        connection::check_allocated_id(id)?;
    }
    let xml = new.metadata.xml().await?;
    let idp = parse_metadata(&xml)?;
    let keys = saml::sp::generate("gatehouse-sp").map_err(ConnectionError::KeyGeneration)?;
    let settings = SamlSettings {
        idp_metadata: xml,
        sp_certificate: keys.certificate_pem,
        mapping: new.mapping,
        skew_secs: new.skew_secs,
        allow_idp_initiated: new.allow_idp_initiated,
    };
    let row = NewOidcConnection {
        name: new.name,
        issuer: &idp.entity_id,
        client_id: "",
        client_secret: &keys.private_key_pem,
        preset: new.preset,
        settings: serde_json::to_value(&settings).map_err(|e| CoreError::Config(e.to_string()))?,
    };
    let connection = store_row(deps, by, "saml", row, id).await?;
    Ok(AddedSaml { connection, idp })
}
