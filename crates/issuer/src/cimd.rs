//! Client ID Metadata Documents: a `client_id` that is an https URL names a JSON document
//! describing the client. Fetched through the SSRF-safe fetcher, required to state its own URL
//! as `client_id`, cached as its HTTP cache headers allow (bounded).
use authz_core::client::{self, Client, ClientMetadata, ValidMetadata};
use authz_core::clock::MICROS;
use authz_core::redirect::RedirectPolicy;

use crate::state::AppState;

/// Cache bounds for a fetched document.
const MIN_CACHE_SECS: u64 = 60;
const MAX_CACHE_SECS: u64 = 24 * 3600;
const DEFAULT_CACHE_SECS: u64 = 3600;

#[derive(Debug, thiserror::Error)]
pub enum CimdError {
    #[error("the client metadata document could not be fetched: {0}")]
    Fetch(#[from] safe_fetch::FetchError),
    #[error("the client metadata document is not valid JSON metadata: {0}")]
    Json(String),
    #[error("the document's client_id ({found}) differs from the URL it was fetched from ({url})")]
    IdMismatch { url: String, found: String },
    #[error("the client metadata document is invalid: {0}")]
    Metadata(String),
    #[error(
        "the client metadata document must not declare a client secret: CIMD clients are public"
    )]
    Secret,
    /// Too many new documents from this source; `Retry-After` seconds.
    #[error("too many new client metadata documents from this network; try again later")]
    RateLimited(i64),
    #[error("{0}")]
    Core(#[from] authz_core::CoreError),
}

/// New client metadata documents (each an outbound fetch and a stored client) one source may
/// introduce per hour; known documents do not count.
pub const CIMD_NEW_DOCUMENTS_PER_HOUR: i64 = 30;

pub fn is_cimd_id(client_id: &str) -> bool {
    client_id.starts_with("https://")
}

#[derive(serde::Deserialize)]
struct Document {
    client_id: Option<String>,
    client_secret: Option<String>,
    #[serde(flatten)]
    meta: ClientMetadata,
}

/// Resolves a URL client id, from cache if fresh, else by fetching the document. `source` is
/// the caller's rate-limit key ([`crate::limits::key`]).
pub async fn resolve(state: &AppState, url: &str, source: &str) -> Result<Client, CimdError> {
    let now = state.clock.now_us();
    let known = client::get(&state.store.db, url).await?;
    if let Some(c) = &known {
        if c.fetched_until.map(|t| t > now).unwrap_or(false) {
            return Ok(c.clone());
        }
    }
    state.cimd_fetcher.check_url(url)?; // https and no non-public literal address, first
    check_url(url)?;
    if known.is_none() {
        // Every new URL is an outbound fetch and a stored client: bounded per source, like DCR.
        let bucket = format!("cimd:{source}");
        if authz_core::ratelimit::hit(&state.store.db, state.clock.as_ref(), &bucket, 3600).await?
            > CIMD_NEW_DOCUMENTS_PER_HOUR
        {
            let wait = authz_core::ratelimit::retry_after(state.clock.as_ref(), 3600);
            return Err(CimdError::RateLimited(wait));
        }
    }
    let fetched = state.cimd_fetcher.get(url, "application/json").await?;
    let v = parse_document(&state.config.redirect_policy, url, &fetched.body)?;
    let ttl = fetched
        .max_age
        .unwrap_or(DEFAULT_CACHE_SECS)
        .clamp(MIN_CACHE_SECS, MAX_CACHE_SECS) as i64;
    Ok(client::upsert_cimd(
        &state.store,
        state.clock.as_ref(),
        url,
        &v,
        now + ttl * MICROS,
    )
    .await?)
}

/// The client a fetched document describes, if the document is acceptable for `url`.
fn parse_document(
    policy: &RedirectPolicy,
    url: &str,
    body: &[u8],
) -> Result<ValidMetadata, CimdError> {
    let doc: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| CimdError::Json(e.to_string()))?;
    if crate::nul::json_has_nul(&doc) {
        return Err(CimdError::Json(
            "a string contains a NUL character (U+0000)".into(),
        ));
    }
    let doc: Document = serde_json::from_value(doc).map_err(|e| CimdError::Json(e.to_string()))?;
    let found = doc.client_id.unwrap_or_default();
    if found != url {
        return Err(CimdError::IdMismatch {
            url: url.to_string(),
            found,
        });
    }
    if doc.client_secret.is_some() {
        return Err(CimdError::Secret);
    }
    if doc
        .meta
        .client_name
        .as_deref()
        .map(str::trim)
        .unwrap_or("")
        .is_empty()
    {
        return Err(CimdError::Metadata("client_name is required".into()));
    }
    let mut meta = doc.meta;
    let method = meta
        .token_endpoint_auth_method
        .get_or_insert_with(|| "none".into());
    if method != "none" {
        return Err(CimdError::Metadata(
            "token_endpoint_auth_method must be 'none'".into(),
        ));
    }
    client::validate_metadata(policy, &meta, "none").map_err(|e| CimdError::Metadata(e.to_string()))
}

/// A client ID metadata document URL: https, a host, a path, no user information, fragment or
/// dot segments (so the id names exactly what is fetched).
fn check_url(raw: &str) -> Result<(), CimdError> {
    let bad =
        |why: &str| CimdError::Metadata(format!("the client_id URL is not acceptable: {why}"));
    let u = url::Url::parse(raw).map_err(|_| bad("not a URL"))?;
    if u.scheme() != "https" {
        return Err(bad("https only"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad("user information is not allowed"));
    }
    if u.fragment().is_some() || raw.contains('#') {
        return Err(bad("a fragment is not allowed"));
    }
    if u.path() == "/" || u.path().is_empty() {
        return Err(bad("a path is required"));
    }
    // The parsed form drops dot segments; a URL that changes when parsed is not its own id.
    if u.as_str() != raw {
        return Err(bad(
            "it is not in normal form (dot segments, default port, case)",
        ));
    }
    Ok(())
}

/// For a client identified by its metadata document URL (CIMD), the host that vouches for it:
/// the only part of its identity that is verified (review F12).
pub fn verified_host(client: &authz_core::client::Client) -> Option<String> {
    (client.kind == authz_core::client::ClientKind::Cimd)
        .then(|| url::Url::parse(&client.client_id).ok())
        .flatten()
        .and_then(|u| u.host_str().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::{parse_document, CimdError};
    use authz_core::redirect::RedirectPolicy;
    use serde_json::json;

    const URL: &str = "https://app.example/client.json";

    fn parse(name: &str) -> Result<String, CimdError> {
        let doc = json!({"client_id": URL, "client_name": name,
                         "redirect_uris": ["https://app.example/cb"]});
        parse_document(&RedirectPolicy::default(), URL, doc.to_string().as_bytes())
            .map(|v| v.client_name)
    }

    #[test]
    fn names_with_control_bidi_or_invisible_characters_are_refused() {
        assert_eq!(parse("Example App").unwrap(), "Example App");
        for bad in [
            "Claude\u{202e}\u{0007}\u{200b} (verified by Anthropic)",
            "Example\u{2066}App",
            "\u{feff}Example",
            "Example\u{200d}",
        ] {
            match parse(bad) {
                Err(CimdError::Metadata(m)) => assert!(m.contains("client_name"), "{bad:?}: {m}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_nul_in_the_document_is_refused() {
        assert!(matches!(parse("a\u{0}b"), Err(CimdError::Json(_))));
    }
}
