//! `GET /resources/v1/policy`: the calling resource server's catalogue as the MCP gateway
//! enforces it (issue 13 §1, introspection mode). Authenticated like introspection (HTTP
//! Basic with the resource's credentials, RFC 7662 §2.1; 401 `invalid_client` otherwise); the
//! use case `app::resource_policy::policy` reads only the caller's own resource.
use actix_web::http::header;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};

use crate::error::OAuthError;
use crate::introspect::resource_server;
use crate::state::AppState;

pub async fn get(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, OAuthError> {
    let caller = resource_server(&state, &req, None).await?;
    let caller = app::ResourceServer::verified(caller.id);
    let doc = app::resource_policy::policy(&state.store, state.issuer(), &caller)
        .await
        .map_err(OAuthError::server)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(doc))
}
