//! A tenant's IdP connections on the admin API (issue 16 §2): add (OIDC or SAML), show,
//! change, remove. The same use cases as the console and the CLI (`app::connection`), so the
//! API checks a discovery document and parses metadata exactly as they do. A URL in a request
//! is fetched through the public SSRF-guarded fetcher, like one typed in the console. Secrets
//! come in the body and are never echoed: the answers are [`ConnectionView`]s.
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use app::connection::view::{self, ConnectionView};
use app::connection::{add, edit::Edit, remove, update, ConnectionActor, ConnectionError};
use app::connection::{Deps, Metadata};
use app::removal::Impact;
use oidc_federation::Preset;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::TenantAdmin;
use crate::console::ConsoleState;
use crate::error::Problem;
use crate::AdminState;

/// A connection to add. OIDC: `preset`, `issuer` (a preset may imply it), `client_id`,
/// `client_secret`. SAML: `metadata_xml` or `metadata_url`, and the attribute names.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConnection {
    /// `oidc` or `saml`.
    pub kind: String,
    /// Shown at sign-in (default: OIDC or SAML).
    pub name: Option<String>,
    /// `generic` (default), `entra`, `okta` or `google`.
    pub preset: Option<String>,
    /// Entra ID's directory (tenant) id, for the `entra` OIDC preset.
    pub entra_tenant_id: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// Stored sealed; never returned.
    pub client_secret: Option<String>,
    pub metadata_xml: Option<String>,
    pub metadata_url: Option<String>,
    pub key_attribute: Option<String>,
    pub email_attribute: Option<String>,
    pub name_attribute: Option<String>,
    pub groups_attribute: Option<String>,
    #[serde(default)]
    pub allow_idp_initiated: bool,
}

/// What to change; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPatch {
    pub name: Option<String>,
    /// OIDC: the new client secret (rotation at the IdP).
    pub client_secret: Option<String>,
    /// SAML: the IdP's new metadata (certificate rotation), pasted or by URL.
    pub metadata_xml: Option<String>,
    pub metadata_url: Option<String>,
    /// Disabling revokes at once what the connection issued (sessions, grants, tokens).
    pub enabled: Option<bool>,
}

/// `?dry_run=true`: answer what the removal would revoke, remove nothing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveQuery {
    #[serde(default)]
    pub dry_run: bool,
}

/// The answer to a removal: the connection as it was and what was revoked (or, with
/// `dry_run`, would be).
#[derive(Debug, Serialize, ToSchema)]
pub struct RemovedConnection {
    pub removed: ConnectionView,
    pub revoked: Impact,
}

fn deps<'a>(st: &'a AdminState, cs: &'a ConsoleState) -> Deps<'a> {
    Deps {
        store: &st.store,
        clock: st.clock.as_ref(),
        key: &cs.master_key,
    }
}

fn actor(admin: &TenantAdmin) -> ConnectionActor {
    ConnectionActor::Admin(admin.principal())
}

/// A refused set-up as problem+json. Like the console, a fetched document is refused by
/// category only: parsers and fetchers quote what a server answered (review F3).
fn refused(e: ConnectionError) -> Problem {
    use oidc_federation::FederationError as F;
    match e {
        ConnectionError::NotFound => authz_core::CoreError::NotFound("connection").into(),
        ConnectionError::IssuerUrl(e) => Problem::invalid(e.to_string()),
        ConnectionError::Discovery(F::Discovery { failure, .. }) => {
            Problem::invalid(format!("nothing was added: {}", failure.category()))
        }
        ConnectionError::Discovery(e @ (F::BadIssuer(_) | F::MultiTenantIssuer(_))) => {
            Problem::invalid(e.to_string())
        }
        ConnectionError::Discovery(_) => {
            Problem::invalid("nothing was added: the discovery document is invalid")
        }
        ConnectionError::MetadataFetch(e) => Problem::invalid(format!(
            "the metadata URL was refused: {}",
            oidc_federation::fetch_error_text(&e)
        )),
        ConnectionError::MetadataNotUtf8(_) => {
            Problem::invalid("the document is not SAML IdP metadata")
        }
        ConnectionError::Metadata(e @ (saml::SamlError::NoSigningCert | saml::SamlError::Dtd)) => {
            Problem::invalid(e.to_string())
        }
        ConnectionError::Metadata(_) => Problem::invalid(
            "the document is not SAML IdP metadata (an EntityDescriptor with an IDPSSODescriptor, an HTTP-Redirect SingleSignOnService and a signing certificate)",
        ),
        ConnectionError::KeyGeneration(e) => {
            authz_core::CoreError::Config(format!("SP key generation: {e}")).into()
        }
        ConnectionError::Core(e) => e.into(),
    }
}

fn metadata<'a>(
    xml: Option<String>,
    url: Option<&'a str>,
    cs: &'a ConsoleState,
) -> Option<Metadata<'a>> {
    match (xml, url) {
        (Some(x), _) => Some(Metadata::Xml(x)),
        (None, Some(url)) => Some(Metadata::Url {
            url,
            fetcher: &cs.public_fetcher,
        }),
        (None, None) => None,
    }
}

/// Adds an OIDC or SAML connection after checking it as the console does (discovery, metadata).
#[utoipa::path(
    tag = "connections",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = NewConnection,
    responses(
        (status = 201, body = ConnectionView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tenants/{tenant}/connections")]
pub async fn create_connection(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    cs: web::Data<ConsoleState>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let b: NewConnection = crate::error::json(&body)?;
    let by = actor(&admin);
    let c = match b.kind.as_str() {
        "oidc" => add_oidc(&st, &cs, &by, b).await?,
        "saml" => add_saml(&st, &cs, &by, b).await?,
        _ => return Err(Problem::invalid("kind must be oidc or saml")),
    };
    Ok(HttpResponse::Created().json(ConnectionView::from(&c)))
}

async fn add_oidc(
    st: &AdminState,
    cs: &ConsoleState,
    by: &ConnectionActor,
    b: NewConnection,
) -> Result<authz_core::connection::Connection, Problem> {
    let preset = Preset::parse(
        b.preset.as_deref().unwrap_or("generic"),
        b.entra_tenant_id.as_deref(),
    )
    .map_err(Problem::invalid)?;
    let issuer = match (b.issuer.as_deref(), preset.default_issuer()) {
        (Some(i), _) => i.trim_end_matches('/').to_string(),
        (None, Some(d)) => d,
        (None, None) => return Err(Problem::invalid("issuer is required")),
    };
    let (Some(client_id), Some(secret)) = (b.client_id.as_deref(), b.client_secret.as_deref())
    else {
        return Err(Problem::invalid("client_id and client_secret are required"));
    };
    let new = add::NewOidc {
        name: b.name.as_deref().unwrap_or("OIDC"),
        preset: &preset,
        issuer: &issuer,
        client_id,
        client_secret: secret,
        fetcher: &cs.public_fetcher,
    };
    add::oidc(deps(st, cs), by, new).await.map_err(refused)
}

async fn add_saml(
    st: &AdminState,
    cs: &ConsoleState,
    by: &ConnectionActor,
    b: NewConnection,
) -> Result<authz_core::connection::Connection, Problem> {
    let preset = b.preset.as_deref().unwrap_or("generic");
    let mapping = add::saml_mapping(
        preset,
        b.key_attribute,
        b.email_attribute,
        b.name_attribute,
        b.groups_attribute,
    )
    .map_err(Problem::invalid)?;
    let metadata = metadata(b.metadata_xml, b.metadata_url.as_deref(), cs)
        .ok_or_else(|| Problem::invalid("give metadata_xml or metadata_url"))?;
    let new = add::NewSaml {
        name: b.name.as_deref().unwrap_or("SAML"),
        preset,
        mapping,
        metadata,
        skew_secs: 180,
        allow_idp_initiated: b.allow_idp_initiated,
    };
    let added = add::saml(deps(st, cs), by, new).await.map_err(refused)?;
    Ok(added.connection)
}

/// One connection of the tenant (never its secret).
#[utoipa::path(
    operation_id = "connection.show",
    tag = "connections",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = String, Path, description = "The connection's id")),
    responses(
        (status = 200, body = ConnectionView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/connections/{id}")]
pub async fn get_connection(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<ConnectionView>, Problem> {
    Ok(web::Json(
        view::show(&st.store, &actor(&admin), &path.1).await?,
    ))
}

/// Changes a connection: name, OIDC client secret, SAML metadata, enabled.
#[utoipa::path(
    operation_id = "connection.update",
    tag = "connections",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = String, Path, description = "The connection's id")),
    request_body = ConnectionPatch,
    responses(
        (status = 200, body = ConnectionView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/tenants/{tenant}/connections/{id}")]
pub async fn update_connection(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    cs: web::Data<ConsoleState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<web::Json<ConnectionView>, Problem> {
    let b: ConnectionPatch = crate::error::json(&body)?;
    let change = update::Change {
        edit: Edit {
            name: b.name.as_deref(),
            client_secret: b.client_secret.as_deref(),
            metadata: metadata(b.metadata_xml, b.metadata_url.as_deref(), &cs),
        },
        enabled: b.enabled,
    };
    let v = update::update(deps(&st, &cs), &actor(&admin), &path.1, change)
        .await
        .map_err(refused)?;
    Ok(web::Json(v))
}

/// Removes a connection: its sessions, the grants started from them and every live grant of
/// the people who sign in through it are revoked at once. `?dry_run=true` previews it.
#[utoipa::path(
    operation_id = "connection.remove",
    tag = "connections",
    security(("bearer" = [])),
    params(
        ("tenant" = String, Path, description = "Tenant slug"),
        ("id" = String, Path, description = "The connection's id"),
        ("dry_run" = Option<bool>, Query, description = "Only say what the removal would revoke"),
    ),
    responses(
        (status = 200, body = RemovedConnection),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/tenants/{tenant}/connections/{id}")]
pub async fn remove_connection(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<web::Json<RemovedConnection>, Problem> {
    let q: RemoveQuery = crate::error::query(&req)?;
    let r = remove::remove(
        &st.store,
        st.clock.as_ref(),
        &actor(&admin),
        &path.1,
        q.dry_run,
    )
    .await?;
    Ok(web::Json(RemovedConnection {
        removed: r.removed,
        revoked: r.revoked,
    }))
}
