//! RFC 8414 authorization server metadata. Lists only what is implemented (clients such as
//! VS Code intersect `grant_types_supported` with their own).
use actix_web::{http::header, web, HttpResponse};
use serde_json::json;

use crate::error::OAuthError;
use crate::state::AppState;

pub async fn authorization_server(state: web::Data<AppState>) -> Result<HttpResponse, OAuthError> {
    let iss = state.issuer();
    let mut scopes = authz_core::resource::all_scope_names(&state.store.db)
        .await
        .map_err(OAuthError::server)?;
    scopes.push(authz_core::scope::OFFLINE_ACCESS.to_string());
    let doc = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oauth/authorize"),
        "token_endpoint": format!("{iss}/oauth/token"),
        "registration_endpoint": format!("{iss}/oauth/register"),
        "introspection_endpoint": format!("{iss}/oauth/introspect"),
        "revocation_endpoint": format!("{iss}/oauth/revoke"),
        // The keys of the MCP gateway's upstream JWTs (issue 13); no ID tokens are issued.
        "jwks_uri": format!("{iss}/.well-known/jwks.json"),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        // The RFC 7523 jwt-bearer grant redeems ID-JAGs (enterprise-managed authorization);
        // client_credentials is for tenant service accounts (RFC 6749 §4.4).
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", authz_core::token::jwt_bearer::GRANT_TYPE],
        "code_challenge_methods_supported": ["S256"],
        // `private_key_jwt` (RFC 7523 §2.2): tenant service accounts' client assertions.
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": authz_core::jose::SIGNING_ALGS,
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
        // RFC 9449 §5.1: the token endpoint accepts DPoP proofs signed with these.
        "dpop_signing_alg_values_supported": authz_core::jose::SIGNING_ALGS,
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(doc))
}
