//! The JWK Sets of service accounts' `jwks_uri`s (RFC 7523 §2.2 `private_key_jwt`), fetched
//! through the SSRF-safe fetcher and kept on this node for a few minutes.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use authz_core::service_account::KeySource;
use safe_fetch::SafeFetcher;
use serde_json::Value;

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
