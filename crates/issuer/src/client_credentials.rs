//! The token endpoint's `client_credentials` grant (RFC 6749 §4.4) for tenant service
//! accounts. The caller authenticates as the account: `client_secret_basic` (HTTP Basic),
//! `client_secret_post` (`client_id` + `client_secret` in the body), or `private_key_jwt`
//! (`client_assertion_type` = `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and a
//! `client_assertion`, RFC 7523 §2.2; `client_id` may be omitted, §3: the assertion's `sub`
//! names it). Failures count towards the same per-source limit as other clients'
//! ([`client_auth::guarded`]). Keys at a `jwks_uri` are fetched through the public SSRF-safe
//! fetcher (a tenant admin typed the URL) and kept for a few minutes (`crate::jwks_cache`).
use actix_web::HttpRequest;
use app::token::ServiceCredentials;
use authz_core::service_account::auth::ASSERTION_TYPE;
use authz_core::service_account::Presented;
use authz_core::token::client_credentials::ClientCredentials;
use authz_core::token::IssuedTokens;

use crate::client_auth;
use crate::error::OAuthError;
use crate::params::Params;
use crate::state::AppState;

/// Reads the account's credential from the request (one method only, RFC 6749 §2.3).
fn credentials<'a>(
    p: &'a Params,
    basic: &'a Option<(String, String)>,
) -> Result<(String, Presented<'a>, bool), OAuthError> {
    let body_id = p.get("client_id");
    let assertion = p.get("client_assertion");
    let methods = [
        basic.is_some(),
        p.get("client_secret").is_some(),
        assertion.is_some(),
    ];
    if methods.iter().filter(|m| **m).count() > 1 {
        return Err(OAuthError::request(
            "use one client authentication method, not two",
        ));
    }
    if let Some((id, secret)) = basic {
        if body_id.is_some_and(|b| b != id) {
            return Err(OAuthError::client(
                "client_id in the body differs from the Basic credentials",
                true,
            ));
        }
        return Ok((id.clone(), Presented::Secret(secret), true));
    }
    if let Some(jwt) = assertion {
        if p.get("client_assertion_type") != Some(ASSERTION_TYPE) {
            return Err(OAuthError::request(format!(
                "client_assertion_type must be {ASSERTION_TYPE}"
            )));
        }
        // RFC 7523 §3: the client is the assertion's subject; a client_id sent along must agree.
        let sub = authz_core::jose::Jws::parse(jwt)
            .ok()
            .and_then(|j| j.claim_str("sub").map(str::to_string))
            .ok_or_else(|| OAuthError::client("the client assertion is malformed", false))?;
        if body_id.is_some_and(|b| b != sub) {
            return Err(OAuthError::client(
                "client_id differs from the client assertion's subject",
                false,
            ));
        }
        return Ok((sub, Presented::Assertion(jwt), false));
    }
    match (body_id, p.get("client_secret")) {
        (Some(id), Some(s)) => Ok((id.to_string(), Presented::Secret(s), false)),
        _ => Err(OAuthError::client(
            "client authentication is required",
            true,
        )),
    }
}

/// Authenticates the service account and issues its token.
pub async fn token(
    state: &AppState,
    req: &HttpRequest,
    p: &Params,
) -> Result<IssuedTokens, OAuthError> {
    let basic = client_auth::basic(req)?;
    let (client_id, presented, challenge) = credentials(p, &basic)?;
    let clock = state.clock.as_ref();
    state.node_limits.grant(clock, &client_id)?;
    let endpoint = format!("{}/oauth/token", state.issuer());
    let creds = ServiceCredentials {
        client_id: &client_id,
        presented,
        audiences: [endpoint.as_str(), state.issuer()],
    };
    // A DPoP proof binds the account's token to its key (RFC 9449 §5), as for every grant.
    let dpop_jkt = crate::dpop::dpop_key(state, req).await?;
    let g = ClientCredentials {
        scope: p.get("scope"),
        resource: p.get("resource"),
        dpop_jkt,
    };
    let attempt = async {
        app::token::client_credentials(&state.store, clock, state.service_jwks.as_ref(), creds, g)
            .await
            .map_err(|e| match e.code {
                "invalid_client" => OAuthError::client(e.description, challenge),
                _ => OAuthError::from(e),
            })
    };
    let issued = client_auth::guarded(state, req, true, attempt).await?;
    state.node_limits.granted(clock, &client_id);
    Ok(issued)
}
