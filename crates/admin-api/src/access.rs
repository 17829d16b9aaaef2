//! Tenant-admin endpoints for what members may use: org grants (to everyone or to a SCIM group,
//! critical scopes only with an explicit confirmation) and the tenant's IdP connections.
use actix_web::{get, post, put, web, HttpResponse};
use authz_core::{connection, grant, resource};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::TenantAdmin;
use crate::error::{json, Problem};
use crate::AdminState;

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantOut {
    pub resource: String,
    pub scope: String,
    /// `null`: every member of the tenant; else the SCIM group's id.
    pub group: Option<String>,
}

/// The tenant's org grants.
#[utoipa::path(
    operation_id = "grant.list",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, body = [GrantOut]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/grants")]
pub async fn list_grants(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
) -> Result<web::Json<Vec<GrantOut>>, Problem> {
    let all = grant::list(&st.store.db, &admin.tenant).await?;
    Ok(web::Json(
        all.into_iter()
            .map(|g| GrantOut {
                resource: g.resource_uri,
                scope: g.scope,
                group: g.group,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGrant {
    /// The resource (MCP server) URI.
    pub resource: String,
    pub scopes: Vec<String>,
    /// A SCIM group id; without it, every member.
    pub group: Option<String>,
    /// Required to grant a critical-tier scope (each use still needs a fresh sign-in).
    #[serde(default)]
    pub allow_critical: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Granted {
    /// The scopes newly granted (already granted ones are skipped).
    pub granted: Vec<String>,
}

/// Grants scopes of a resource to every member or to a SCIM group's members.
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = NewGrant,
    responses(
        (status = 201, body = Granted),
        (status = 400, description = "Unknown scope, or a critical scope without allow_critical", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown resource or group", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tenants/{tenant}/grants")]
pub async fn add_grant(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let body: NewGrant = json(&body)?;
    let res = resource::find_by_uri(&st.store.db, &body.resource)
        .await?
        .ok_or(authz_core::CoreError::NotFound("resource"))?;
    let added = grant::add(
        &st.store,
        st.clock.as_ref(),
        &admin.tenant,
        &res,
        &body.scopes,
        body.group.as_deref(),
        body.allow_critical,
        &admin.actor(),
    )
    .await?;
    Ok(HttpResponse::Created().json(Granted { granted: added }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionOut {
    pub id: String,
    /// `oidc` or `saml`.
    pub kind: String,
    pub preset: String,
    pub name: String,
    pub issuer: String,
    pub enabled: bool,
}

/// The tenant's IdP connections.
#[utoipa::path(
    operation_id = "connection.list",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, body = [ConnectionOut]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/connections")]
pub async fn list_connections(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
) -> Result<web::Json<Vec<ConnectionOut>>, Problem> {
    let all = connection::list(&st.store.db, &admin.tenant).await?;
    Ok(web::Json(
        all.into_iter()
            .map(|c| ConnectionOut {
                id: c.id,
                kind: c.kind,
                preset: c.preset,
                name: c.name,
                issuer: c.issuer,
                enabled: c.enabled,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionState {
    /// Offered at sign-in (`true`) or not (`false`; its callbacks are refused).
    pub enabled: bool,
}

/// Enables or disables a connection.
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("connection_id" = String, Path)),
    request_body = ConnectionState,
    responses(
        (status = 204, description = "Done"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tenants/{tenant}/connections/{connection_id}/state")]
pub async fn set_connection_state(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let body: ConnectionState = json(&body)?;
    let by = app::connection::ConnectionActor::Admin(admin.principal());
    app::connection::enable::set_enabled(&st.store, st.clock.as_ref(), &by, &path.1, body.enabled)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A connection's enterprise-managed authorization settings (ID-JAG, ADR 0014).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdJagSettingsBody {
    /// Accept ID-JAGs that this OIDC connection's IdP signs (RFC 7523 `jwt-bearer` grant).
    pub enabled: bool,
    /// The pre-registered confidential clients that may redeem them.
    #[serde(default)]
    pub clients: Vec<String>,
}

/// A connection's ID-JAG settings.
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("connection_id" = String, Path)),
    responses(
        (status = 200, body = IdJagSettingsBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/connections/{connection_id}/id-jag")]
pub async fn get_connection_id_jag(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<IdJagSettingsBody>, Problem> {
    let by = app::connection::ConnectionActor::Admin(admin.principal());
    let s = app::connection::id_jag::get(&st.store, &by, &path.1).await?;
    Ok(web::Json(IdJagSettingsBody {
        enabled: s.enabled,
        clients: s.clients,
    }))
}

/// Sets a connection's ID-JAG settings (replaces them). Only OIDC connections; every client
/// must be registered and confidential.
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("connection_id" = String, Path)),
    request_body = IdJagSettingsBody,
    responses(
        (status = 200, body = IdJagSettingsBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/tenants/{tenant}/connections/{connection_id}/id-jag")]
pub async fn put_connection_id_jag(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<web::Json<IdJagSettingsBody>, Problem> {
    let body: IdJagSettingsBody = json(&body)?;
    let by = app::connection::ConnectionActor::Admin(admin.principal());
    let change = app::connection::id_jag::IdJagChange {
        enabled: Some(body.enabled),
        clients: Some(body.clients),
    };
    let s =
        app::connection::id_jag::set(&st.store, st.clock.as_ref(), &by, &path.1, change).await?;
    Ok(web::Json(IdJagSettingsBody {
        enabled: s.enabled,
        clients: s.clients,
    }))
}
