//! Client authentication at the token and revocation endpoints (RFC 6749 §2.3): HTTP Basic
//! (`client_secret_basic`, with form-urlencoded id and secret), `client_secret_post`, or a
//! public client identified by `client_id` alone (`none`). A `client_id` in the body alongside
//! Basic is accepted when it names the same client (real SDKs send both).
use actix_web::http::header;
use actix_web::HttpRequest;
use authz_core::client::Client;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::error::OAuthError;
use crate::params::Params;
use crate::state::AppState;

pub struct Credentials {
    pub client_id: String,
    pub secret: Option<String>,
    pub basic: bool,
}

fn decode_component(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// HTTP Basic credentials, if an Authorization: Basic header is present.
pub fn basic(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(h) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let h = h
        .to_str()
        .map_err(|_| OAuthError::client("malformed Authorization header", true))?;
    let Some(b64) = h
        .strip_prefix("Basic ")
        .or_else(|| h.strip_prefix("basic "))
    else {
        return Err(OAuthError::client(
            "unsupported Authorization scheme; use Basic",
            true,
        ));
    };
    let raw = STANDARD
        .decode(b64.trim())
        .map_err(|_| OAuthError::client("malformed Basic credentials", true))?;
    let raw = String::from_utf8(raw)
        .map_err(|_| OAuthError::client("malformed Basic credentials", true))?;
    let (id, secret) = raw
        .split_once(':')
        .ok_or_else(|| OAuthError::client("malformed Basic credentials", true))?;
    let (id, secret) = (decode_component(id), decode_component(secret));
    if id.contains('\0') || secret.contains('\0') {
        return Err(OAuthError::client("malformed Basic credentials", true));
    }
    Ok(Some((id, secret)))
}

pub fn credentials(req: &HttpRequest, p: &Params) -> Result<Credentials, OAuthError> {
    let body_id = p.get("client_id");
    if let Some((id, secret)) = basic(req)? {
        if body_id.map(|b| b != id).unwrap_or(false) {
            return Err(OAuthError::client(
                "client_id in the body differs from the Basic credentials",
                true,
            ));
        }
        if p.get("client_secret").is_some() {
            return Err(OAuthError::request(
                "use one client authentication method, not two",
            ));
        }
        return Ok(Credentials {
            client_id: id,
            secret: Some(secret),
            basic: true,
        });
    }
    let Some(id) = body_id else {
        return Err(OAuthError::client(
            "client authentication is required",
            true,
        ));
    };
    Ok(Credentials {
        client_id: id.to_string(),
        secret: p.get("client_secret").map(str::to_string),
        basic: false,
    })
}

/// Authenticates the calling client. Confidential clients must present their secret; public
/// clients must not claim one.
pub async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    p: &Params,
) -> Result<Client, OAuthError> {
    // Public clients present nothing to guess.
    let presents_secret = req
        .headers()
        .contains_key(actix_web::http::header::AUTHORIZATION)
        || p.get("client_secret").is_some();
    let client = guarded(state, req, presents_secret, check(state, req, p)).await?;
    authz_core::trace::caller(None, &format!("client:{}", client.client_id));
    Ok(client)
}

/// Runs a client authentication `attempt` under the per-source limit of failures: over the
/// limit, a presented credential is not even checked (a right guess must not succeed where
/// wrong ones are being refused); each `invalid_client` counts. The limit is shared by every
/// node: each failure is added to the shared count, and a node reads that count before a
/// check at most once a second per source (`NodeLimits::failed_auth`: a limit reached through
/// other nodes holds here within a second, and at once after this node's own next failure).
/// Service accounts (`crate::client_credentials`) go through it too.
pub async fn guarded<T>(
    state: &AppState,
    req: &HttpRequest,
    presents_credential: bool,
    attempt: impl std::future::Future<Output = Result<T, OAuthError>>,
) -> Result<T, OAuthError> {
    let bucket = format!("client-auth-fail:{}", crate::limits::key(req));
    let too_many = || {
        OAuthError::too_many(
            "too many failed client authentications; try again in a minute",
            authz_core::ratelimit::retry_after(state.clock.as_ref(), 60),
        )
    };
    let clock = state.clock.as_ref();
    let view = &state.node_limits.failed_auth;
    if presents_credential {
        let failures = match view.known(clock, &bucket, FAILED_AUTH_PER_MINUTE) {
            Some(n) => n,
            None => {
                let n = authz_core::ratelimit::count(&state.store.db, clock, &bucket, 60)
                    .await
                    .map_err(OAuthError::server)?;
                view.saw(clock, &bucket, n);
                n
            }
        };
        if failures >= FAILED_AUTH_PER_MINUTE {
            return Err(too_many());
        }
    }
    let result = attempt.await;
    if let Err(e) = &result {
        if e.code == "invalid_client" {
            let n = authz_core::ratelimit::hit(&state.store.db, clock, &bucket, 60)
                .await
                .map_err(OAuthError::server)?;
            view.saw(clock, &bucket, n);
            if n > FAILED_AUTH_PER_MINUTE {
                return Err(too_many());
            }
        }
    }
    result
}

/// Failed client authentications tolerated per source and minute.
pub const FAILED_AUTH_PER_MINUTE: i64 = 30;

async fn check(state: &AppState, req: &HttpRequest, p: &Params) -> Result<Client, OAuthError> {
    let creds = credentials(req, p)?;
    let client = authz_core::client::find(&state.store, &creds.client_id)
        .await
        .map_err(OAuthError::server)?
        .ok_or_else(|| OAuthError::client("unknown client", creds.basic))?;
    if client.is_confidential() {
        match &creds.secret {
            Some(s) if client.secret_matches(s) => Ok(client),
            _ => Err(OAuthError::client(
                "client authentication failed",
                creds.basic,
            )),
        }
    } else if creds.secret.is_some() {
        Err(OAuthError::client(
            "this client is public and has no secret",
            creds.basic,
        ))
    } else {
        Ok(client)
    }
}
