//! RFC 7009 revocation. The client authenticates as at the token endpoint; an unknown token or
//! one belonging to another client still answers 200 (§2.2). Revoking a refresh token revokes
//! its whole grant, access tokens included (§2.1).
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use crate::client_auth;
use crate::error::OAuthError;
use crate::params::{require_form, Params};
use crate::state::AppState;

pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, OAuthError> {
    require_form(&req)?;
    let p = Params::from_body(&body)?;
    let client = client_auth::authenticate(&state, &req, &p).await?;
    let Some(token) = p.get("token") else {
        return Err(OAuthError::request("token is required"));
    };
    authz_core::token::revoke::revoke_by_client(&state.store, state.clock.as_ref(), &client, token)
        .await
        .map_err(OAuthError::server)?;
    Ok(HttpResponse::Ok().finish())
}
