//! Operator incident-response levers under `/incident/…` (issue 11 §3; runbook:
//! docs/incident-response.md), operator keys only: revoke
//! everything of a tenant, of one of its connections or of one client in every tenant, and
//! suspend or resume a tenant. Each is audited and answers with what it cut off.
use actix_web::{post, web};
use authz_core::{incident, tenant};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Operator;
use crate::error::Problem;
use crate::AdminState;

/// What a revocation cut off.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentCounts {
    /// Browser and console sessions ended.
    pub sessions: u64,
    /// Grant families (refresh tokens with their access tokens) revoked.
    pub grants: u64,
    /// Access and refresh tokens revoked.
    pub tokens: u64,
    /// Unused authorization codes discarded.
    pub codes: u64,
}

impl From<incident::Counts> for IncidentCounts {
    fn from(c: incident::Counts) -> Self {
        IncidentCounts {
            sessions: c.sessions,
            grants: c.grants,
            tokens: c.tokens,
            codes: c.codes,
        }
    }
}

/// A tenant's suspension state after the call.
#[derive(Debug, Serialize, ToSchema)]
pub struct Suspension {
    pub tenant: String,
    pub suspended: bool,
    /// False when the tenant already was in that state.
    pub changed: bool,
}

async fn tenant_of(st: &AdminState, slug: &str) -> Result<tenant::Tenant, Problem> {
    Ok(tenant::find_by_slug(&st.store.db, slug).await?)
}

/// Revokes every session (console sessions included), grant, token and unused code of a tenant.
#[utoipa::path(
    tag = "incident",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, description = "What was revoked", body = IncidentCounts),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/incident/revoke-tenant/{tenant}")]
pub async fn incident_revoke_tenant(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
) -> Result<web::Json<IncidentCounts>, Problem> {
    let t = tenant_of(&st, &path).await?;
    let c = incident::revoke_tenant(&st.store, st.clock.as_ref(), &t.id, &op.actor()).await?;
    Ok(web::Json(c.into()))
}

/// Revokes what came through one connection of a tenant: its sessions (console sessions
/// included), the grants started from them, their tokens and codes.
#[utoipa::path(
    tag = "incident",
    security(("bearer" = [])),
    params(
        ("tenant" = String, Path, description = "Tenant slug"),
        ("connection" = String, Path, description = "Connection id"),
    ),
    responses(
        (status = 200, description = "What was revoked", body = IncidentCounts),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/incident/revoke-connection/{tenant}/{connection}")]
pub async fn incident_revoke_connection(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<IncidentCounts>, Problem> {
    let (slug, connection) = path.into_inner();
    let t = tenant_of(&st, &slug).await?;
    let c = incident::revoke_connection(
        &st.store,
        st.clock.as_ref(),
        &t.id,
        &connection,
        &op.actor(),
    )
    .await?;
    Ok(web::Json(c.into()))
}

/// Revokes every grant, token and unused code of one client, in every tenant.
#[utoipa::path(
    tag = "incident",
    security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The client's id (a CIMD client's is its URL, percent-encoded)")),
    responses(
        (status = 200, description = "What was revoked", body = IncidentCounts),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/incident/revoke-client/{client_id}")]
pub async fn incident_revoke_client(
    _op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
) -> Result<web::Json<IncidentCounts>, Problem> {
    let c = incident::revoke_client(&st.store, st.clock.as_ref(), &path).await?;
    Ok(web::Json(c.into()))
}

/// Suspends a tenant: no sign-in, token, refresh or introspection of it succeeds, on any node,
/// until it is resumed. Its data stays.
#[utoipa::path(
    tag = "incident",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, description = "Suspended", body = Suspension),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/incident/suspend-tenant/{tenant}")]
pub async fn incident_suspend_tenant(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
) -> Result<web::Json<Suspension>, Problem> {
    let t = tenant_of(&st, &path).await?;
    let changed = incident::suspend(&st.store, st.clock.as_ref(), &t.id, &op.actor()).await?;
    Ok(web::Json(Suspension {
        tenant: t.slug,
        suspended: true,
        changed,
    }))
}

/// Lifts a tenant's suspension; what has not expired meanwhile works again.
#[utoipa::path(
    tag = "incident",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, description = "Resumed", body = Suspension),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/incident/resume-tenant/{tenant}")]
pub async fn incident_resume_tenant(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
) -> Result<web::Json<Suspension>, Problem> {
    let t = tenant_of(&st, &path).await?;
    let changed = incident::resume(&st.store, st.clock.as_ref(), &t.id, &op.actor()).await?;
    Ok(web::Json(Suspension {
        tenant: t.slug,
        suspended: false,
        changed,
    }))
}
