//! The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §6). Responses carry `Cache-Control: no-store`
//! (§5.1) and always state the granted `scope` (§3.3). The grants are the use cases
//! `app::token::{exchange_code, refresh}`; their §5.2 errors are rendered by `OAuthError`.
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use app::token::{CodeGrant, IssuedTokens, RefreshGrant};
use authz_core::client::Client;

use crate::client_auth;
use crate::error::OAuthError;
use crate::params::{require_form, Params};
use crate::state::AppState;

pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, OAuthError> {
    require_form(&req)?;
    let p = Params::from_body(&body)?;
    let issued = if p.get("grant_type") == Some("client_credentials") {
        // A tenant service account, not a `clients` row (RFC 6749 §4.4; ADR 0015).
        crate::client_credentials::token(&state, &req, &p).await?
    } else {
        let client = client_auth::authenticate(&state, &req, &p).await?;
        let clock = state.clock.as_ref();
        state.node_limits.grant(clock, &client.client_id)?;
        let issued = grant(&state, &client, &p).await?;
        state.node_limits.granted(clock, &client.client_id);
        issued
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(issued))
}

/// The grant the client asked for (RFC 6749 §4.1.3, §6).
async fn grant(state: &AppState, client: &Client, p: &Params) -> Result<IssuedTokens, OAuthError> {
    let clock = state.clock.as_ref();
    match p.get("grant_type") {
        Some("authorization_code") => {
            let g = CodeGrant {
                code: p.get("code"),
                redirect_uri: p.get("redirect_uri"),
                code_verifier: p.get("code_verifier"),
                resource: p.get("resource"),
            };
            Ok(app::token::exchange_code(&state.store, clock, client, g).await?)
        }
        Some("refresh_token") => {
            // The IdP is asked first whether the person may still sign in (DESIGN §4b).
            let idp = crate::state::ByProvenance(state);
            let upstream = authz_core::token::upstream_check::Upstream {
                key: &state.master_key,
                idp: &idp,
            };
            let g = RefreshGrant {
                refresh_token: p.get("refresh_token"),
                scope: p.get("scope"),
                resource: p.get("resource"),
            };
            Ok(app::token::refresh(&state.store, clock, upstream, client, g).await?)
        }
        Some(other) => Err(OAuthError::new(
            "unsupported_grant_type",
            format!("grant_type '{other}' is not supported"),
        )),
        None => Err(OAuthError::request("grant_type is required")),
    }
}
