//! Operator endpoints: the platform's tenants. (Resources and pre-registered clients follow.)
use actix_web::{get, post, web, HttpResponse};
use authz_core::tenant;
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
            id: t.id.0,
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
