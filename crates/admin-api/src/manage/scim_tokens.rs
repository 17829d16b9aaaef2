//! Show, rename and remove a tenant's SCIM tokens (list, create and revoke are in `tenant`).
use actix_web::{delete, get, patch, web, HttpRequest};
use app::manage::scim_token::{self, ScimTokenChange, ScimTokenView};
use app::manage::Removed;

use super::{dry_run, RemoveQuery, RemovedOut};
use crate::auth::TenantAdmin;
use crate::error::Problem;
use crate::AdminState;

/// One SCIM token (never its secret).
#[utoipa::path(
    operation_id = "scim-token.show",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("token_id" = String, Path)),
    responses(
        (status = 200, body = ScimTokenView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/scim-tokens/{token_id}")]
pub async fn get_scim_token(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<ScimTokenView>, Problem> {
    let t = scim_token::show(&st.store.db, st.clock.as_ref(), &admin.tenant, &path.1).await?;
    Ok(web::Json(t))
}

/// Renames a SCIM token (its secret and expiry stay; rotate to replace the secret).
#[utoipa::path(
    operation_id = "scim-token.update",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("token_id" = String, Path)),
    request_body = ScimTokenChange,
    responses(
        (status = 200, body = ScimTokenView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/tenants/{tenant}/scim-tokens/{token_id}")]
pub async fn update_scim_token(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<web::Json<ScimTokenView>, Problem> {
    let change: ScimTokenChange = crate::error::json(&body)?;
    let (store, clock) = (&st.store, st.clock.as_ref());
    let t = scim_token::update(
        store,
        clock,
        &admin.tenant,
        &path.1,
        &change,
        &admin.actor(),
    )
    .await?;
    Ok(web::Json(t))
}

/// Removes (revokes) a SCIM token at once: the IdP's provisioning with it stops. With
/// `dry_run=true`, says what it would stop and changes nothing.
#[utoipa::path(
    operation_id = "scim-token.remove",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("token_id" = String, Path), RemoveQuery),
    responses(
        (status = 200, body = RemovedOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/tenants/{tenant}/scim-tokens/{token_id}")]
pub async fn remove_scim_token(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<web::Json<Removed<ScimTokenView>>, Problem> {
    let dry = dry_run(&req)?;
    let (store, clock) = (&st.store, st.clock.as_ref());
    let r = scim_token::remove(store, clock, &admin.tenant, &path.1, &admin.actor(), dry).await?;
    Ok(web::Json(r))
}
