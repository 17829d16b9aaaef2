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
    let key = (id.clone(), authz_core::crypto::sha256_hex(&secret));
    let now = std::time::Instant::now();
    if let Some((at, r)) = state.rs_cache.lock().expect("rs cache lock").get(&key) {
        if now.duration_since(*at) < RS_CACHE_TTL {
            return Ok(r.clone());
        }
    }
    let r = resource::authenticate(&state.store.db, &id, &secret)
        .await
        .map_err(OAuthError::server)?
        .ok_or_else(|| OAuthError::client("resource-server authentication failed", true))?;
    let mut cache = state.rs_cache.lock().expect("rs cache lock");
    if cache.len() > 10_000 {
        cache.clear();
    }
    cache.insert(key, (now, r.clone()));
    Ok(r)
}

/// Introspection is the hot path (DESIGN §10): a resource server's credentials are checked
/// against the store at most once a minute per node. This caches the *caller's* identity only;
/// every token is still looked up in the shared store on every call, so revocation stays
/// immediate on every node (§6.3).
pub type RsCache =
    std::sync::Mutex<std::collections::HashMap<(String, String), (std::time::Instant, Resource)>>;
const RS_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

pub async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, OAuthError> {
    let p = Params::from_body(&body)?;
    let caller = resource_server(&state, &req, Some(&p)).await?;
    state
        .node_limits
        .introspection(state.clock.as_ref(), &caller.id)?;
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
