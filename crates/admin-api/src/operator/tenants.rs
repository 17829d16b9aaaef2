//! One tenant, for the operator (issue 16 §2): show, change (display name, provisioning,
//! alert recipients), remove (ADR 0021: everything it issued is revoked, its domains released,
//! its audit chain kept). The same use cases as the CLI and the operator console
//! (`app::tenant`).
use actix_web::{delete, get, patch, web, HttpRequest};
use app::removal::Impact;
use app::tenant::{self, TenantChange, TenantView};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Operator;
use crate::connections::RemoveQuery;
use crate::error::Problem;
use crate::AdminState;

/// The answer to a removal: the tenant as it was and what was revoked (or, with `dry_run`,
/// would be).
#[derive(Debug, Serialize, ToSchema)]
pub struct RemovedTenant {
    pub removed: TenantView,
    pub revoked: Impact,
}

/// One tenant: its domains, provisioning, alert recipients, suspension.
#[utoipa::path(
    operation_id = "tenant.show",
    tag = "operator",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, body = TenantView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}")]
pub async fn get_tenant(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
) -> Result<web::Json<TenantView>, Problem> {
    Ok(web::Json(
        tenant::show(&st.store, &op.principal(), &path).await?,
    ))
}

/// Changes a tenant's display name, provisioning (`jit` or `scim`) or alert recipients.
#[utoipa::path(
    operation_id = "tenant.update",
    tag = "operator",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = TenantChange,
    responses(
        (status = 200, body = TenantView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/tenants/{tenant}")]
pub async fn update_tenant(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<web::Json<TenantView>, Problem> {
    let change: TenantChange = crate::error::json(&body)?;
    let t = tenant::update(&st.store, st.clock.as_ref(), &op.principal(), &path, change).await?;
    Ok(web::Json(t))
}

/// Removes a tenant: every session, grant and token it issued is revoked, its admin keys and
/// SCIM tokens stop working, its connections are removed and its domains released; its audit
/// log is kept. `?dry_run=true` previews it.
#[utoipa::path(
    operation_id = "tenant.remove",
    tag = "operator",
    security(("bearer" = [])),
    params(
        ("tenant" = String, Path, description = "Tenant slug"),
        ("dry_run" = Option<bool>, Query, description = "Only say what the removal would revoke"),
    ),
    responses(
        (status = 200, body = RemovedTenant),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/tenants/{tenant}")]
pub async fn remove_tenant(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<web::Json<RemovedTenant>, Problem> {
    let q: RemoveQuery = crate::error::query(&req)?;
    let r = tenant::remove(
        &st.store,
        st.clock.as_ref(),
        &op.principal(),
        &path,
        q.dry_run,
    )
    .await?;
    Ok(web::Json(RemovedTenant {
        removed: r.removed,
        revoked: r.revoked,
    }))
}
