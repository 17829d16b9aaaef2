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

/// The resource-server credentials of a request: HTTP Basic, or `client_id` and
/// `client_secret` in the body.
fn credentials(req: &HttpRequest, p: Option<&Params>) -> Result<(String, String), OAuthError> {
    let creds = match client_auth::basic(req)? {
        Some(c) => Some(c),
        None => p.and_then(|p| {
            Some((
                p.get("client_id")?.to_string(),
                p.get("client_secret")?.to_string(),
            ))
        }),
    };
    creds.ok_or_else(|| OAuthError::client("resource-server credentials are required", true))
}

fn authentication_failed() -> OAuthError {
    OAuthError::client("resource-server authentication failed", true)
}

/// The calling resource server, from Basic or body credentials. No per-node cache: a
/// rotated-out or revoked secret must be refused by every node as soon as the operator's call
/// returns (DESIGN §6.3, review F11). One indexed read.
pub async fn resource_server(
    state: &AppState,
    req: &HttpRequest,
    p: Option<&Params>,
) -> Result<Resource, OAuthError> {
    let (id, secret) = credentials(req, p)?;
    let rs = resource::authenticate(&state.store.db, state.clock.now_us(), &id, &secret)
        .await
        .map_err(OAuthError::server)?
        .ok_or_else(authentication_failed)?;
    authz_core::trace::caller(None, &format!("resource:{id}"));
    Ok(rs)
}

pub async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, OAuthError> {
    let p = Params::from_body(&body)?;
    let (id, secret) = credentials(&req, Some(&p))?;
    let token = match (require_form(&req), p.get("token")) {
        (Ok(()), Some(t)) => t,
        (form, _) => {
            // A caller that does not authenticate hears 401 whatever else is wrong.
            resource_server(&state, &req, Some(&p)).await?;
            form?;
            return Err(OAuthError::request("token is required"));
        }
    };
    // Refused before the query once this resource server has had its introspections; only
    // authenticated calls count, so a wrong secret sent under its id cannot use up its budget.
    let limits = &state.node_limits;
    limits.introspection(state.clock.as_ref(), &id)?;
    // The hot path: the caller's credentials and the token in one statement.
    let result = authz_core::token::introspect::introspect_as(
        &state.store,
        state.clock.as_ref(),
        state.issuer(),
        &id,
        &secret,
        token,
    )
    .await
    .map_err(OAuthError::server)?
    .ok_or_else(authentication_failed)?;
    limits.introspected(state.clock.as_ref(), &id);
    authz_core::metrics::introspection(result.active);
    note_key_use(&state, &result);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(result))
}

/// A personal API key's use is noted (written off the request path, at most once a minute per
/// key: `app::api_keys::usage`).
fn note_key_use(state: &AppState, i: &authz_core::token::introspect::Introspection) {
    if let (Some(key_id), Some(tenant)) = (&i.key_id, &i.tenant) {
        if let Ok(tenant) = authz_core::TenantId::parse(tenant) {
            state.key_usage.note(&tenant, key_id, "introspection");
        }
    }
}
