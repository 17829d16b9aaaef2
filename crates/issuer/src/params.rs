//! Form and query parsing shared by the endpoints. RFC 6749 §3.1/§3.2: parameters sent without
//! a value are treated as omitted, and a parameter must not be included more than once.
use std::collections::HashMap;

use actix_web::web::Bytes;

use crate::error::OAuthError;
use crate::MAX_BODY;

pub struct Params {
    single: HashMap<String, String>,
    multi: Vec<(String, String)>,
}

impl Params {
    pub fn parse(raw: &[u8]) -> Result<Params, OAuthError> {
        Self::parse_limited(raw, MAX_BODY)
    }

    /// As [`Params::parse`] with a larger bound (the SAML ACS).
    pub fn parse_limited(raw: &[u8], limit: usize) -> Result<Params, OAuthError> {
        if raw.len() > limit {
            return Err(OAuthError::request("the request is too large"));
        }
        let multi: Vec<(String, String)> = url::form_urlencoded::parse(raw).into_owned().collect();
        // PostgreSQL text cannot hold U+0000: refused here, as the client's mistake it is,
        // before any value reaches a query (where it would be a 500).
        if multi
            .iter()
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(OAuthError::request(crate::nul::NUL_REFUSED));
        }
        let mut single = HashMap::new();
        for (k, v) in &multi {
            if v.is_empty() {
                continue;
            }
            if single.insert(k.clone(), v.clone()).is_some() && k != "scope" {
                return Err(OAuthError::request(format!("parameter '{k}' is repeated")));
            }
        }
        Ok(Params { single, multi })
    }
    pub fn from_body(body: &Bytes) -> Result<Params, OAuthError> {
        Self::parse(body)
    }
    pub fn get(&self, k: &str) -> Option<&str> {
        self.single.get(k).map(String::as_str)
    }
    /// The parameters re-encoded as a query string (a POSTed authorization request as a GET).
    pub fn to_query(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.multi {
            s.append_pair(k, v);
        }
        s.finish()
    }

    pub fn all(&self, k: &str) -> Vec<String> {
        self.multi
            .iter()
            .filter(|(key, v)| key == k && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Form bodies must say so (RFC 6749 §3.2: application/x-www-form-urlencoded).
pub fn require_form(req: &actix_web::HttpRequest) -> Result<(), OAuthError> {
    let ct = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        Ok(())
    } else {
        Err(OAuthError::request(
            "the body must be application/x-www-form-urlencoded",
        ))
    }
}

/// The client's address: the TCP peer, or — when the peer is a configured trusted proxy — the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries further left
/// are chosen by the client and cannot be believed).
/// This full address goes into audit records; rate limits key it with
/// [`crate::limits::key`].
pub fn peer_ip(req: &actix_web::HttpRequest) -> String {
    client_addr(req)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The client's address as [`peer_ip`] finds it, if the connection has a peer.
pub fn client_addr(req: &actix_web::HttpRequest) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip())?;
    let trusted = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|s| s.config.trusted_proxies.clone())
        .unwrap_or_default();
    Some(client_ip(
        peer,
        req.headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok()),
        &trusted,
    ))
}

fn client_ip(
    peer: std::net::IpAddr,
    xff: Option<&str>,
    trusted: &[safe_fetch::Cidr],
) -> std::net::IpAddr {
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut current = peer;
    for hop in xff.unwrap_or("").rsplit(',').map(str::trim) {
        match hop.parse::<std::net::IpAddr>() {
            Ok(ip) => {
                current = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    current
}

pub fn user_agent(req: &actix_web::HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::client_ip;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let lb: safe_fetch::Cidr = "10.0.0.0/8".parse().unwrap();
        let peer = "10.0.0.5".parse().unwrap();
        let direct = "203.0.113.9".parse().unwrap();
        assert_eq!(
            client_ip(direct, Some("1.2.3.4"), std::slice::from_ref(&lb)).to_string(),
            "203.0.113.9"
        );
        assert_eq!(
            client_ip(
                peer,
                Some("6.6.6.6, 198.51.100.7"),
                std::slice::from_ref(&lb)
            )
            .to_string(),
            "198.51.100.7"
        );
        assert_eq!(
            client_ip(
                peer,
                Some("198.51.100.7, 10.0.0.9"),
                std::slice::from_ref(&lb)
            )
            .to_string(),
            "198.51.100.7"
        );
        assert_eq!(client_ip(peer, None, &[lb]).to_string(), "10.0.0.5");
        assert_eq!(
            client_ip(peer, Some("1.2.3.4"), &[]).to_string(),
            "10.0.0.5"
        );
    }
}
