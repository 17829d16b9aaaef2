//! Tenant-admin endpoints for members' personal API keys (issue 14 §1): list every key of the
//! tenant (never a secret) and revoke any. Turning keys on or off and their maximum lifetime
//! are settings (`PUT /tenants/{tenant}/settings`: `api_keys_enabled`, `api_key_max_days`).
use actix_web::{delete, get, patch, post, web, HttpRequest};
use app::manage::user_key::{self, UserKeyChange};
use app::manage::Removed;

use crate::auth::TenantAdmin;
use crate::error::Problem;
use crate::manage::{dry_run, RemoveQuery, RemovedOut};
use crate::AdminState;

pub use app::manage::user_key::UserKeyView as UserKeyOut;

/// Every personal API key of the tenant's members, newest first.
#[utoipa::path(
    operation_id = "user-key.list",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, body = [UserKeyOut]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/user-keys")]
pub async fn list_user_keys(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
) -> Result<web::Json<Vec<UserKeyOut>>, Problem> {
    let keys = app::api_keys::admin::list(&st.store, st.clock.as_ref(), &admin.principal()).await?;
    Ok(web::Json(keys.into_iter().map(UserKeyOut::from).collect()))
}

/// Revokes a member's personal API key, at once on every node (audited `api_key.revoked`).
/// Revoking a key that is already revoked or expired changes nothing.
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("key_id" = String, Path)),
    responses(
        (status = 200, body = UserKeyOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tenants/{tenant}/user-keys/{key_id}/revoke")]
pub async fn revoke_user_key(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<UserKeyOut>, Problem> {
    let (key, _) =
        app::api_keys::admin::revoke(&st.store, st.clock.as_ref(), &admin.principal(), &path.1)
            .await?;
    Ok(web::Json(key.into()))
}

/// One member's personal API key (never its secret).
#[utoipa::path(
    operation_id = "user-key.show",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("key_id" = String, Path)),
    responses(
        (status = 200, body = UserKeyOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/user-keys/{key_id}")]
pub async fn get_user_key(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<UserKeyOut>, Problem> {
    let k = user_key::show(&st.store.db, st.clock.as_ref(), &admin.tenant, &path.1).await?;
    Ok(web::Json(k))
}

/// Renames a member's key (what an admin may change: the scopes and expiry are the member's
/// choice within the tenant's rules).
#[utoipa::path(
    operation_id = "user-key.update",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("key_id" = String, Path)),
    request_body = UserKeyChange,
    responses(
        (status = 200, body = UserKeyOut),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/tenants/{tenant}/user-keys/{key_id}")]
pub async fn update_user_key(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<web::Json<UserKeyOut>, Problem> {
    let change: UserKeyChange = crate::error::json(&body)?;
    let (store, clock) = (&st.store, st.clock.as_ref());
    let k = user_key::update(
        store,
        clock,
        &admin.tenant,
        &path.1,
        &change,
        &admin.actor(),
    )
    .await?;
    Ok(web::Json(k))
}

/// Removes (revokes) a member's key at once on every node. With `dry_run=true`, says what it
/// would stop and changes nothing.
#[utoipa::path(
    operation_id = "user-key.remove",
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
#[delete("/tenants/{tenant}/user-keys/{key_id}")]
pub async fn remove_user_key(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<web::Json<Removed<UserKeyOut>>, Problem> {
    let dry = dry_run(&req)?;
    let (store, clock) = (&st.store, st.clock.as_ref());
    let r = user_key::remove(store, clock, &admin.tenant, &path.1, &admin.actor(), dry).await?;
    Ok(web::Json(r))
}
