//! A tenant's explicit administrators: list, show, change (their part in the security
//! alerts), remove. Removing one ends their signed-in
//! sessions at once; the last administrator cannot be removed (409).
use actix_web::{delete, get, patch, web, HttpRequest};
use app::manage::admin::{self, AdminChange, AdminView};
use app::manage::Removed;

use super::{dry_run, RemoveQuery, RemovedOut};
use crate::auth::TenantAdmin;
use crate::error::Problem;
use crate::AdminState;

/// The tenant's explicit administrators, oldest first (admins through the admin group are the
/// group's members in the IdP).
#[utoipa::path(
    operation_id = "admin.list",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, body = [AdminView]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/admins")]
pub async fn list_admins(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
) -> Result<web::Json<Vec<AdminView>>, Problem> {
    Ok(web::Json(admin::list(&st.store.db, &admin.tenant).await?))
}

/// One explicit administrator, by user id.
#[utoipa::path(
    operation_id = "admin.show",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("user_id" = String, Path)),
    responses(
        (status = 200, body = AdminView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/admins/{user_id}")]
pub async fn get_admin(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<AdminView>, Problem> {
    Ok(web::Json(
        admin::show(&st.store.db, &admin.tenant, &path.1).await?,
    ))
}

/// Changes an administrator: `security_alerts` adds or removes their email among the tenant's
/// security-alert recipients (there is one administrator role; nothing else to change).
#[utoipa::path(
    operation_id = "admin.update",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("user_id" = String, Path)),
    request_body = AdminChange,
    responses(
        (status = 200, body = AdminView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/tenants/{tenant}/admins/{user_id}")]
pub async fn update_admin(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<web::Json<AdminView>, Problem> {
    let change: AdminChange = crate::error::json(&body)?;
    let (store, clock) = (&st.store, st.clock.as_ref());
    let a = admin::update(
        store,
        clock,
        &admin.tenant,
        &path.1,
        &change,
        &admin.actor(),
    )
    .await?;
    Ok(web::Json(a))
}

/// Removes an administrator and ends their signed-in sessions at once; 409 for the last one.
/// With `dry_run=true`, says what it would end and changes nothing.
#[utoipa::path(
    operation_id = "admin.remove",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("user_id" = String, Path), RemoveQuery),
    responses(
        (status = 200, body = RemovedOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/tenants/{tenant}/admins/{user_id}")]
pub async fn remove_admin(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<web::Json<Removed<AdminView>>, Problem> {
    let dry = dry_run(&req)?;
    let (store, clock) = (&st.store, st.clock.as_ref());
    let r = admin::remove(store, clock, &admin.tenant, &path.1, &admin.actor(), dry).await?;
    Ok(web::Json(r))
}
