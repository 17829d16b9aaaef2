//! Authenticating a service account at the token endpoint (RFC 6749 §2.3): by its client
//! secret, current or (during a rotation's overlap) previous, compared in constant time; or by
//! a `private_key_jwt` client assertion (RFC 7523 §2.2, §3): `iss` = `sub` = the client id,
//! `aud` the token endpoint URL or the issuer, a bounded `exp`, a `jti` used once on every node
//! (`jti::use_once`, namespace `client_assertion:<client_id>`), signed with one of the
//! account's keys (`jose::Jws`, asymmetric algorithms only). A refusal of a known account is
//! audited (`token.refused`); the caller answers `invalid_client` (RFC 6749 §5.2) alike for
//! every reason, and never echoes the credential.
use async_trait::async_trait;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use super::{Method, ServiceAccount};
use crate::audit::{self, AuditEvent};
use crate::clock::{Clock, MICROS};
use crate::crypto::{hashes_equal, sha256_hex};
use crate::db::Store;
use crate::entities::service_accounts::{self, Column, Entity};
use crate::error::CoreResult;
use crate::jose::{JoseError, Jws};
use crate::tenant::TenantId;

/// RFC 7523 §2.2: the assertion type of `private_key_jwt`.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest an assertion may still be valid for when it arrives: its `jti` is remembered
/// until its `exp`, so the bound keeps the replay store small.
pub const MAX_ASSERTION_SECS: i64 = 3600;
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const SKEW_SECS: i64 = 60;

/// The credential a caller presented.
#[derive(Clone, Copy, Debug)]
pub enum Presented<'a> {
    /// `client_secret_basic` or `client_secret_post`.
    Secret(&'a str),
    /// A `client_assertion` of type [`ASSERTION_TYPE`].
    Assertion(&'a str),
}

/// Fetches a JWK Set by URL through the SSRF-safe fetcher (an edge's; the core has no HTTP).
#[async_trait]
pub trait KeySource: Send + Sync {
    /// The set at `uri`; `fresh`: bypass any cache (the cached set lacks the signing key, a
    /// key rollover at the client).
    async fn jwks(&self, uri: &str, fresh: bool) -> Result<Value, String>;
}

/// Why authentication failed: said to no one but the audit log and the tests.
#[derive(Debug)]
pub struct AuthFailure {
    /// The account, when the client id named one.
    pub account: Option<(TenantId, String)>,
    pub reason: String,
}

fn fail(m: Option<&service_accounts::Model>, reason: impl Into<String>) -> AuthFailure {
    AuthFailure {
        account: m.map(|m| (TenantId::from_stored(m.tenant_id.clone()), m.id.clone())),
        reason: reason.into(),
    }
}

/// The enabled account `client_id` names, if `presented` proves it. `audiences`: the token
/// endpoint URL and the issuer (RFC 7523 §3 item 3).
pub async fn authenticate(
    store: &Store,
    clock: &dyn Clock,
    keys: &dyn KeySource,
    client_id: &str,
    presented: Presented<'_>,
    audiences: &[&str],
) -> CoreResult<Result<ServiceAccount, AuthFailure>> {
    let Some(m) = Entity::find()
        .filter(Column::ClientId.eq(client_id))
        .one(&store.db)
        .await?
    else {
        return Ok(Err(fail(None, "unknown client")));
    };
    let outcome = check(store, clock, keys, &m, presented, audiences).await?;
    if let Err(why) = &outcome {
        audit::record(
            &store.db,
            clock,
            AuditEvent::new(
                Some(&TenantId::from_stored(m.tenant_id.clone())),
                "token.refused",
            )
            .result("denied")
            .actor(format!("service:{}", m.id))
            .user(m.id.clone())
            .client(m.client_id.clone())
            .detail("grant_type", "client_credentials")
            .detail("reason", format!("client authentication failed: {why}")),
        )
        .await?;
    }
    match outcome {
        Ok(()) => {
            if store.is_postgres() && matches!(presented, Presented::Secret(_)) {
                remember(&m);
            }
            Ok(Ok(ServiceAccount::try_from(m)?))
        }
        Err(why) => Ok(Err(fail(Some(&m), why))),
    }
}

/// The accounts that last proved a client secret on this node, by client id (PostgreSQL only):
/// a `client_credentials` grant by a remembered account skips reading the account
/// (`app::token::client_credentials`, issue 15 §1). What is remembered never decides alone:
/// the grant's one write is guarded by the account's `updated_at` (every change to an account
/// moves it: `next_version`), its `disabled_at` and its tenant's suspension, read in the same
/// statement. When the guard fails the entry is forgotten and the request starts over with a
/// fresh read and a fresh check of the secret. A secret replaced since keeps proving nothing:
/// the replacement moved `updated_at`. `private_key_jwt` is never remembered (each assertion's
/// `jti` is spent on use).
static REMEMBERED: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, service_accounts::Model>>,
> = std::sync::LazyLock::new(Default::default);

/// Most accounts one node remembers; past it the memory starts empty again.
const MAX_REMEMBERED: usize = 10_000;

fn remember(m: &service_accounts::Model) {
    if let Ok(mut r) = REMEMBERED.lock() {
        if r.len() >= MAX_REMEMBERED {
            r.clear();
        }
        r.insert(m.client_id.clone(), m.clone());
    }
}

/// The enabled account `client_id` names, as this node remembers it, if `secret` (current, or
/// previous within its overlap) proves it. `None`: authenticate with [`authenticate`].
pub fn remembered(clock: &dyn Clock, client_id: &str, secret: &str) -> Option<ServiceAccount> {
    let m = REMEMBERED.lock().ok()?.get(client_id)?.clone();
    let proves = m.disabled_at.is_none()
        && Method::parse(&m.auth_method).ok()? == Method::ClientSecretBasic
        && secret_matches(&m, clock, secret);
    if !proves {
        return None;
    }
    ServiceAccount::try_from(m).ok()
}

/// Forgets what this node remembers of the account `client_id` (its grant's guard failed).
pub fn forget(client_id: &str) {
    if let Ok(mut r) = REMEMBERED.lock() {
        r.remove(client_id);
    }
}

/// The account's last use was recorded at `at`: the remembered copy says so too, so the next
/// grant does not write it again.
pub(crate) fn used(client_id: &str, at: i64) {
    if let Ok(mut r) = REMEMBERED.lock() {
        if let Some(m) = r.get_mut(client_id) {
            m.last_used_at = Some(at);
        }
    }
}

async fn check(
    store: &Store,
    clock: &dyn Clock,
    keys: &dyn KeySource,
    m: &service_accounts::Model,
    presented: Presented<'_>,
    audiences: &[&str],
) -> CoreResult<Result<(), String>> {
    if m.disabled_at.is_some() {
        return Ok(Err("the service account is disabled".into()));
    }
    let method = Method::parse(&m.auth_method)?;
    match (method, presented) {
        (Method::ClientSecretBasic, Presented::Secret(s)) => Ok(secret_matches(m, clock, s)
            .then_some(())
            .ok_or_else(|| "wrong client secret".to_string())),
        (Method::PrivateKeyJwt, Presented::Assertion(jwt)) => {
            assertion(store, clock, keys, m, jwt, audiences).await
        }
        (Method::ClientSecretBasic, Presented::Assertion(_)) => Ok(Err(
            "the account authenticates with a client secret, not private_key_jwt".into(),
        )),
        (Method::PrivateKeyJwt, Presented::Secret(_)) => Ok(Err(
            "the account authenticates with private_key_jwt, not a client secret".into(),
        )),
    }
}

/// The current secret, or the one the last rotation replaced while its overlap lasts.
fn secret_matches(m: &service_accounts::Model, clock: &dyn Clock, secret: &str) -> bool {
    let presented = sha256_hex(secret);
    let current = m
        .secret_hash
        .as_deref()
        .is_some_and(|h| hashes_equal(h, &presented));
    let previous = match (&m.prev_secret_hash, m.prev_secret_until) {
        (Some(h), Some(until)) => clock.now_us() < until && hashes_equal(h, &presented),
        _ => false,
    };
    current | previous
}

/// RFC 7523 §3 checks of a client assertion, then its signature, then its single use.
async fn assertion(
    store: &Store,
    clock: &dyn Clock,
    keys: &dyn KeySource,
    m: &service_accounts::Model,
    jwt: &str,
    audiences: &[&str],
) -> CoreResult<Result<(), String>> {
    let jws = match Jws::parse(jwt) {
        Ok(j) => j,
        Err(e) => return Ok(Err(format!("the client assertion is malformed: {e}"))),
    };
    if let Err(why) = claims_hold(&jws, &m.client_id, clock.now_us() / MICROS, audiences) {
        return Ok(Err(why));
    }
    if let Err(e) = verify(&jws, keys, m).await {
        return Ok(Err(format!("the client assertion's signature: {e}")));
    }
    let (jti, exp) = (
        jws.claim_str("jti").unwrap_or_default(),
        jws.claim_i64("exp").unwrap_or_default(),
    );
    let namespace = format!("client_assertion:{}", m.client_id);
    if !crate::jti::use_once(&store.db, &namespace, jti, exp * MICROS).await? {
        return Ok(Err(
            "the client assertion was already used (jti replay)".into()
        ));
    }
    Ok(Ok(()))
}

/// The claims of RFC 7523 §3 (before the signature, which costs more).
pub(crate) fn claims_hold(
    jws: &Jws,
    client_id: &str,
    now: i64,
    audiences: &[&str],
) -> Result<(), String> {
    match jws.header_str("typ") {
        None | Some("JWT" | "jwt" | "client-authentication+jwt") => {}
        Some(other) => {
            return Err(format!(
                "a JWT of type '{}' is not a client assertion",
                other.chars().take(40).collect::<String>()
            ))
        }
    }
    if jws.claim_str("iss") != Some(client_id) || jws.claim_str("sub") != Some(client_id) {
        return Err("iss and sub must both be the client id".into());
    }
    let aud_ok = match jws.claims.get("aud") {
        Some(Value::String(a)) => audiences.contains(&a.as_str()),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .any(|a| audiences.contains(&a)),
        _ => false,
    };
    if !aud_ok {
        return Err("aud must be the token endpoint URL or the issuer".into());
    }
    let Some(exp) = jws.claim_i64("exp") else {
        return Err("exp is required".into());
    };
    if exp + SKEW_SECS <= now {
        return Err("the client assertion has expired".into());
    }
    if exp - now > MAX_ASSERTION_SECS {
        return Err(format!(
            "the client assertion is valid for too long (at most {MAX_ASSERTION_SECS} s)"
        ));
    }
    for claim in ["nbf", "iat"] {
        if jws.claim_i64(claim).is_some_and(|t| t > now + SKEW_SECS) {
            return Err(format!("{claim} is in the future"));
        }
    }
    match jws.claim_str("jti") {
        Some(j) if !j.is_empty() && j.len() <= 256 => Ok(()),
        _ => Err("jti is required (at most 256 characters)".into()),
    }
}

/// Verifies with the inline set, or the fetched one (fetched again once, bypassing the cache,
/// when it has no matching key: the client may have rolled its key over).
async fn verify(
    jws: &Jws,
    keys: &dyn KeySource,
    m: &service_accounts::Model,
) -> Result<(), String> {
    if let Some(inline) = &m.jwks {
        let set: Value =
            serde_json::from_str(inline).map_err(|_| "the stored keys are unreadable")?;
        return jws.verify_with_set(&set).map_err(|e| e.to_string());
    }
    let Some(uri) = &m.jwks_uri else {
        return Err("the account has no keys".into());
    };
    let set = keys.jwks(uri, false).await?;
    match jws.verify_with_set(&set) {
        Err(JoseError::Key(_)) => {
            let set = keys.jwks(uri, true).await?;
            jws.verify_with_set(&set).map_err(|e| e.to_string())
        }
        other => other.map_err(|e| e.to_string()),
    }
}
