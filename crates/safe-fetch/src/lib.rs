//! The one way Gatehouse fetches a URL that someone else chose: CIMD documents (client ids that
//! are URLs), OIDC discovery and JWKS, SAML metadata (DESIGN §4).
//!
//! SSRF defences: https only; the host name is resolved once by our resolver, which refuses
//! loopback, private, link-local (169.254.0.0/16, the cloud metadata address), IPv4-mapped IPv6
//! and every other non-public range, and hands the checked addresses to the connector (no
//! second lookup); IP literals are checked the same way; no redirects; bounded size and time.
//! Extra trust roots and exceptions for private ranges come only from explicit configuration;
//! certificate verification is never switched off.
mod address;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub use address::{is_public, Cidr};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("only https URLs can be fetched: {0}")]
    NotHttps(String),
    #[error("'{0}' is not a valid URL")]
    BadUrl(String),
    #[error("{host} resolves to {addr}, a non-public address; refusing to connect")]
    Blocked { host: String, addr: String },
    #[error("could not resolve {0}")]
    Resolve(String),
    #[error("the server answered with a redirect ({0}); redirects are not followed")]
    Redirect(u16),
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the request timed out")]
    Timeout,
    #[error("the request failed: {0}")]
    Transport(String),
    #[error("invalid fetch configuration: {0}")]
    Config(String),
}

/// Operator configuration of the fetcher.
#[derive(Clone, Debug, Default)]
pub struct FetchConfig {
    /// PEM trust roots added to the public ones (e.g. a company CA, or a test CA).
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Non-public ranges the operator deliberately allows (e.g. an on-premises IdP).
    pub allow: Vec<Cidr>,
    /// Static host → address answers, like curl's `--resolve` (split-horizon DNS, tests).
    pub resolve: HashMap<String, IpAddr>,
}

impl FetchConfig {
    /// Parses `GATEHOUSE_FETCH_ALLOW_CIDRS` (comma-separated) and `GATEHOUSE_FETCH_RESOLVE`
    /// (comma-separated `host=ip`).
    pub fn parse_lists(
        allow: &str,
        resolve: &str,
    ) -> Result<(Vec<Cidr>, HashMap<String, IpAddr>), FetchError> {
        let allow = allow
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<Cidr>()
                    .map_err(|_| FetchError::Config(format!("'{s}' is not a CIDR range")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut map = HashMap::new();
        for item in resolve.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (h, ip) = item
                .split_once('=')
                .ok_or_else(|| FetchError::Config(format!("'{item}' is not host=ip")))?;
            let ip: IpAddr = ip
                .trim()
                .parse()
                .map_err(|_| FetchError::Config(format!("'{ip}' is not an IP address")))?;
            map.insert(h.trim().to_ascii_lowercase(), ip);
        }
        Ok((allow, map))
    }
}

#[derive(Clone)]
struct Guard {
    allow: Arc<Vec<Cidr>>,
    resolve: Arc<HashMap<String, IpAddr>>,
}

impl Guard {
    fn permitted(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.allow.iter().any(|c| c.contains(ip))
    }
}

impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.clone();
        let host = name.as_str().to_ascii_lowercase();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = match guard.resolve.get(&host) {
                Some(ip) => vec![SocketAddr::new(*ip, 0)],
                None => tokio::net::lookup_host((host.as_str(), 0))
                    .await
                    .map_err(|_| {
                        Box::new(FetchError::Resolve(host.clone()))
                            as Box<dyn std::error::Error + Send + Sync>
                    })?
                    .collect(),
            };
            if addrs.is_empty() {
                return Err(Box::new(FetchError::Resolve(host)) as _);
            }
            // Refuse if any answer is non-public: a mixed answer is how rebinding attacks start.
            if let Some(bad) = addrs.iter().find(|a| !guard.permitted(a.ip())) {
                return Err(Box::new(FetchError::Blocked {
                    host,
                    addr: bad.ip().to_string(),
                }) as _);
            }
            Ok(Box::new(addrs.into_iter()) as Box<dyn Iterator<Item = SocketAddr> + Send>)
        })
    }
}

/// A fetched body and how long it may be cached.
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
    pub max_age: Option<u64>,
}

#[derive(Clone)]
pub struct SafeFetcher {
    client: reqwest::Client,
    guard: Guard,
    max_bytes: usize,
}

pub const DEFAULT_MAX_BYTES: usize = 256 * 1024;

impl SafeFetcher {
    pub fn new(cfg: &FetchConfig) -> Result<Self, FetchError> {
        let guard = Guard {
            allow: Arc::new(cfg.allow.clone()),
            resolve: Arc::new(cfg.resolve.clone()),
        };
        let mut b = reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(guard.clone()))
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .user_agent("Gatehouse/0.1 (+metadata fetcher)");
        if let Some(pem) = &cfg.extra_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| FetchError::Config(format!("extra CA file is not valid PEM: {e}")))?;
            if certs.is_empty() {
                return Err(FetchError::Config(
                    "extra CA file holds no certificate".into(),
                ));
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let client = b.build().map_err(|e| FetchError::Config(e.to_string()))?;
        Ok(SafeFetcher {
            client,
            guard,
            max_bytes: DEFAULT_MAX_BYTES,
        })
    }

    /// Checks scheme and IP-literal hosts before any connection (literals bypass the resolver).
    pub fn check_url(&self, raw: &str) -> Result<url::Url, FetchError> {
        let u = url::Url::parse(raw).map_err(|_| FetchError::BadUrl(raw.to_string()))?;
        if u.scheme() != "https" {
            return Err(FetchError::NotHttps(raw.to_string()));
        }
        let literal = match u.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(FetchError::BadUrl(raw.to_string())),
        };
        if let Some(ip) = literal {
            if !self.guard.permitted(ip) {
                return Err(FetchError::Blocked {
                    host: u.host_str().unwrap_or_default().to_string(),
                    addr: ip.to_string(),
                });
            }
        }
        Ok(u)
    }

    /// GET a document. Non-2xx answers are errors; redirects are never followed.
    pub async fn get(&self, raw: &str, accept: &str) -> Result<Fetched, FetchError> {
        let u = self.check_url(raw)?;
        let resp = self
            .client
            .get(u)
            .header("accept", accept)
            .send()
            .await
            .map_err(map_err)?;
        let status = resp.status().as_u16();
        if resp.status().is_redirection() {
            return Err(FetchError::Redirect(status));
        }
        if !resp.status().is_success() {
            return Err(FetchError::Status(status));
        }
        let max_age = resp
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_max_age);
        let body = read_bounded(resp, self.max_bytes).await?;
        Ok(Fetched {
            status,
            body,
            max_age,
        })
    }

    /// Sends an arbitrary request under the same rules (OIDC token and JWKS calls).
    pub async fn send(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, FetchError> {
        let (parts, body) = req.into_parts();
        let u = self.check_url(&parts.uri.to_string())?;
        let mut rb = self.client.request(parts.method, u).body(body);
        for (k, v) in parts.headers.iter() {
            rb = rb.header(k, v);
        }
        let resp = rb.send().await.map_err(map_err)?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(FetchError::Redirect(status.as_u16()));
        }
        let headers = resp.headers().clone();
        let body = read_bounded(resp, self.max_bytes).await?;
        let mut out = http::Response::builder().status(status);
        if let Some(h) = out.headers_mut() {
            *h = headers;
        }
        out.body(body)
            .map_err(|e| FetchError::Transport(e.to_string()))
    }
}

fn map_err(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    // Surface our resolver's refusal as itself, not as a generic transport error.
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = src {
        if let Some(f) = s.downcast_ref::<FetchError>() {
            return match f {
                FetchError::Blocked { host, addr } => FetchError::Blocked {
                    host: host.clone(),
                    addr: addr.clone(),
                },
                FetchError::Resolve(h) => FetchError::Resolve(h.clone()),
                other => FetchError::Transport(other.to_string()),
            };
        }
        src = s.source();
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    FetchError::Transport(msg)
}

async fn read_bounded(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, FetchError> {
    if resp
        .content_length()
        .map(|l| l as usize > max)
        .unwrap_or(false)
    {
        return Err(FetchError::TooLarge(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(map_err)? {
        if body.len() + chunk.len() > max {
            return Err(FetchError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn parse_max_age(v: &str) -> Option<u64> {
    let lower = v.to_ascii_lowercase();
    if lower.contains("no-store") || lower.contains("no-cache") {
        return Some(0);
    }
    lower.split(',').map(str::trim).find_map(|d| {
        d.strip_prefix("max-age=")
            .and_then(|n| n.trim_matches('"').parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetcher(allow: &str, resolve: &str) -> SafeFetcher {
        let (allow, resolve) = FetchConfig::parse_lists(allow, resolve).unwrap();
        SafeFetcher::new(&FetchConfig {
            extra_ca_pem: None,
            allow,
            resolve,
        })
        .unwrap()
    }

    #[test]
    fn literals_are_checked_before_connecting() {
        let f = fetcher("", "");
        for bad in [
            "https://127.0.0.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://10.1.2.3/",
            "https://192.168.0.1/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://[fd00::1]/",
            "https://0.0.0.0/",
        ] {
            assert!(
                matches!(f.check_url(bad), Err(FetchError::Blocked { .. })),
                "{bad} must be blocked"
            );
        }
        assert!(matches!(
            f.check_url("http://example.com/"),
            Err(FetchError::NotHttps(_))
        ));
        assert!(f.check_url("https://93.184.215.14/").is_ok());
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused() {
        let f = fetcher("", "loop.test=127.0.0.1,meta.test=169.254.169.254,priv.test=10.0.0.7,mapped.test=::ffff:127.0.0.1");
        for host in ["loop.test", "meta.test", "priv.test", "mapped.test"] {
            let err = f
                .get(&format!("https://{host}/client.json"), "application/json")
                .await
                .unwrap_err();
            assert!(matches!(err, FetchError::Blocked { .. }), "{host}: {err}");
        }
    }

    #[test]
    fn allow_list_is_explicit() {
        let f = fetcher("127.0.0.2/32", "");
        assert!(f.check_url("https://127.0.0.2:8443/x").is_ok());
        assert!(f.check_url("https://127.0.0.1:8443/x").is_err());
    }

    #[test]
    fn cache_control() {
        assert_eq!(parse_max_age("public, max-age=300"), Some(300));
        assert_eq!(parse_max_age("no-store"), Some(0));
        assert_eq!(parse_max_age("public"), None);
    }
}
