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

pub use authz_core::user::FederatedIdentity;

/// Errors with greppable codes (STYLE §6). Messages are safe to show an administrator.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("OIDC0001: the issuer URL is not valid: {0}")]
    BadIssuer(String),
    #[error("OIDC0002: discovery failed for {issuer}: {reason}")]
    Discovery { issuer: String, reason: String },
    #[error("OIDC0003: the identity provider refused the code exchange: {0}")]
    Exchange(String),
    #[error("OIDC0004: the identity provider returned no ID token")]
    NoIdToken,
    #[error("OIDC0005: the ID token is not valid: {0}")]
    IdToken(String),
    #[error("OIDC0006: the identity provider reported an error: {0}")]
    Upstream(String),
}

/// What to send upstream and what to keep server-side for the callback.
pub struct Begin {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The parts of a connection the RP needs.
pub struct RpConfig<'a> {
    pub connection_id: &'a str,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub redirect_uri: &'a str,
}

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
    ) -> Result<CoreProviderMetadata, FederationError> {
        if !fresh {
            if let Some((at, m)) = self.cache.lock().expect("cache lock").get(issuer) {
                if at.elapsed() < DISCOVERY_TTL {
                    return Ok(m.clone());
                }
            }
        }
        let issuer_url = IssuerUrl::new(issuer.to_string())
            .map_err(|e| FederationError::BadIssuer(e.to_string()))?;
        self.fetcher
            .check_url(issuer)
            .map_err(|e| FederationError::Discovery {
                issuer: issuer.into(),
                reason: e.to_string(),
            })?;
        let f = self.fetcher.clone();
        let http = move |req: openidconnect::HttpRequest| {
            let f = f.clone();
            async move { f.send(req).await }
        };
        let meta = CoreProviderMetadata::discover_async(issuer_url, &http)
            .await
            .map_err(|e| FederationError::Discovery {
                issuer: issuer.into(),
                reason: describe(&e),
            })?;
        self.cache
            .lock()
            .expect("cache lock")
            .insert(issuer.to_string(), (Instant::now(), meta.clone()));
        Ok(meta)
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

    /// Builds the upstream authorization request (code flow, PKCE S256, state, nonce).
    pub async fn begin(
        &self,
        cfg: &RpConfig<'_>,
        login_hint: Option<&str>,
    ) -> Result<Begin, FederationError> {
        let meta = self.discover(cfg.issuer, false).await?;
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
        if let Some(h) = login_hint {
            req = req.add_extra_param("login_hint", h.to_string());
        }
        let (url, state, nonce) = req.url();
        Ok(Begin {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Redeems the upstream code and validates the ID token.
    pub async fn finish(
        &self,
        cfg: &RpConfig<'_>,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
        now_s: i64,
    ) -> Result<FederatedIdentity, FederationError> {
        let meta = self.discover(cfg.issuer, false).await?;
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
        let verify = |client: &CoreClient<_, _, _, _, _, _>| -> Result<CoreIdTokenClaims, openidconnect::ClaimsVerificationError> {
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(ALLOWED_ALGS.to_vec())
                .set_time_fn(move || chrono::DateTime::from_timestamp(now_s, 0).unwrap_or_default())
                .require_issuer_match(true);
            id_token.claims(&verifier, &nonce).cloned()
        };
        let claims = match verify(&client) {
            Ok(c) => c,
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) => {
                // Key rotation: fetch the keys again once, then verify again.
                let meta = self.discover(cfg.issuer, true).await?;
                let client = Self::client(meta, cfg)?;
                verify(&client).map_err(|e| FederationError::IdToken(e.to_string()))?
            }
            Err(e) => return Err(FederationError::IdToken(e.to_string())),
        };
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
        Ok(FederatedIdentity {
            connection_id: cfg.connection_id.to_string(),
            subject: claims.subject().as_str().to_string(),
            email: claims.email().map(|e| e.as_str().to_string()),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_string()),
            auth_time: claims.auth_time().map(|t| t.timestamp()),
        })
    }
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

/// For callers that must show why a fetch failed.
pub fn fetch_error_text(e: &FetchError) -> String {
    e.to_string()
}
