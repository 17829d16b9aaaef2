//! A tenant's admin API keys: list, show, rename and remove (create is the CLI's and the
//! console's: a key is shown once, to a person).
use actix_web::{delete, get, patch, web, HttpRequest};
use app::manage::admin_key::{self, AdminKeyChange, AdminKeyView};
use app::manage::Removed;

use super::{dry_run, RemoveQuery, RemovedOut};
use crate::auth::TenantAdmin;
use crate::error::Problem;
use crate::AdminState;

/// One admin API key of the tenant (never its secret).
#[utoipa::path(
    operation_id = "admin-key.show",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("key_id" = String, Path)),
    responses(
        (status = 200, body = AdminKeyView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/admin-keys/{key_id}")]
pub async fn get_admin_key(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<AdminKeyView>, Problem> {
    let t = admin_key::show(&st.store.db, st.clock.as_ref(), &admin.tenant, &path.1).await?;
    Ok(web::Json(t))
}

/// Renames an admin API key (its secret and expiry stay).
#[utoipa::path(
    operation_id = "admin-key.update",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("key_id" = String, Path)),
    request_body = AdminKeyChange,
    responses(
        (status = 200, body = AdminKeyView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/tenants/{tenant}/admin-keys/{key_id}")]
pub async fn update_admin_key(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<web::Json<AdminKeyView>, Problem> {
    let change: AdminKeyChange = crate::error::json(&body)?;
    let (store, clock) = (&st.store, st.clock.as_ref());
    let t = admin_key::update(
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

/// Removes (revokes) an admin API key at once; scripts using it get 401 from the next
/// request on. With `dry_run=true`, says what it would stop and changes nothing.
#[utoipa::path(
    operation_id = "admin-key.remove",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("key_id" = String, Path), RemoveQuery),
    responses(
        (status = 200, body = RemovedOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/tenants/{tenant}/admin-keys/{key_id}")]
pub async fn remove_admin_key(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<web::Json<Removed<AdminKeyView>>, Problem> {
    let dry = dry_run(&req)?;
    let (store, clock) = (&st.store, st.clock.as_ref());
    let r = admin_key::remove(store, clock, &admin.tenant, &path.1, &admin.actor(), dry).await?;
    Ok(web::Json(r))
}

/// The tenant's admin API keys, newest first (never their secrets).
#[utoipa::path(
    operation_id = "admin-key.list",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, body = [AdminKeyView]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/admin-keys")]
pub async fn list_admin_keys(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
) -> Result<web::Json<Vec<AdminKeyView>>, Problem> {
    let all = admin_key::list(&st.store.db, st.clock.as_ref(), &admin.tenant).await?;
    Ok(web::Json(all))
}
