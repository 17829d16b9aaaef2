//! Operator API keys, for the operator (issue 16 §2): list, show, rename, remove (revoked at
//! once with the console sessions opened with it). Keys are created on the CLI only: a key
//! that could mint keys would outlive its own revocation.
use actix_web::{delete, get, patch, web, HttpRequest};
use app::operator_key::{self as uc, OperatorKeyChange, OperatorKeyView};
use app::removal::Impact;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Operator;
use crate::connections::RemoveQuery;
use crate::error::Problem;
use crate::AdminState;

/// The answer to a removal: the key as it was and what stopped (or, with `dry_run`, would).
#[derive(Debug, Serialize, ToSchema)]
pub struct RemovedOperatorKey {
    pub removed: OperatorKeyView,
    pub revoked: Impact,
}

/// Every operator key, newest first (never a secret).
#[utoipa::path(
    operation_id = "operator-key.list",
    tag = "operator",
    security(("bearer" = [])),
    responses(
        (status = 200, body = [OperatorKeyView]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/operator-keys")]
pub async fn list_operator_keys(
    op: Operator,
    st: web::Data<AdminState>,
) -> Result<web::Json<Vec<OperatorKeyView>>, Problem> {
    let all = uc::list(&st.store, st.clock.as_ref(), &op.principal()).await?;
    Ok(web::Json(all))
}

/// One operator key.
#[utoipa::path(
    operation_id = "operator-key.show",
    tag = "operator",
    security(("bearer" = [])),
    params(("key_id" = String, Path, description = "The key's id")),
    responses(
        (status = 200, body = OperatorKeyView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/operator-keys/{key_id}")]
pub async fn get_operator_key(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
) -> Result<web::Json<OperatorKeyView>, Problem> {
    let k = uc::show(&st.store, st.clock.as_ref(), &op.principal(), &path).await?;
    Ok(web::Json(k))
}

/// Renames an operator key (who holds it).
#[utoipa::path(
    operation_id = "operator-key.update",
    tag = "operator",
    security(("bearer" = [])),
    params(("key_id" = String, Path, description = "The key's id")),
    request_body = OperatorKeyChange,
    responses(
        (status = 200, body = OperatorKeyView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/operator-keys/{key_id}")]
pub async fn update_operator_key(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<web::Json<OperatorKeyView>, Problem> {
    let change: OperatorKeyChange = crate::error::json(&body)?;
    let k = uc::update(&st.store, st.clock.as_ref(), &op.principal(), &path, change).await?;
    Ok(web::Json(k))
}

/// Removes (revokes) an operator key at once, ending the console sessions opened with it; the
/// caller's own key may be removed. `?dry_run=true` previews it.
#[utoipa::path(
    operation_id = "operator-key.remove",
    tag = "operator",
    security(("bearer" = [])),
    params(
        ("key_id" = String, Path, description = "The key's id"),
        ("dry_run" = Option<bool>, Query, description = "Only say what the removal would revoke"),
    ),
    responses(
        (status = 200, body = RemovedOperatorKey),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/operator-keys/{key_id}")]
pub async fn remove_operator_key(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<web::Json<RemovedOperatorKey>, Problem> {
    let q: RemoveQuery = crate::error::query(&req)?;
    let r = uc::remove(
        &st.store,
        st.clock.as_ref(),
        &op.principal(),
        &path,
        q.dry_run,
    )
    .await?;
    Ok(web::Json(RemovedOperatorKey {
        removed: r.removed,
        revoked: r.revoked,
    }))
}
