//! The JWKS (RFC 7517 §5) of the keys that sign the MCP gateway's upstream JWTs (issue 13: no
//! token passthrough). Listed as `jwks_uri` in the authorization server metadata (RFC 8414 §2)
//! and in each resource's protected-resource metadata (RFC 9728 §2). The keys derive from the
//! master keys, current and previous, so a JWT signed before a rotation still verifies and
//! every node serves the same document.
use actix_web::{http::header, web, HttpResponse};

use crate::state::AppState;

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let keys = state.master_key.upstream_jwt_verifying_keys();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(authz_core::upstream_jwt::jwks(&keys))
}
