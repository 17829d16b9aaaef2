//! The upstream OpenID Connect relying party: one per tenant connection (DESIGN §6.7).
//!
//! Discovery, JWKS and the token call all go through the SSRF-safe fetcher. The ID token is
//! checked for issuer, audience, nonce, expiry, an allow-listed asymmetric algorithm (never
//! `none`, never HS256 with the client secret) and `at_hash` when present; on an unknown `kid`
//! the provider metadata and keys are fetched again once.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use safe_fetch::{FetchError, SafeFetcher};

pub mod preset;
mod refresh;
pub use preset::Preset;

pub use authz_core::user::FederatedIdentity;

/// Errors with greppable codes (STYLE §6). Messages are safe to show an administrator.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("OIDC0001: the issuer URL is not valid: {0}")]
    BadIssuer(String),
    /// `reason` may quote what the server answered or what its name resolved to: show it to
    /// the operator (CLI, logs), and only `failure.category()` to anyone else.
    #[error("OIDC0002: discovery failed for {issuer}: {reason}")]
    Discovery {
        issuer: String,
        reason: String,
        failure: DiscoveryFailure,
    },
    #[error("OIDC0003: the identity provider refused the code exchange: {0}")]
    Exchange(String),
    #[error("OIDC0004: the identity provider returned no ID token")]
    NoIdToken,
    #[error("OIDC0005: the ID token is not valid: {0}")]
    IdToken(String),
    #[error("OIDC0006: the identity provider reported an error: {0}")]
    Upstream(String),
    #[error("OIDC0007: multi-tenant Entra endpoints cannot be trusted (their issuer is a {{tenantid}} template); use the tenant-specific issuer {0}")]
    MultiTenantIssuer(String),
    #[error("OIDC0008: {0}")]
    Claims(String),
    #[error("OIDC0009: fresh authentication required: {0}")]
    StepUp(String),
}

/// Which step of discovery failed, in words safe to show to someone who is not the operator
/// (review F3): none of them carries the body, an address or a port state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryFailure {
    /// Not an https URL, or not a URL.
    BadUrl,
    /// Refused by the fetcher, unreachable, or answered with something other than 200.
    Unreachable,
    /// Not an OpenID Connect discovery document.
    Invalid,
    /// The document names another issuer.
    IssuerMismatch,
}

impl DiscoveryFailure {
    pub fn category(self) -> &'static str {
        match self {
            DiscoveryFailure::BadUrl => "the issuer must be an https URL",
            DiscoveryFailure::Unreachable => "the discovery document could not be fetched",
            DiscoveryFailure::Invalid => "the discovery document is invalid",
            DiscoveryFailure::IssuerMismatch => {
                "issuer mismatch: the discovery document names another issuer"
            }
        }
    }
}

/// What to send upstream and what to keep server-side for the callback.
pub struct Begin {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// A verified upstream sign-in, and the refresh token the IdP granted with it (offline access),
/// if any.
pub struct SignedIn {
    pub identity: FederatedIdentity,
    pub refresh_token: Option<String>,
}

/// The parts of a connection the RP needs.
pub struct RpConfig<'a> {
    pub connection_id: &'a str,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub redirect_uri: &'a str,
    pub preset: &'a Preset,
    /// The tenant's verified domains (Google `hd` must be one of them).
    pub tenant_domains: &'a [String],
}

/// Clock leeway for ID-token expiry and `auth_time` freshness.
pub const LEEWAY_SECS: i64 = 60;

const DISCOVERY_TTL: Duration = Duration::from_secs(300);
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 6] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
];

pub struct OidcRp {
    fetcher: SafeFetcher,
    /// Provider metadata and keys are public; caching them per node changes nothing about
    /// revocation or replay, so an in-process cache is fine here.
    cache: Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>,
}

impl OidcRp {
    pub fn new(fetcher: SafeFetcher) -> Self {
        OidcRp {
            fetcher,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Fetches and validates the discovery document (the issuer in it must equal `issuer`).
    pub async fn discover(
        &self,
        issuer: &str,
        fresh: bool,
        preset: &Preset,
    ) -> Result<CoreProviderMetadata, FederationError> {
        if !fresh {
            if let Some((at, m)) = self.cache.lock().expect("cache lock").get(issuer) {
                if at.elapsed() < DISCOVERY_TTL {
                    return Ok(m.clone());
                }
            }
        }
        preset.check_issuer_url(issuer)?;
        let issuer_url = IssuerUrl::new(issuer.to_string())
            .map_err(|e| FederationError::BadIssuer(e.to_string()))?;
        self.fetcher
            .check_url(issuer)
            .map_err(|e| FederationError::Discovery {
                issuer: issuer.into(),
                reason: e.to_string(),
                failure: match e {
                    FetchError::NotHttps(_) | FetchError::BadUrl(_) => DiscoveryFailure::BadUrl,
                    _ => DiscoveryFailure::Unreachable,
                },
            })?;
        let f = self.fetcher.clone();
        let http = move |req: openidconnect::HttpRequest| {
            let f = f.clone();
            async move { f.send(req).await }
        };
        let meta = CoreProviderMetadata::discover_async(issuer_url, &http)
            .await
            .map_err(|e| {
                let reason = describe(&e);
                // Entra's /common and /organizations documents name a `{tenantid}` template as
                // their issuer: no token can ever match it.
                if reason.contains("{tenantid}") || reason.contains("%7Btenantid%7D") {
                    return FederationError::MultiTenantIssuer(preset.entra_hint());
                }
                use openidconnect::DiscoveryError as D;
                let failure = match &e {
                    D::Request(_) | D::Response(..) => DiscoveryFailure::Unreachable,
                    D::Validation(_) => DiscoveryFailure::IssuerMismatch,
                    D::UrlParse(_) => DiscoveryFailure::BadUrl,
                    _ => DiscoveryFailure::Invalid,
                };
                FederationError::Discovery {
                    issuer: issuer.into(),
                    reason,
                    failure,
                }
            })?;
        preset.check_discovered_issuer(meta.issuer().as_str())?;
        self.cache
            .lock()
            .expect("cache lock")
            .insert(issuer.to_string(), (Instant::now(), meta.clone()));
        Ok(meta)
    }

    /// The IdP's signing keys (its JWK Set, RFC 7517 §5) as JSON, from the same discovery
    /// cache as sign-in: `fresh` fetches discovery and keys again (on an unknown `kid`, key
    /// rotation). For JWTs the IdP signs other than ID tokens (an ID-JAG, verified with
    /// `authz_core::jose::Jws::verify_with_set`).
    pub async fn jwks(
        &self,
        issuer: &str,
        fresh: bool,
        preset: &Preset,
    ) -> Result<serde_json::Value, FederationError> {
        let meta = self.discover(issuer, fresh, preset).await?;
        serde_json::to_value(meta.jwks()).map_err(|e| FederationError::Discovery {
            issuer: issuer.into(),
            reason: format!("the JWK Set cannot be read: {e}"),
            failure: DiscoveryFailure::Invalid,
        })
    }

    fn client(
        meta: CoreProviderMetadata,
        cfg: &RpConfig<'_>,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        FederationError,
    > {
        let redirect = RedirectUrl::new(cfg.redirect_uri.to_string())
            .map_err(|e| FederationError::BadIssuer(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            meta,
            ClientId::new(cfg.client_id.to_string()),
            Some(ClientSecret::new(cfg.client_secret.to_string())),
        )
        .set_redirect_uri(redirect))
    }

    /// Builds the upstream authorization request (code flow, PKCE S256, state, nonce). With
    /// `step_up_max_age`, asks for a fresh authentication (`prompt=login`, `max_age`).
    pub async fn begin(
        &self,
        cfg: &RpConfig<'_>,
        login_hint: Option<&str>,
        step_up_max_age: Option<i64>,
    ) -> Result<Begin, FederationError> {
        cfg.preset.check_issuer_url(cfg.issuer)?;
        let meta = self.discover(cfg.issuer, false, cfg.preset).await?;
        let client = Self::client(meta, cfg)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        // Offline access, so a refresh can ask the IdP again whether the person may still
        // sign in (DESIGN §4b); how to ask differs per IdP (see `Preset::offline_access`).
        let offline = cfg.preset.offline_access();
        if let Some(scope) = offline.scope {
            req = req.add_scope(Scope::new(scope.into()));
        }
        for (k, v) in offline.params {
            req = req.add_extra_param(k, v);
        }
        if let Some(h) = login_hint {
            req = req.add_extra_param("login_hint", h.to_string());
        }
        for (k, v) in cfg.preset.hint_params(cfg.tenant_domains) {
            req = req.add_extra_param(k, v);
        }
        if let Some(max_age) = step_up_max_age {
            req = req
                .add_prompt(openidconnect::core::CoreAuthPrompt::Login)
                .set_max_age(std::time::Duration::from_secs(max_age.max(0) as u64));
        }
        let (url, state, nonce) = req.url();
        Ok(Begin {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Redeems the upstream code and validates the ID token: signature (allow-listed
    /// algorithms, keys refetched once on an unknown `kid`), issuer, audience, nonce, expiry
    /// (with [`LEEWAY_SECS`]), `at_hash` when present, then the preset's own claims. With
    /// `require_auth_within`, `auth_time` must be present and that fresh (step-up).
    pub async fn finish(
        &self,
        cfg: &RpConfig<'_>,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
        now_s: i64,
        require_auth_within: Option<i64>,
    ) -> Result<SignedIn, FederationError> {
        let meta = self.discover(cfg.issuer, false, cfg.preset).await?;
        let discovered_issuer = meta.issuer().as_str().to_string();
        let client = Self::client(meta, cfg)?;
        let f = self.fetcher.clone();
        let http = move |req: openidconnect::HttpRequest| {
            let f = f.clone();
            async move { f.send(req).await }
        };
        let resp = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| FederationError::Exchange(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&http)
            .await
            .map_err(|e| FederationError::Exchange(describe(&e)))?;
        let id_token = resp.id_token().ok_or(FederationError::NoIdToken)?.clone();
        let nonce = Nonce::new(nonce.to_string());
        let accepted = cfg.preset.accepted_issuers(&discovered_issuer);
        let strict_issuer = accepted.len() == 1;
        let verify = |client: &CoreClient<_, _, _, _, _, _>| -> Result<CoreIdTokenClaims, openidconnect::ClaimsVerificationError> {
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(ALLOWED_ALGS.to_vec())
                .set_time_fn(move || {
                    chrono::DateTime::from_timestamp(now_s - LEEWAY_SECS, 0).unwrap_or_default()
                })
                // A token issued in the future (beyond the leeway) is refused.
                .set_issue_time_verifier_fn(move |iat| {
                    if iat.timestamp() > now_s + LEEWAY_SECS {
                        Err(format!("issued {} seconds in the future", iat.timestamp() - now_s))
                    } else {
                        Ok(())
                    }
                })
                .require_issuer_match(strict_issuer);
            id_token.claims(&verifier, &nonce).cloned()
        };
        let claims = match verify(&client) {
            Ok(c) => c,
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) => {
                // Key rotation: fetch the keys again once, then verify again.
                let meta = self.discover(cfg.issuer, true, cfg.preset).await?;
                let client = Self::client(meta, cfg)?;
                verify(&client).map_err(|e| FederationError::IdToken(e.to_string()))?
            }
            Err(e) => return Err(FederationError::IdToken(e.to_string())),
        };
        if !accepted.iter().any(|a| a == claims.issuer().as_str()) {
            return Err(FederationError::IdToken(format!(
                "unexpected issuer '{}'",
                claims.issuer().as_str()
            )));
        }
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(|e| FederationError::IdToken(e.to_string()))?;
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(ALLOWED_ALGS.to_vec());
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| FederationError::IdToken(e.to_string()))?;
            let actual = AccessTokenHash::from_token(resp.access_token(), alg, key)
                .map_err(|e| FederationError::IdToken(e.to_string()))?;
            if &actual != expected {
                return Err(FederationError::IdToken(
                    "at_hash does not match the access token".into(),
                ));
            }
        }
        let auth_time = claims.auth_time().map(|t| t.timestamp());
        if let Some(window) = require_auth_within {
            match auth_time {
                None => {
                    return Err(FederationError::StepUp(
                        "the identity provider did not report auth_time, so Gatehouse cannot tell when you signed in".into(),
                    ))
                }
                Some(t) if t > now_s + LEEWAY_SECS => {
                    return Err(FederationError::StepUp(format!(
                        "the identity provider reports a sign-in {} seconds in the future",
                        t - now_s
                    )))
                }
                Some(t) if now_s - t > window + LEEWAY_SECS => {
                    return Err(FederationError::StepUp(format!(
                        "the identity provider reports a sign-in {} seconds ago; at most {window} is allowed",
                        now_s - t
                    )))
                }
                Some(_) => {}
            }
        }
        // Signature and standard claims are verified: the payload can now be read for the
        // preset's own claims (tid, oid, hd, groups, _claim_names).
        let raw = payload(&id_token.to_string())?;
        let who = cfg.preset.identify(&raw, cfg.tenant_domains)?;
        let identity = FederatedIdentity {
            connection_id: cfg.connection_id.to_string(),
            subject: who.subject,
            // An address the IdP says it has not verified is not an address of this person.
            email: claims
                .email()
                .filter(|_| claims.email_verified() != Some(false))
                .map(|e| e.as_str().to_string()),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_string()),
            auth_time,
            acr: claims.auth_context_ref().map(|a| a.as_str().to_string()),
            amr: claims
                .auth_method_refs()
                .map(|v| v.iter().map(|a| a.as_str().to_string()).collect())
                .unwrap_or_default(),
            groups: who.groups,
            groups_overage: who.groups_overage,
        };
        Ok(SignedIn {
            identity,
            refresh_token: resp.refresh_token().map(|t| t.secret().clone()),
        })
    }
}

fn payload(jwt: &str) -> Result<serde_json::Value, FederationError> {
    use base64::Engine;
    let part = jwt
        .split('.')
        .nth(1)
        .ok_or_else(|| FederationError::IdToken("malformed JWT".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| FederationError::IdToken("malformed JWT payload".into()))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| FederationError::IdToken("malformed JWT payload".into()))
}

/// Flattens an error chain into one line (the fetcher's reasons are the useful part).
fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s = format!("{s}: {x}");
        src = x.source();
    }
    s
}

/// What a page may say about a failed fetch of a URL someone typed: the category only. The
/// error itself names resolved addresses, redirects, statuses and transport failures (a DNS and
/// port oracle, review F3): log it with a code, never show it.
pub fn fetch_error_text(e: &FetchError) -> &'static str {
    match e {
        FetchError::NotHttps(_) | FetchError::BadUrl(_) => "the URL must be an https URL",
        FetchError::TooLarge(_) => "the document is too large",
        _ => "it could not be fetched",
    }
}
