//! RFC 7662 introspection. Only registered resource servers may introspect (§2.1), and a token
//! is active only for the resource it was issued for.
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use authz_core::resource::{self, Resource};

use crate::client_auth;
use crate::error::OAuthError;
use crate::params::{require_form, Params};
use crate::state::AppState;

/// The calling resource server, from Basic or body credentials.
pub async fn resource_server(
    state: &AppState,
    req: &HttpRequest,
    p: Option<&Params>,
) -> Result<Resource, OAuthError> {
    let creds = match client_auth::basic(req)? {
        Some(c) => Some(c),
        None => p.and_then(|p| {
            Some((
                p.get("client_id")?.to_string(),
                p.get("client_secret")?.to_string(),
            ))
        }),
    };
    let Some((id, secret)) = creds else {
        return Err(OAuthError::client(
            "resource-server credentials are required",
            true,
        ));
    };
    // No per-node cache: a rotated-out or revoked secret must be refused by every node as soon
    // as the operator's call returns (DESIGN §6.3, review F11). One indexed read.
    resource::authenticate(&state.store.db, state.clock.now_us(), &id, &secret)
        .await
        .map_err(OAuthError::server)?
        .ok_or_else(|| OAuthError::client("resource-server authentication failed", true))
}

pub async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, OAuthError> {
    let p = Params::from_body(&body)?;
    let caller = resource_server(&state, &req, Some(&p)).await?;
    require_form(&req)?;
    let Some(token) = p.get("token") else {
        return Err(OAuthError::request("token is required"));
    };
    let result = authz_core::token::introspect::introspect(
        &state.store.db,
        state.clock.as_ref(),
        state.issuer(),
        &caller,
        token,
    )
    .await
    .map_err(OAuthError::server)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(result))
}
