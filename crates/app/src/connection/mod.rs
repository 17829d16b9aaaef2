//! Connection set-up (issue 12 §1): add an OIDC or SAML connection, edit it, enable or disable
//! it. One use case per action, called by the admin console and by the operator CLI alike, so
//! both check a discovery document, generate the SAML SP key pair and map attributes the same
//! way. Each surface only parses its input (a form, command-line flags) and renders the outcome.
//!
//! Who acts is a [`ConnectionActor`]: a tenant admin (console, admin API), an invitee's
//! setup-only session (console: what it adds stays pending, ADR 0007), or the operator at the
//! machine acting on one tenant (CLI). An enum rather than a `TenantAdmin` built for the
//! operator, because the store keeps the difference: a connection the operator added is marked
//! `operator_added` and audited as `operator`.
use authz_core::clock::Clock;
use authz_core::crypto::MasterKey;
use authz_core::{CoreError, Store, TenantId};

use crate::principal::{Operator, TenantAdmin};

pub mod add;
pub mod dev;
pub mod edit;
pub mod enable;
pub mod id_jag;
pub mod remove;
pub mod update;
pub mod view;

/// Who adds, edits or enables a connection.
#[derive(Debug, Clone)]
pub enum ConnectionActor {
    /// The operator (CLI) acting on one tenant, named by the operator. The core stores what the
    /// operator adds as `operator_added` and audits it as `operator` (its operator path), which
    /// is what [`Operator::cli`] names.
    Operator {
        operator: Operator,
        tenant: TenantId,
    },
    /// A tenant admin: console session or tenant-admin API key.
    Admin(TenantAdmin),
    /// An invitee's setup-only console session: a connection it adds is pending (disabled for
    /// users, usable for the invitee's own console sign-in) until an admin enables it.
    Setup {
        admin: TenantAdmin,
        invitation_id: String,
    },
}

impl ConnectionActor {
    pub fn tenant(&self) -> &TenantId {
        match self {
            ConnectionActor::Operator { tenant, .. } => tenant,
            ConnectionActor::Admin(a) | ConnectionActor::Setup { admin: a, .. } => a.tenant(),
        }
    }

    /// The audit actor.
    pub fn actor(&self) -> &str {
        match self {
            ConnectionActor::Operator { operator, .. } => operator.actor(),
            ConnectionActor::Admin(a) | ConnectionActor::Setup { admin: a, .. } => a.actor(),
        }
    }
}

/// What connection set-up uses from the running service.
#[derive(Clone, Copy)]
pub struct Deps<'a> {
    pub store: &'a Store,
    pub clock: &'a dyn Clock,
    pub key: &'a MasterKey,
}

/// Why a connection was not added or changed. Each surface words these its own way: the CLI
/// shows the operator everything; the console shows a tenant admin only the failed step of a
/// fetch (review F3), never what a server answered.
#[derive(Debug)]
pub enum ConnectionError {
    /// The connection does not exist in this tenant.
    NotFound,
    /// The issuer URL typed is not acceptable for the preset (fixed text, from the input).
    IssuerUrl(oidc_federation::FederationError),
    /// Discovery failed (after the trailing-slash retry, the first failure) or named another
    /// issuer.
    Discovery(oidc_federation::FederationError),
    /// The metadata URL could not be fetched.
    MetadataFetch(safe_fetch::FetchError),
    /// The fetched metadata is not UTF-8.
    MetadataNotUtf8(std::string::FromUtf8Error),
    /// The document is not usable IdP metadata (no signing certificate, a DTD, not metadata).
    Metadata(saml::SamlError),
    /// The SP key pair could not be generated.
    KeyGeneration(String),
    Core(CoreError),
}

impl From<CoreError> for ConnectionError {
    fn from(e: CoreError) -> Self {
        ConnectionError::Core(e)
    }
}

/// Where the IdP's SAML metadata comes from.
pub enum Metadata<'a> {
    /// The XML itself (pasted in the console, read from a file by the CLI).
    Xml(String),
    /// A URL fetched now through `fetcher`: the public SSRF-guarded fetcher for a URL a tenant
    /// admin typed, the operator's for the CLI.
    Url {
        url: &'a str,
        fetcher: &'a safe_fetch::SafeFetcher,
    },
}

impl Metadata<'_> {
    async fn xml(self) -> Result<String, ConnectionError> {
        match self {
            Metadata::Xml(x) => Ok(x),
            Metadata::Url { url, fetcher } => {
                let fetched = fetcher
                    .get(url, "application/samlmetadata+xml, application/xml")
                    .await
                    .map_err(ConnectionError::MetadataFetch)?;
                String::from_utf8(fetched.body).map_err(ConnectionError::MetadataNotUtf8)
            }
        }
    }
}

/// The IdP metadata, parsed. Refuses metadata without a signing certificate: assertions could
/// not be verified.
fn parse_metadata(xml: &str) -> Result<saml::IdpMetadata, ConnectionError> {
    saml::IdpMetadata::parse(xml).map_err(ConnectionError::Metadata)
}
