//! One protected resource, for the operator (issue 16 §2): show, rename, remove (every grant
//! for it revoked, its org grants and consents deleted). The catalogue changes through
//! [`super::catalogue`]. The same use cases as the CLI (`app::resource::manage`).
use actix_web::{delete, get, patch, web, HttpRequest};
use app::removal::Impact;
use app::resource::manage::{self, ResourceChange, ResourceView};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Operator;
use crate::connections::RemoveQuery;
use crate::error::Problem;
use crate::AdminState;

/// The answer to a removal: the resource as it was and what was revoked (or, with `dry_run`,
/// would be).
#[derive(Debug, Serialize, ToSchema)]
pub struct RemovedResource {
    pub removed: ResourceView,
    pub revoked: Impact,
}

/// One resource with its scope names; never a secret.
#[utoipa::path(
    operation_id = "resource.show",
    tag = "operator",
    security(("bearer" = [])),
    params(("resource_id" = String, Path, description = "The resource's id")),
    responses(
        (status = 200, body = ResourceView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/resources/{resource_id}")]
pub async fn get_resource(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
) -> Result<web::Json<ResourceView>, Problem> {
    Ok(web::Json(
        manage::show(&st.store, &op.principal(), &path).await?,
    ))
}

/// Renames a resource (its display name); its catalogue changes with `PUT …/catalogue`.
#[utoipa::path(
    operation_id = "resource.update",
    tag = "operator",
    security(("bearer" = [])),
    params(("resource_id" = String, Path, description = "The resource's id")),
    request_body = ResourceChange,
    responses(
        (status = 200, body = ResourceView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/resources/{resource_id}")]
pub async fn update_resource(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<web::Json<ResourceView>, Problem> {
    let change: ResourceChange = crate::error::json(&body)?;
    let r = manage::rename(&st.store, st.clock.as_ref(), &op.principal(), &path, change).await?;
    Ok(web::Json(r))
}

/// Removes a resource: every grant and token for it is revoked at once, its org grants and
/// consents deleted, its introspection secret stops working. `?dry_run=true` previews it.
#[utoipa::path(
    operation_id = "resource.remove",
    tag = "operator",
    security(("bearer" = [])),
    params(
        ("resource_id" = String, Path, description = "The resource's id"),
        ("dry_run" = Option<bool>, Query, description = "Only say what the removal would revoke"),
    ),
    responses(
        (status = 200, body = RemovedResource),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/resources/{resource_id}")]
pub async fn remove_resource(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<web::Json<RemovedResource>, Problem> {
    let q: RemoveQuery = crate::error::query(&req)?;
    let r = manage::remove(
        &st.store,
        st.clock.as_ref(),
        &op.principal(),
        &path,
        q.dry_run,
    )
    .await?;
    Ok(web::Json(RemovedResource {
        removed: r.removed,
        revoked: r.revoked,
    }))
}
