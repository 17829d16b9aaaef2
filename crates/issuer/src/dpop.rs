//! DPoP at the token endpoint (RFC 9449 §5): a `DPoP` header on a token request is checked
//! (§4.3, `authz_core::dpop`), its `jti` used once on every node, and its key thumbprint
//! handed to the grant, which binds the grant family to it. Errors are §5's: 400
//! `invalid_dpop_proof`, or 400 `use_dpop_nonce` with a fresh `DPoP-Nonce` (§8).
use actix_web::HttpRequest;
use authz_core::dpop::{self, DpopError, Expect};

use crate::error::OAuthError;
use crate::state::AppState;

/// The `DPoP` request header (§4.1) and the `DPoP-Nonce` answer header (§8.1).
pub const DPOP: &str = "dpop";
pub const DPOP_NONCE: &str = "dpop-nonce";

/// The thumbprint of the key of the request's DPoP proof, once checked (`None`: the request
/// carries no proof, a bearer-token request). Every grant calls this once and passes the
/// result on as its family's `dpop_jkt`.
pub async fn dpop_key(state: &AppState, req: &HttpRequest) -> Result<Option<String>, OAuthError> {
    let values: Vec<&str> = req
        .headers()
        .get_all(DPOP)
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    if values.is_empty() {
        return Ok(None);
    }
    let now = state.clock.now_us();
    let nonces = state.master_key.dpop_nonce_key();
    let url = format!("{}/oauth/token", state.issuer());
    let expect = Expect {
        method: "POST",
        url: &url,
        access_token: None,
        now_us: now,
        nonces: &nonces,
    };
    let proof = dpop::check(&values, &expect).map_err(|e| refused(state, e))?;
    let first = dpop::use_once(&state.store.db, &proof)
        .await
        .map_err(OAuthError::server)?;
    if !first {
        return Err(refused(
            state,
            DpopError::Invalid("this DPoP proof was already used (jti)".into()),
        ));
    }
    Ok(Some(proof.jkt))
}

/// A fresh server nonce, for the `DPoP-Nonce` header of any token answer to a DPoP request.
pub fn nonce(state: &AppState) -> String {
    state
        .master_key
        .dpop_nonce_key()
        .current(state.clock.now_us())
}

fn refused(state: &AppState, e: DpopError) -> OAuthError {
    let mut err = OAuthError::new(e.code(), e.to_string());
    err.dpop_nonce = Some(nonce(state));
    err
}
