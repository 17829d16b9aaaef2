//! The token endpoint's `client_credentials` grant (RFC 6749 §4.4) for tenant service
//! accounts. The caller authenticates as the account: `client_secret_basic` (HTTP Basic),
//! `client_secret_post` (`client_id` + `client_secret` in the body), or `private_key_jwt`
//! (`client_assertion_type` = `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and a
//! `client_assertion`, RFC 7523 §2.2; `client_id` may be omitted, §3: the assertion's `sub`
//! names it). Failures count towards the same per-source limit as other clients'
//! ([`client_auth::guarded`]). Keys at a `jwks_uri` are fetched through the public SSRF-safe
//! fetcher (a tenant admin typed the URL) and kept for a few minutes ([`JwksCache`]).
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use app::token::ServiceCredentials;
use authz_core::service_account::auth::ASSERTION_TYPE;
use authz_core::service_account::{KeySource, Presented};
use authz_core::token::client_credentials::ClientCredentials;
use authz_core::token::IssuedTokens;
use safe_fetch::SafeFetcher;
use serde_json::Value;

use crate::client_auth;
use crate::error::OAuthError;
use crate::params::Params;
use crate::state::AppState;

/// A JWK Set fetched from a `jwks_uri` is used this long at most (less when its
/// `Cache-Control: max-age` says so). Key material, not revocation state: a rotated-out key
/// can verify for this long on a node; disabling the account ends access at once.
pub const JWKS_CACHE_SECS: u64 = 300;

/// Fetched JWK Sets by URL, on this node.
pub struct JwksCache {
    fetcher: SafeFetcher,
    sets: Mutex<HashMap<String, (Instant, Value)>>,
}

impl JwksCache {
    pub fn new(fetcher: SafeFetcher) -> Self {
        JwksCache {
            fetcher,
            sets: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait::async_trait]
impl KeySource for JwksCache {
    async fn jwks(&self, uri: &str, fresh: bool) -> Result<Value, String> {
        if !fresh {
            if let Some((until, v)) = self.sets.lock().expect("jwks cache").get(uri) {
                if Instant::now() < *until {
                    return Ok(v.clone());
                }
            }
        }
        let got = self
            .fetcher
            .get(uri, "application/jwk-set+json, application/json")
            .await
            .map_err(|e| format!("the jwks_uri could not be fetched: {e}"))?;
        let v: Value = serde_json::from_slice(&got.body)
            .map_err(|_| "the jwks_uri did not return JSON".to_string())?;
        let secs = got.max_age.unwrap_or(JWKS_CACHE_SECS).min(JWKS_CACHE_SECS);
        let mut sets = self.sets.lock().expect("jwks cache");
        if sets.len() > 10_000 {
            sets.clear();
        }
        sets.insert(
            uri.to_string(),
            (Instant::now() + Duration::from_secs(secs), v.clone()),
        );
        Ok(v)
    }
}

/// Reads the account's credential from the request (one method only, RFC 6749 §2.3).
fn credentials<'a>(p: &'a Params, basic: &'a Option<(String, String)>)
    -> Result<(String, Presented<'a>, bool), OAuthError> {
    let body_id = p.get("client_id");
    let assertion = p.get("client_assertion");
    let methods = [basic.is_some(), p.get("client_secret").is_some(), assertion.is_some()];
    if methods.iter().filter(|m| **m).count() > 1 {
        return Err(OAuthError::request("use one client authentication method, not two"));
    }
    if let Some((id, secret)) = basic {
        if body_id.is_some_and(|b| b != id) {
            return Err(OAuthError::client("client_id in the body differs from the Basic credentials", true));
        }
        return Ok((id.clone(), Presented::Secret(secret), true));
    }
    if let Some(jwt) = assertion {
        if p.get("client_assertion_type") != Some(ASSERTION_TYPE) {
            return Err(OAuthError::request(format!("client_assertion_type must be {ASSERTION_TYPE}")));
        }
        // RFC 7523 §3: the client is the assertion's subject; a client_id sent along must agree.
        let sub = authz_core::jose::Jws::parse(jwt)
            .ok()
            .and_then(|j| j.claim_str("sub").map(str::to_string))
            .ok_or_else(|| OAuthError::client("the client assertion is malformed", false))?;
        if body_id.is_some_and(|b| b != sub) {
            return Err(OAuthError::client("client_id differs from the client assertion's subject", false));
        }
        return Ok((sub, Presented::Assertion(jwt), false));
    }
    match (body_id, p.get("client_secret")) {
        (Some(id), Some(s)) => Ok((id.to_string(), Presented::Secret(s), false)),
        _ => Err(OAuthError::client("client authentication is required", true)),
    }
}

/// Authenticates the service account and issues its token.
pub async fn token(state: &AppState, req: &HttpRequest, p: &Params) -> Result<IssuedTokens, OAuthError> {
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
    let g = ClientCredentials {
        scope: p.get("scope"),
        resource: p.get("resource"),
        // DPoP proofs at the token endpoint are another part of issue 14.
        dpop_jkt: None,
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
