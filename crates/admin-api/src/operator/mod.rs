//! Operator endpoints: the platform's tenants (and inviting a tenant's admin), protected
//! resources with their scope catalogues ([`catalogue`]: reading, changing and versions), and
//! pre-registered clients.
pub mod catalogue;
pub mod clients;
pub mod keys;
pub mod resources;
pub mod tenants;

use actix_web::{get, post, web, HttpResponse};
use authz_core::{client, resource, resource_secret, tenant};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Operator;
use crate::error::Problem;
use crate::AdminState;

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantOut {
    pub id: String,
    pub slug: String,
    pub name: String,
}

impl From<tenant::Tenant> for TenantOut {
    fn from(t: tenant::Tenant) -> Self {
        TenantOut {
            id: t.id.to_string(),
            slug: t.slug,
            name: t.name,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Lowercase letters, digits and hyphens; the tenant's URL segment (SCIM, admin API).
    pub slug: String,
    pub name: String,
    /// Email domains of the organisation (verified by the operator's word).
    pub domains: Vec<String>,
}

/// Every tenant.
#[utoipa::path(
    operation_id = "tenant.list",
    tag = "operator",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The tenants, by slug", body = [TenantOut]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants")]
pub async fn list_tenants(
    _op: Operator,
    st: web::Data<AdminState>,
) -> Result<web::Json<Vec<TenantOut>>, Problem> {
    let all = tenant::list(&st.store.db).await?;
    Ok(web::Json(all.into_iter().map(TenantOut::from).collect()))
}

/// Creates a tenant (audited on the tenant's own chain).
#[utoipa::path(
    tag = "operator",
    security(("bearer" = [])),
    request_body = NewTenant,
    responses(
        (status = 201, description = "Created", body = TenantOut),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Slug or domain taken", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tenants")]
pub async fn create_tenant(
    _op: Operator,
    st: web::Data<AdminState>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let body: NewTenant = crate::error::json(&body)?;
    let t = tenant::create(
        &st.store,
        st.clock.as_ref(),
        &body.slug,
        &body.name,
        &body.domains,
    )
    .await?;
    Ok(HttpResponse::Created().json(TenantOut::from(t)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    /// The tenant's slug.
    pub tenant: String,
    /// The invitee's address; the admin role is granted only when their IdP asserts it.
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationOut {
    pub id: String,
    pub email: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// Invites an administrator of a tenant: the invitation email (with its one-time link) goes
/// through the mail outbox; the link is never returned here.
#[utoipa::path(
    tag = "operator",
    security(("bearer" = [])),
    request_body = NewInvitation,
    responses(
        (status = 201, description = "Invited", body = InvitationOut),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/invitations")]
pub async fn invite_admin(
    op: Operator,
    st: web::Data<AdminState>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let body: NewInvitation = crate::error::json(&body)?;
    let t = tenant::find_by_slug(&st.store.db, &body.tenant).await?;
    let by = app::admin::AdminActor::Operator {
        operator: op.principal(),
        tenant: t.id,
    };
    let inv = app::admin::invite::invite(&st.store, st.clock.as_ref(), &by, &body.email).await?;
    Ok(HttpResponse::Created().json(InvitationOut {
        id: inv.id,
        email: inv.email,
        expires_at: authz_core::clock::rfc3339(inv.expires_at, chrono::SecondsFormat::Secs),
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeDef {
    /// e.g. `crm:customers:read`.
    pub name: String,
    pub description: String,
    /// `routine`, `sensitive` or `critical` (DESIGN §5).
    pub tier: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolDef {
    pub name: String,
    /// The scopes the tool needs.
    pub scopes: Vec<String>,
    /// Shown on the consent page under the scopes the tool needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The scopes of a request body, their tiers parsed.
pub(crate) fn scope_specs(defs: Vec<ScopeDef>) -> Result<Vec<resource::ScopeSpec>, Problem> {
    defs.into_iter()
        .map(|s| {
            let tier = authz_core::scope::Tier::parse(&s.tier).ok_or_else(|| {
                Problem::invalid(format!(
                    "scope '{}': tier must be routine, sensitive or critical",
                    s.name
                ))
            })?;
            Ok(resource::ScopeSpec {
                name: s.name,
                description: s.description,
                tier,
            })
        })
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceOut {
    pub id: String,
    pub uri: String,
    pub display_name: String,
    pub scopes: Vec<ScopeDef>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredResource {
    pub resource: ResourceOut,
    /// The resource server's credentials for `/oauth/introspect` and `/audit/v1/events`.
    pub introspection_client_id: String,
    /// Shown once; only its hash is stored.
    pub introspection_client_secret: String,
}

async fn resource_out<C: sea_orm::ConnectionTrait>(
    conn: &C,
    r: resource::Resource,
) -> Result<ResourceOut, Problem> {
    let mut catalogue = resource::catalogue(conn, &r.id).await?;
    catalogue.sort_by(|a, b| a.name.cmp(&b.name));
    let scopes = catalogue
        .into_iter()
        .map(|s| ScopeDef {
            name: s.name,
            description: s.description,
            tier: s.tier.as_str().into(),
        })
        .collect();
    Ok(ResourceOut {
        id: r.id,
        uri: r.uri,
        display_name: r.display_name,
        scopes,
    })
}

/// Every protected resource with its scope catalogue.
#[utoipa::path(
    operation_id = "resource.list",
    tag = "operator",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The resources", body = [ResourceOut]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/resources")]
pub async fn list_resources(
    _op: Operator,
    st: web::Data<AdminState>,
) -> Result<web::Json<Vec<ResourceOut>>, Problem> {
    let mut out = Vec::new();
    for r in resource::list(&st.store.db).await? {
        out.push(resource_out(&st.store.db, r).await?);
    }
    Ok(web::Json(out))
}

/// Registers a protected resource (an MCP server) and its scope catalogue; returns its
/// resource-server credentials once.
#[utoipa::path(
    tag = "operator",
    security(("bearer" = [])),
    request_body = catalogue::CatalogueDef,
    responses(
        (status = 201, description = "Registered", body = RegisteredResource),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/resources")]
pub async fn register_resource(
    _op: Operator,
    st: web::Data<AdminState>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let body: catalogue::CatalogueDef = crate::error::json(&body)?;
    let spec = body.into_spec()?;
    let reg = resource::register(&st.store, st.clock.as_ref(), spec).await?;
    Ok(HttpResponse::Created().json(RegisteredResource {
        resource: resource_out(&st.store.db, reg.resource).await?,
        introspection_client_id: reg.introspection_client_id,
        introspection_client_secret: reg.introspection_client_secret,
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRotation {
    /// Seconds the current secret keeps working so the resource server can switch (0: it
    /// stops now; at most 604800). Default 3600.
    pub overlap_secs: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    pub introspection_client_id: String,
    /// Shown once; only its hash is stored.
    pub introspection_client_secret: String,
    /// RFC 3339: until when the replaced secret still works; absent when it stopped at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_valid_until: Option<String>,
}

/// Issues a new introspection secret for a resource server (audited on the platform chain).
/// The current secret keeps working for the overlap; a secret replaced earlier stops now.
#[utoipa::path(
    tag = "operator",
    security(("bearer" = [])),
    params(("resource_id" = String, Path, description = "The resource's id")),
    request_body(content = Option<SecretRotation>, description = "Optional; an empty body means the default overlap"),
    responses(
        (status = 200, description = "The new secret, shown once", body = RotatedSecret),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/resources/{resource_id}/rotate-secret")]
pub async fn rotate_resource_secret(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let body: SecretRotation = if body.iter().all(u8::is_ascii_whitespace) {
        SecretRotation::default()
    } else {
        crate::error::json(&body)?
    };
    let overlap = body
        .overlap_secs
        .unwrap_or(resource_secret::DEFAULT_OVERLAP_SECS);
    let r =
        resource_secret::rotate(&st.store, st.clock.as_ref(), &path, overlap, &op.actor()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(RotatedSecret {
            introspection_client_id: r.introspection_client_id,
            introspection_client_secret: r.introspection_client_secret,
            previous_secret_valid_until: r
                .previous_valid_until
                .map(|t| authz_core::clock::rfc3339(t, chrono::SecondsFormat::Secs)),
        }))
}

/// Revokes every introspection secret of a resource server at once (a leaked secret), on
/// every node as soon as this returns; audited on the platform chain. Issue a new secret with
/// `rotate-secret`.
#[utoipa::path(
    tag = "operator",
    security(("bearer" = [])),
    params(("resource_id" = String, Path, description = "The resource's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/resources/{resource_id}/revoke-secret")]
pub async fn revoke_resource_secret(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    resource_secret::revoke(&st.store, st.clock.as_ref(), &path, &op.actor()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    /// A confidential client gets a secret (client_secret_basic); else a public client (PKCE).
    #[serde(default)]
    pub confidential: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientOut {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    /// Shown once, for a confidential client just created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl ClientOut {
    fn from(c: client::Client, secret: Option<String>) -> Self {
        ClientOut {
            client_id: c.client_id,
            client_name: c.client_name,
            redirect_uris: c.redirect_uris,
            token_endpoint_auth_method: c.auth_method,
            client_secret: secret,
        }
    }
}

/// Every pre-registered client.
#[utoipa::path(
    operation_id = "client.list",
    tag = "operator",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The pre-registered clients", body = [ClientOut]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/clients")]
pub async fn list_clients(
    _op: Operator,
    st: web::Data<AdminState>,
) -> Result<web::Json<Vec<ClientOut>>, Problem> {
    Ok(web::Json(
        client::list_preregistered(&st.store.db)
            .await?
            .into_iter()
            .map(|c| ClientOut::from(c, None))
            .collect(),
    ))
}

/// Pre-registers an OAuth client (its redirect URIs checked like any registration's).
#[utoipa::path(
    tag = "operator",
    security(("bearer" = [])),
    request_body = NewClient,
    responses(
        (status = 201, description = "Registered", body = ClientOut),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/clients")]
pub async fn register_client(
    _op: Operator,
    st: web::Data<AdminState>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let body: NewClient = crate::error::json(&body)?;
    let reg = client::add_preregistered(
        &st.store,
        st.clock.as_ref(),
        &st.redirect_policy,
        &body.client_name,
        &body.redirect_uris,
        body.confidential,
    )
    .await
    .map_err(|e| match e {
        client::RegistrationError::Core(c) => Problem::from(c),
        other => Problem::invalid(other.to_string()),
    })?;
    Ok(HttpResponse::Created().json(ClientOut::from(reg.client, reg.client_secret)))
}
