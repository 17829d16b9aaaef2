//! Redirect-URI policy (DESIGN §4, RFC 9700 §4.1, RFC 8252 §7.3): exact matching, except that a
//! loopback redirect may use any port; https or loopback http, plus operator-allow-listed
//! private-use schemes.
use url::{Host, Url};

use crate::error::{CoreError, CoreResult};

#[derive(Clone, Debug)]
pub struct RedirectPolicy {
    /// Private-use URI schemes the operator allows (e.g. `cursor`).
    pub custom_schemes: Vec<String>,
}

impl Default for RedirectPolicy {
    fn default() -> Self {
        RedirectPolicy {
            custom_schemes: vec!["cursor".into(), "vscode".into(), "vscode-insiders".into()],
        }
    }
}

fn is_loopback_host(u: &Url) -> bool {
    match u.host() {
        Some(Host::Domain(d)) => d == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl RedirectPolicy {
    /// Checks a redirect URI a client wants to register.
    pub fn validate_registration(&self, uri: &str) -> CoreResult<Url> {
        let u = Url::parse(uri).map_err(|_| {
            CoreError::invalid(format!("redirect_uri '{uri}' is not an absolute URI"))
        })?;
        if u.fragment().is_some() {
            return Err(CoreError::invalid(
                "a redirect_uri must not contain a fragment (RFC 6749 §3.1.2)",
            ));
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err(CoreError::invalid(
                "a redirect_uri must not contain user information",
            ));
        }
        match u.scheme() {
            "https" => Ok(u),
            "http" if is_loopback_host(&u) => Ok(u),
            "http" => Err(CoreError::invalid(format!(
                "redirect_uri '{uri}' uses http on a non-loopback host; use https"
            ))),
            s if self.custom_schemes.iter().any(|c| c == s) => Ok(u),
            s => Err(CoreError::invalid(format!(
                "redirect_uri scheme '{s}' is not allowed on this server"
            ))),
        }
    }

    /// Does `requested` match one of `registered`? Exact string match, except a loopback http
    /// redirect whose registered form has the same scheme, host, path and query may differ in
    /// port (RFC 8252 §7.3). `localhost` and `127.0.0.1` are different hosts.
    pub fn matches(&self, registered: &[String], requested: &str) -> bool {
        if registered.iter().any(|r| r == requested) {
            return true;
        }
        let Ok(req) = Url::parse(requested) else {
            return false;
        };
        if req.scheme() != "http" || !is_loopback_host(&req) {
            return false;
        }
        registered.iter().any(|r| {
            let Ok(reg) = Url::parse(r) else { return false };
            reg.scheme() == "http"
                && is_loopback_host(&reg)
                && reg.host_str() == req.host_str()
                && reg.path() == req.path()
                && reg.query() == req.query()
                && reg.fragment().is_none()
                && req.fragment().is_none()
                && req.username().is_empty()
                && req.password().is_none()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> RedirectPolicy {
        RedirectPolicy::default()
    }

    #[test]
    fn loopback_port_may_differ_but_nothing_else() {
        let reg = vec![
            "http://127.0.0.1/callback".to_string(),
            "http://localhost:6274/oauth/callback".into(),
        ];
        assert!(p().matches(&reg, "http://127.0.0.1:53123/callback"));
        assert!(p().matches(&reg, "http://localhost:9999/oauth/callback"));
        assert!(
            !p().matches(&reg, "http://localhost:53123/callback"),
            "localhost is not 127.0.0.1"
        );
        assert!(!p().matches(&reg, "http://127.0.0.1:53123/callback/x"));
        assert!(!p().matches(&reg, "http://127.0.0.1:53123/callback?x=1"));
    }

    #[test]
    fn https_is_exact() {
        let reg = vec!["https://claude.ai/api/mcp/auth_callback".to_string()];
        assert!(p().matches(&reg, "https://claude.ai/api/mcp/auth_callback"));
        assert!(!p().matches(&reg, "https://claude.ai/api/mcp/auth_callback/"));
        assert!(!p().matches(&reg, "https://claude.ai/api/mcp/auth_callback.evil.com"));
        assert!(!p().matches(&reg, "https://claude.ai.evil.com/api/mcp/auth_callback"));
        assert!(!p().matches(&reg, "https://claude.ai:8443/api/mcp/auth_callback"));
    }

    #[test]
    fn registration_rules() {
        assert!(p()
            .validate_registration("https://chatgpt.com/connector_platform_oauth_redirect")
            .is_ok());
        assert!(p().validate_registration("http://127.0.0.1:33418/").is_ok());
        assert!(p()
            .validate_registration("cursor://anysphere.cursor-mcp/oauth/callback")
            .is_ok());
        assert!(p().validate_registration("http://example.com/cb").is_err());
        assert!(p().validate_registration("javascript://x").is_err());
        assert!(p().validate_registration("https://x.com/cb#frag").is_err());
    }
}
