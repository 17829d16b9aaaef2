//! The start of an authorization request (RFC 6749 §4.1.1, OAuth 2.1, RFC 7636, RFC 8707),
//! once the edge has identified the client. Until the redirect URI is validated, errors are
//! for the person ([`StartError::NoRedirectUri`], [`StartError::UnregisteredRedirectUri`]) and
//! never a redirect to an unvalidated URI (RFC 9700 §4.11); after that, a bad request is
//! answered to the client's redirect URI ([`StartError::ToClient`]).
//!
//! A valid request is stored as a login transaction bound to the browser; an existing
//! Gatehouse session of that browser skips the upstream round trip when it may be reused.
use authz_core::client::Client;
use authz_core::clock::Clock;
use authz_core::login::{self, AuthorizeRequest};
use authz_core::redirect::RedirectPolicy;
use authz_core::scope::{self, Tier};
use authz_core::{resource, session, CoreError, Store};

use crate::SignedInUser;

/// The authorization request's parameters, as the client sent them.
pub struct Request<'a> {
    /// The client, already identified (registered, or its metadata document fetched).
    pub client: &'a Client,
    /// `redirect_uri`, if sent (RFC 6749 §3.1.2.3: optional where exactly one is registered).
    pub redirect_uri: Option<&'a str>,
    pub response_type: Option<&'a str>,
    pub state: Option<&'a str>,
    pub code_challenge: Option<&'a str>,
    pub code_challenge_method: Option<&'a str>,
    pub resource: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub login_hint: Option<&'a str>,
}

/// Where the browser goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// No reusable session: sign in at the organisation's IdP.
    SignIn,
    /// A session exists, but a critical-tier scope was asked for and its IdP authentication is
    /// no longer fresh: sign in again (step-up, DESIGN §5).
    StepUp,
    /// The browser's session is reused: straight to consent (which may issue the code at once
    /// where consent is remembered).
    Consent,
}

/// A stored login transaction and where the browser goes next.
#[derive(Debug)]
pub struct Started {
    /// The transaction handle (the `tx` of the sign-in and consent pages).
    pub tx: String,
    pub next: Next,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No `redirect_uri`, and the client registered several.
    #[error("no redirect_uri, and the client registered several")]
    NoRedirectUri,
    /// `redirect_uri` does not match the client's registration (RFC 6749 §3.1.2.3).
    #[error("redirect_uri {0} is not registered for the client")]
    UnregisteredRedirectUri(String),
    /// An RFC 6749 §4.1.2.1 error, for the (validated) `redirect_uri` (with `state` and `iss`).
    #[error("{code}: {description}")]
    ToClient {
        redirect_uri: String,
        code: &'static str,
        description: &'static str,
    },
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// The redirect URI to answer to: the one sent, if registered (under `policy`), or the only
/// one registered.
fn redirect_uri(policy: &RedirectPolicy, r: &Request<'_>) -> Result<String, StartError> {
    let client = r.client;
    let uri = match r.redirect_uri {
        Some(u) => u.to_string(),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return Err(StartError::NoRedirectUri),
    };
    if !policy.matches(&client.redirect_uris, &uri) {
        return Err(StartError::UnregisteredRedirectUri(uri));
    }
    Ok(uri)
}

/// Validates the request (redirect URIs under `policy`), stores it as a login transaction
/// bound to `binding` (the browser's binding value) and decides whether `signed_in` (the
/// browser's live session, if any) can be reused for it.
pub async fn start(
    store: &Store,
    clock: &dyn Clock,
    policy: &RedirectPolicy,
    binding: &str,
    signed_in: Option<&SignedInUser>,
    r: Request<'_>,
) -> Result<Started, StartError> {
    let db = &store.db;
    let redirect_uri = redirect_uri(policy, &r)?;
    let (challenge, res_id, scopes, step_up) =
        validate(store, &r)
            .await?
            .map_err(|(code, description)| StartError::ToClient {
                redirect_uri: redirect_uri.clone(),
                code,
                description,
            })?;
    let areq = AuthorizeRequest {
        client_id: r.client.client_id.clone(),
        redirect_uri,
        state: r.state.map(str::to_string),
        code_challenge: challenge.to_string(),
        resource_id: res_id,
        scopes,
        login_hint: r.login_hint.map(str::to_string),
        step_up,
        redirect_uri_given: r.redirect_uri.is_some(),
        purpose: Default::default(),
        invitation: None,
    };
    let tx = login::start(db, clock, binding, &areq).await?;

    let next = match signed_in {
        Some(u) => reuse(store, clock, u, &areq).await?,
        None => Next::SignIn,
    };
    if let (Next::Consent, Some(u)) = (&next, signed_in) {
        let txm = login::load(db, clock, &tx, Some(binding)).await?;
        login::set_session(db, &txm, u.tenant(), u.session_id()).await?;
    }
    Ok(Started { tx, next })
}

/// The code challenge, the resource, the scopes to offer and whether step-up applies; or an
/// RFC 6749 §4.1.2.1 error code and description.
type Validated<'a> = Result<(&'a str, String, Vec<String>, bool), (&'static str, &'static str)>;

/// RFC 6749 §4.1.1 with OAuth 2.1's PKCE S256 (RFC 7636) and a registered resource (RFC 8707).
async fn validate<'a>(store: &Store, r: &Request<'a>) -> Result<Validated<'a>, CoreError> {
    if r.response_type != Some("code") {
        return Ok(Err((
            "unsupported_response_type",
            "response_type must be 'code'",
        )));
    }
    let Some(challenge) = r.code_challenge else {
        return Ok(Err((
            "invalid_request",
            "code_challenge is required (PKCE with S256)",
        )));
    };
    if r.code_challenge_method != Some("S256") {
        return Ok(Err((
            "invalid_request",
            "code_challenge_method must be S256; plain is not accepted",
        )));
    }
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Ok(Err((
            "invalid_request",
            "code_challenge must be a base64url SHA-256 value (43 characters)",
        )));
    }
    let Some(resource_uri) = r.resource else {
        return Ok(Err((
            "invalid_target",
            "the resource parameter is required (RFC 8707)",
        )));
    };
    let Some(res) = resource::find_by_uri(&store.db, resource_uri).await? else {
        return Ok(Err((
            "invalid_target",
            "the resource is not registered at this authorization server",
        )));
    };
    let catalogue = resource::catalogue(&store.db, &res.id).await?;
    let requested = scope::split(r.scope.unwrap_or(""));
    let mut scopes: Vec<String> = requested
        .iter()
        .filter(|s| catalogue.iter().any(|c| &c.name == *s))
        .cloned()
        .collect();
    // A critical-tier scope needs a fresh authentication at the IdP (step-up, DESIGN §5).
    let step_up = scopes.iter().any(|s| {
        catalogue
            .iter()
            .any(|c| &c.name == s && c.tier == Tier::Critical)
    });
    if scopes.is_empty() {
        // Nothing usable asked for: offer the resource's non-critical scopes; consent narrows
        // them to what the organisation granted.
        scopes = catalogue
            .iter()
            .filter(|c| c.tier != Tier::Critical)
            .map(|c| c.name.clone())
            .collect();
    }
    Ok(Ok((challenge, res.id, scopes, step_up)))
}

/// May the browser's session be reused for this request? Only for the organisation a
/// `login_hint` names, within the step-up window where a critical scope is asked for, while
/// the tenant is not suspended and the session's connection is still enabled (a session from a
/// connection the organisation disabled is not reused).
async fn reuse(
    store: &Store,
    clock: &dyn Clock,
    u: &SignedInUser,
    areq: &AuthorizeRequest,
) -> Result<Next, CoreError> {
    let db = &store.db;
    // The live session the edge found (not read again).
    let s = u.session();
    if let Some(h) = &areq.login_hint {
        let hint_tenant = authz_core::tenant::find_by_email_domain(db, h)
            .await?
            .map(|t| t.id);
        if hint_tenant.is_some_and(|t| t != s.tenant) {
            return Ok(Next::SignIn);
        }
    }
    if areq.step_up && !session::is_fresh(s, clock.now_us()) {
        return Ok(Next::StepUp);
    }
    if authz_core::incident::is_suspended(db, &s.tenant).await? {
        return Ok(Next::SignIn);
    }
    let enabled = authz_core::connection::get(db, &s.tenant, &s.connection_id)
        .await
        .map(|c| c.enabled)
        .unwrap_or(false);
    Ok(if enabled { Next::Consent } else { Next::SignIn })
}
