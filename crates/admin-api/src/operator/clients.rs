//! One OAuth client, for the operator (issue 16 §2): show, rename, remove (its grants and
//! tokens revoked in every tenant). The same use cases as the CLI (`app::client`).
use actix_web::{delete, get, patch, web, HttpRequest};
use app::client::{self, ClientChange, ClientView};
use app::removal::Impact;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Operator;
use crate::connections::RemoveQuery;
use crate::error::Problem;
use crate::AdminState;

/// The answer to a removal: the client as it was and what was revoked (or, with `dry_run`,
/// would be).
#[derive(Debug, Serialize, ToSchema)]
pub struct RemovedClient {
    pub removed: ClientView,
    pub revoked: Impact,
}

/// Any client (pre-registered, DCR or CIMD) by its id; never a secret.
#[utoipa::path(
    operation_id = "client.show",
    tag = "operator",
    security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The client's id (a CIMD client's is its URL, percent-encoded)")),
    responses(
        (status = 200, body = ClientView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/clients/{client_id}")]
pub async fn get_client(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
) -> Result<web::Json<ClientView>, Problem> {
    Ok(web::Json(
        client::show(&st.store, &op.principal(), &path).await?,
    ))
}

/// Renames a client (the name on the consent page).
#[utoipa::path(
    operation_id = "client.update",
    tag = "operator",
    security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The client's id")),
    request_body = ClientChange,
    responses(
        (status = 200, body = ClientView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/clients/{client_id}")]
pub async fn update_client(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<web::Json<ClientView>, Problem> {
    let change: ClientChange = crate::error::json(&body)?;
    let c = client::update(&st.store, st.clock.as_ref(), &op.principal(), &path, change).await?;
    Ok(web::Json(c))
}

/// Removes a client: its grants and tokens in every tenant are revoked at once and its
/// unused codes discarded. `?dry_run=true` previews it.
#[utoipa::path(
    operation_id = "client.remove",
    tag = "operator",
    security(("bearer" = [])),
    params(
        ("client_id" = String, Path, description = "The client's id"),
        ("dry_run" = Option<bool>, Query, description = "Only say what the removal would revoke"),
    ),
    responses(
        (status = 200, body = RemovedClient),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/clients/{client_id}")]
pub async fn remove_client(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<web::Json<RemovedClient>, Problem> {
    let q: RemoveQuery = crate::error::query(&req)?;
    let r = client::remove(
        &st.store,
        st.clock.as_ref(),
        &op.principal(),
        &path,
        q.dry_run,
    )
    .await?;
    Ok(web::Json(RemovedClient {
        removed: r.removed,
        revoked: r.revoked,
    }))
}
