//! RFC 9728 protected-resource metadata for each resource the gateway serves, with open CORS
//! so browser-based MCP clients can read it (MCP spec 2025-11-25 "Authorization", discovery).
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::GatewayState;

fn cors(mut b: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    b.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
    b
}

/// `resource` is the catalogue's `uri`, `authorization_servers` exactly the issuer (RFC 9728
/// §2, §3.3: the client checks the AS metadata's `issuer` against it), `jwks_uri` the keys of
/// the JWTs the upstream receives.
pub async fn metadata(state: web::Data<GatewayState>, req: HttpRequest) -> HttpResponse {
    let Some(route) = state
        .routes
        .iter()
        .find(|r| r.metadata_path() == req.path())
    else {
        return HttpResponse::NotFound().finish();
    };
    let policy = match state.policy(route).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(code = "GATEWAY0004", error = %e, "cannot load the catalogue");
            return cors(HttpResponse::ServiceUnavailable()).finish();
        }
    };
    cors(HttpResponse::Ok())
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(json!({
            "resource": route.resource.uri,
            "authorization_servers": [state.issuer],
            "scopes_supported": policy.scopes_supported(),
            "bearer_methods_supported": ["header"],
            "resource_name": route.resource.display_name,
            "jwks_uri": state.jwks_uri(),
            // RFC 9728 §2 / RFC 9449: proofs are accepted with these algorithms; bearer tokens
            // are refused when the resource requires DPoP.
            "dpop_signing_alg_values_supported": authz_core::jose::SIGNING_ALGS,
            "dpop_bound_access_tokens_required": policy.settings.require_dpop,
        }))
}

/// The CORS preflight of the metadata (a GET with no credentials).
pub async fn preflight() -> HttpResponse {
    cors(HttpResponse::NoContent())
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, OPTIONS"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "*"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
        .finish()
}

/// Introspection mode: the public key of the upstream JWTs (RFC 7517 §5), which the PRM's
/// `jwks_uri` names.
pub async fn jwks(state: web::Data<GatewayState>) -> HttpResponse {
    cors(HttpResponse::Ok())
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(authz_core::upstream_jwt::jwks(&[state
            .signer
            .verifying_key()]))
}
