//! The public keys of a `private_key_jwt` account (RFC 7523 §2.2): an inline JWK Set (RFC 7517
//! §5) or the https URL of one, fetched through the SSRF-safe fetcher by the edge
//! ([`super::KeySource`]). Replacing the keys is audited (`service_account.updated`).
use sea_orm::{ActiveModelTrait, Set};
use serde_json::Value;

use super::{find, Method};
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::service_accounts;
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

/// Keys given for an account.
#[derive(Clone, Debug)]
pub enum Keys {
    /// A JWK Set, as JSON.
    Inline(Value),
    /// An https URL serving a JWK Set.
    Uri(String),
}

/// At most this many keys in an inline set (a rollover needs two or three).
const MAX_KEYS: usize = 10;

impl Keys {
    /// Parses what an admin typed: a URL, or a JWK Set (or a single JWK) as JSON.
    pub fn parse(s: &str) -> CoreResult<Keys> {
        let s = s.trim();
        if s.starts_with("https://") || s.starts_with("http://") {
            return Keys::Uri(s.to_string()).checked();
        }
        let v: Value = serde_json::from_str(s).map_err(|_| {
            CoreError::invalid("the keys are neither an https URL nor a JSON JWK Set")
        })?;
        let set = if v.get("keys").is_some() {
            v
        } else {
            serde_json::json!({ "keys": [v] })
        };
        Keys::Inline(set).checked()
    }

    /// Only public signing keys, at most [`MAX_KEYS`]; a URL must be https.
    pub fn checked(self) -> CoreResult<Keys> {
        match &self {
            Keys::Uri(u) => {
                let parsed = url::Url::parse(u)
                    .map_err(|_| CoreError::invalid("the jwks_uri is not a URL"))?;
                if parsed.scheme() != "https" || parsed.host_str().is_none() {
                    return Err(CoreError::invalid("the jwks_uri must be an https URL"));
                }
            }
            Keys::Inline(v) => {
                let keys = v
                    .get("keys")
                    .and_then(Value::as_array)
                    .ok_or_else(|| CoreError::invalid("a JWK Set has a 'keys' array"))?;
                if keys.is_empty() || keys.len() > MAX_KEYS {
                    return Err(CoreError::invalid(format!(
                        "give 1 to {MAX_KEYS} public keys"
                    )));
                }
                for k in keys {
                    if k.get("d").is_some() || k.get("k").is_some() {
                        return Err(CoreError::invalid(
                            "a private or symmetric key was given: give only the public key (no 'd' or 'k' member)",
                        ));
                    }
                    if !matches!(
                        k.get("kty").and_then(Value::as_str),
                        Some("RSA" | "EC" | "OKP")
                    ) {
                        return Err(CoreError::invalid("every key needs kty RSA, EC or OKP"));
                    }
                }
            }
        }
        Ok(self)
    }

    pub(crate) fn inline_json(&self) -> Option<String> {
        match self {
            Keys::Inline(v) => Some(v.to_string()),
            Keys::Uri(_) => None,
        }
    }

    pub(crate) fn uri(&self) -> Option<&str> {
        match self {
            Keys::Uri(u) => Some(u),
            Keys::Inline(_) => None,
        }
    }
}

/// Replaces the keys of a `private_key_jwt` account. Assertions signed with a removed key fail
/// from the next request on; tokens already issued stay valid (disable the account to end them).
pub async fn set_keys(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    key: &str,
    keys: Keys,
    actor: &str,
) -> CoreResult<super::ServiceAccount> {
    let keys = keys.checked()?;
    let txn = store.begin().await?;
    let m = find(&txn, tenant, key).await?;
    if Method::parse(&m.auth_method)? != Method::PrivateKeyJwt {
        return Err(CoreError::invalid(
            "this account authenticates with a client secret: rotate its secret instead",
        ));
    }
    let version = super::next_version(&m, clock.now_us());
    let mut am: service_accounts::ActiveModel = m.into();
    am.jwks = Set(keys.inline_json());
    am.jwks_uri = Set(keys.uri().map(str::to_string));
    am.updated_at = Set(version);
    let m = am.update(&txn).await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "service_account.updated")
            .actor(actor)
            .client(m.client_id.clone())
            .detail("service_account_id", m.id.as_str())
            .detail("change", "keys")
            .detail("jwks_uri", m.jwks_uri.clone()),
    )
    .await?;
    txn.commit().await?;
    super::ServiceAccount::try_from(m)
}
