//! The token endpoint (RFC 6749 §3.2, §4.1.3, §6). Responses carry `Cache-Control: no-store`
//! (§5.1) and always state the granted `scope` (§3.3).
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use authz_core::token::code::{self, CodeExchange};
use authz_core::token::refresh::{self, RefreshRequest};

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
    let client = client_auth::authenticate(&state, &req, &p).await?;
    let clock = state.clock.as_ref();
    state.node_limits.grant(clock, &client.client_id)?;
    let issued = match p.get("grant_type") {
        Some("authorization_code") => {
            let Some(c) = p.get("code") else {
                return Err(OAuthError::request("code is required"));
            };
            code::exchange(
                &state.store,
                clock,
                &client,
                CodeExchange {
                    code: c,
                    redirect_uri: p.get("redirect_uri"),
                    code_verifier: p.get("code_verifier"),
                    resource: p.get("resource"),
                },
            )
            .await?
        }
        Some("refresh_token") => {
            if !client.allows_refresh() {
                return Err(OAuthError::new(
                    "unauthorized_client",
                    "this client is not registered for the refresh_token grant",
                ));
            }
            let Some(rt) = p.get("refresh_token") else {
                return Err(OAuthError::request("refresh_token is required"));
            };
            // The IdP is asked first whether the person may still sign in (DESIGN §4b).
            let idp = crate::state::ByProvenance(&state);
            let upstream = authz_core::token::upstream_check::Upstream {
                key: &state.master_key,
                idp: &idp,
            };
            refresh::refresh_with(
                &state.store,
                clock,
                upstream,
                &client,
                RefreshRequest {
                    refresh_token: rt,
                    scope: p.get("scope"),
                    resource: p.get("resource"),
                },
            )
            .await?
        }
        Some(other) => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!("grant_type '{other}' is not supported"),
            ))
        }
        None => return Err(OAuthError::request("grant_type is required")),
    };
    state.node_limits.granted(clock, &client.client_id);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(issued))
}
