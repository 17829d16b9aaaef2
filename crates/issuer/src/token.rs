//! The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §6). Responses carry `Cache-Control: no-store`
//! (§5.1) and always state the granted `scope` (§3.3). The grants are the use cases
//! `app::token::{exchange_code, refresh, jwt_bearer}`; their §5.2 errors are rendered by `OAuthError`.
//! A request with a DPoP proof (RFC 9449 §5) gets tokens bound to its key ([`dpop::dpop_key`])
//! and a fresh `DPoP-Nonce` with the answer.
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use app::token::{CodeGrant, Idps, IssuedTokens, JwtBearerGrant, RefreshGrant};
use authz_core::client::Client;

use crate::client_auth;
use crate::dpop;
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
    let issued = issue(&state, &req, &p).await;
    let result = issued.as_ref().map_or_else(|e| e.code, |_| "ok");
    authz_core::metrics::grant(p.get("grant_type"), result);
    let issued = issued?;
    let mut ok = HttpResponse::Ok();
    ok.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    if req.headers().contains_key(dpop::DPOP) {
        ok.insert_header((dpop::DPOP_NONCE, dpop::nonce(&state)));
    }
    Ok(ok.json(issued))
}

/// Tokens for an authenticated caller within its node limit: a service account's
/// (client_credentials), else a client's grant.
async fn issue(
    state: &AppState,
    req: &HttpRequest,
    p: &Params,
) -> Result<IssuedTokens, OAuthError> {
    if p.get("grant_type") == Some("client_credentials") {
        // A tenant service account, not a `clients` row (RFC 6749 §4.4; ADR 0015).
        return crate::client_credentials::token(state, req, p).await;
    }
    let client = client_auth::authenticate(state, req, p).await?;
    let clock = state.clock.as_ref();
    state.node_limits.grant(clock, &client.client_id)?;
    let issued = grant(state, req, &client, p).await?;
    state.node_limits.granted(clock, &client.client_id);
    Ok(issued)
}

/// The grant the client asked for (RFC 6749 §4.1.3, §6).
async fn grant(
    state: &AppState,
    req: &HttpRequest,
    client: &Client,
    p: &Params,
) -> Result<IssuedTokens, OAuthError> {
    let clock = state.clock.as_ref();
    // Checked for every grant, before it runs (RFC 9449 §5): each binds its family to `jkt`.
    let jkt = dpop::dpop_key(state, req).await?;
    match p.get("grant_type") {
        Some("authorization_code") => {
            let g = CodeGrant {
                code: p.get("code"),
                redirect_uri: p.get("redirect_uri"),
                code_verifier: p.get("code_verifier"),
                resource: p.get("resource"),
                dpop_jkt: jkt,
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
                dpop_jkt: jkt,
            };
            Ok(app::token::refresh(&state.store, clock, upstream, client, g).await?)
        }
        Some(authz_core::token::jwt_bearer::GRANT_TYPE) => {
            // An ID-JAG (ADR 0014), bound to the proof's key when there is one (RFC 9449 §5).
            let g = JwtBearerGrant {
                assertion: p.get("assertion"),
                scope: p.get("scope"),
                resource: p.get("resource"),
                dpop_jkt: jkt,
            };
            let idps = Idps {
                rp: &state.rp,
                public_rp: &state.public_rp,
            };
            Ok(
                app::token::jwt_bearer(&state.store, clock, state.issuer(), idps, client, g)
                    .await?,
            )
        }
        Some(other) => Err(OAuthError::new(
            "unsupported_grant_type",
            format!("grant_type '{other}' is not supported"),
        )),
        None => Err(OAuthError::request("grant_type is required")),
    }
}
