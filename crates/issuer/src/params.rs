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
        if raw.len() > MAX_BODY {
            return Err(OAuthError::request("the request is too large"));
        }
        let multi: Vec<(String, String)> = url::form_urlencoded::parse(raw).into_owned().collect();
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

pub fn peer_ip(req: &actix_web::HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub fn user_agent(req: &actix_web::HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
