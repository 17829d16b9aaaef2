//! One org grant (the scopes of a resource granted to every member or to a SCIM group): show,
//! change its scopes, remove (list and add are in `access`). Narrowing or removing revokes the
//! tokens that carry a withdrawn scope, in the same transaction, and says how many.
use actix_web::{delete, get, patch, web, HttpRequest};
use app::manage::grant::{self, GrantChange, GrantView, UpdatedGrant};
use app::manage::Removed;

use super::{dry_run, RemoveQuery, RemovedOut};
use crate::auth::TenantAdmin;
use crate::error::Problem;
use crate::AdminState;

/// One org grant, by id (`<resource id>~<group id>`, `~*` for every member).
#[utoipa::path(
    operation_id = "grant.show",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("grant_id" = String, Path)),
    responses(
        (status = 200, body = GrantView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/grants/{grant_id}")]
pub async fn get_grant(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<GrantView>, Problem> {
    Ok(web::Json(
        grant::show(&st.store.db, &admin.tenant, &path.1).await?,
    ))
}

/// Replaces the grant's scopes: new ones are checked against the catalogue (critical ones need
/// `allow_critical`), dropped ones are withdrawn with the tokens that carry them.
#[utoipa::path(
    operation_id = "grant.update",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("grant_id" = String, Path)),
    request_body = GrantChange,
    responses(
        (status = 200, body = UpdatedGrant),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/tenants/{tenant}/grants/{grant_id}")]
pub async fn update_grant(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<web::Json<UpdatedGrant>, Problem> {
    let change: GrantChange = crate::error::json(&body)?;
    let (store, clock) = (&st.store, st.clock.as_ref());
    let g = grant::update(
        store,
        clock,
        &admin.tenant,
        &path.1,
        &change,
        &admin.actor(),
    )
    .await?;
    Ok(web::Json(g))
}

/// Removes the grant: every token carrying a scope its person is no longer granted is revoked
/// at once. With `dry_run=true`, says how many and changes nothing.
#[utoipa::path(
    operation_id = "grant.remove",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("grant_id" = String, Path), RemoveQuery),
    responses(
        (status = 200, body = RemovedOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/tenants/{tenant}/grants/{grant_id}")]
pub async fn remove_grant(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<web::Json<Removed<GrantView>>, Problem> {
    let dry = dry_run(&req)?;
    let (store, clock) = (&st.store, st.clock.as_ref());
    let r = grant::remove(store, clock, &admin.tenant, &path.1, &admin.actor(), dry).await?;
    Ok(web::Json(r))
}
