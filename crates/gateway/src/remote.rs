//! The gateway's introspection mode (issue 13 §1, second mode): no database at all, for
//! vendors who run the gateway beside their MCP server and Gatehouse elsewhere. Everything the
//! database mode reads locally comes from the remote Gatehouse, authenticated with the
//! resource's own resource-server credentials (HTTP Basic, RFC 7662 §2.1):
//! - tokens: RFC 7662 introspection (`POST <introspect-url>`) on every call, never cached, as
//!   in database mode; Gatehouse's answer carries `auth_time` for the step-up window;
//! - the catalogue: `GET <base>/resources/v1/policy`, loaded at start (the gateway refuses to
//!   start without it) and refreshed every [`REFRESH_EVERY`] in the background; on an error the
//!   last good policy is kept and a warning logged, so staleness is bounded by the refresh
//!   period while the remote answers;
//! - the issuer (`authorization_servers`, RFC 9728 §2, and the upstream JWT's `iss`): the
//!   `issuer` of the remote's policy answer, so it is exactly what the remote's metadata says;
//! - the per-call audit: `POST <base>/audit/v1/events`, one report per call (see `audit`).
//!
//! `<base>` is the introspection URL without its `/oauth/introspect` path (or its origin when
//! the path is another).
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use app::gateway::{RateLimited, RemoteIntrospection, TokenHolder};
use app::resource_events::ToolCall;
use app::resource_policy::PolicyDocument;
use authz_core::admin::settings::GATEWAY_CALLS_DEFAULT;
use authz_core::clock::{Clock, MICROS};
use authz_core::mcp_policy::McpPolicy;
use authz_core::scope::Tier;

/// How often the catalogue is fetched again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(5);
/// Longest wait for the remote (introspection, policy, audit).
pub const REMOTE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the remote Gatehouse is and how the gateway authenticates to it.
#[derive(Clone, Debug)]
pub struct RemoteConfig {
    pub introspect_url: String,
    pub client_id: String,
    pub client_secret: String,
}

impl RemoteConfig {
    fn base(&self) -> Result<String> {
        let u = url::Url::parse(&self.introspect_url)
            .with_context(|| format!("--introspect-url '{}' is not a URL", self.introspect_url))?;
        if !matches!(u.scheme(), "http" | "https") {
            bail!("--introspect-url must be an http or https URL");
        }
        let path = u.path().trim_end_matches('/');
        let prefix = path.strip_suffix("/oauth/introspect").unwrap_or("");
        Ok(format!("{}{prefix}", u.origin().ascii_serialization()))
    }
}

/// Why the remote could not say whether a token is live.
#[derive(Debug)]
pub enum Unavailable {
    /// No answer from the remote (connection refused, reset or closed, DNS): 503.
    Down(String),
}

/// The remote Gatehouse of one gateway: its HTTP client, endpoints and the last good policy.
pub struct Remote {
    http: reqwest::Client,
    cfg: RemoteConfig,
    policy_url: String,
    audit_url: String,
    issuer: String,
    policy: RwLock<Arc<McpPolicy>>,
}

impl Remote {
    /// Loads the policy once: an error here (wrong credentials, remote down) stops the start.
    pub async fn connect(cfg: RemoteConfig) -> Result<Remote> {
        let base = cfg.base()?;
        let http = reqwest::Client::builder()
            .timeout(REMOTE_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .context("cannot build the HTTP client for the remote Gatehouse")?;
        let mut r = Remote {
            http,
            policy_url: format!("{base}/resources/v1/policy"),
            audit_url: format!("{base}/audit/v1/events"),
            cfg,
            issuer: String::new(),
            policy: RwLock::new(Arc::new(empty_policy())),
        };
        let doc = r
            .fetch_policy()
            .await
            .with_context(|| format!("cannot load the resource's policy from {}", r.policy_url))?;
        r.issuer = doc.issuer.trim_end_matches('/').to_string();
        r.policy = RwLock::new(Arc::new(doc.into_policy()));
        Ok(r)
    }

    /// The issuer as the remote names itself.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The last good policy.
    pub fn policy(&self) -> Arc<McpPolicy> {
        match self.policy.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    async fn fetch_policy(&self) -> Result<PolicyDocument> {
        let resp = self
            .http
            .get(&self.policy_url)
            .basic_auth(&self.cfg.client_id, Some(&self.cfg.client_secret))
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            bail!("the remote answered {status}");
        }
        Ok(resp.json::<PolicyDocument>().await?)
    }

    /// Fetches the policy again; on an error the last good one stays (and a warning is
    /// logged). A policy of another resource is refused (the credentials changed meanwhile).
    pub async fn refresh(&self) {
        match self.fetch_policy().await {
            Ok(doc) => {
                let p = doc.into_policy();
                let held = self.policy();
                if p.resource.id != held.resource.id {
                    tracing::warn!(
                        code = "GATEWAY0021",
                        "the remote answered another resource's policy; keeping the last good one"
                    );
                } else if p.version != held.version {
                    tracing::info!(version = p.version, "catalogue updated");
                    if let Ok(mut w) = self.policy.write() {
                        *w = Arc::new(p);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(code = "GATEWAY0020", error = %e, "cannot refresh the catalogue; keeping the last good one");
            }
        }
    }

    /// Refreshes the policy every [`REFRESH_EVERY`] until the returned task is aborted.
    pub fn spawn_refresh(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFRESH_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                me.refresh().await;
            }
        })
    }

    /// RFC 7662 §2.1 introspection of `token`. An inactive answer, an HTTP error status, an
    /// unreadable answer or a timeout is `Ok(None)`: the request is answered 401 and never
    /// let through. A remote that cannot be reached (connection refused or closed) is
    /// [`Unavailable`]: 503 with a JSON-RPC error body, never let through either.
    pub async fn introspect(
        &self,
        clock: &dyn Clock,
        policy: &McpPolicy,
        token: &str,
    ) -> Result<Option<TokenHolder>, Unavailable> {
        let sent = self
            .http
            .post(&self.cfg.introspect_url)
            .basic_auth(&self.cfg.client_id, Some(&self.cfg.client_secret))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                tracing::warn!(code = "GATEWAY0022", error = %e, "introspection timed out");
                return Ok(None);
            }
            Err(e) => return Err(Unavailable::Down(e.to_string())),
        };
        if !resp.status().is_success() {
            tracing::warn!(code = "GATEWAY0023", status = %resp.status(), "introspection refused");
            return Ok(None);
        }
        let answer = match resp.json::<RemoteIntrospection>().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(code = "GATEWAY0022", error = %e, "introspection answer unreadable");
                return Ok(None);
            }
        };
        Ok(app::gateway::from_introspection(
            clock,
            &policy.resource,
            answer,
            policy.settings.share_identity,
        ))
    }

    /// Posts one call report; retried once, then logged and dropped.
    pub async fn report(&self, call: &ToolCall) {
        for attempt in 1..=2 {
            match self.post_report(call).await {
                Ok(()) => return,
                Err(e) if attempt == 1 => {
                    tracing::warn!(code = "GATEWAY0024", error = %e, "audit report failed; retrying once");
                }
                Err(e) => {
                    tracing::error!(code = "GATEWAY0025", error = %e, tool = %call.tool, "audit report failed twice; dropped");
                }
            }
        }
    }

    async fn post_report(&self, call: &ToolCall) -> Result<()> {
        let resp = self
            .http
            .post(&self.audit_url)
            .basic_auth(&self.cfg.client_id, Some(&self.cfg.client_secret))
            .json(call)
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            bail!("the remote answered {status}");
        }
        Ok(())
    }
}

fn empty_policy() -> McpPolicy {
    app::resource_policy::PolicyDocument {
        issuer: String::new(),
        id: String::new(),
        uri: String::new(),
        display_name: String::new(),
        rs_client_id: String::new(),
        version: 0,
        scopes: Vec::new(),
        tools: Default::default(),
        resource_rules: Vec::new(),
        prompt_rules: Vec::new(),
        settings: Default::default(),
    }
    .into_policy()
}

/// Calls per user and minute in introspection mode: counted **per node, in memory** (there is
/// no shared database), with the default limits of each tier (`GATEWAY_CALLS_DEFAULT`; the
/// tenant's own settings live at the remote). N nodes so allow up to N times the limit.
#[derive(Default)]
pub struct MemoryLimits {
    windows: Mutex<HashMap<String, (i64, i64)>>,
}

const WINDOW_SECS: i64 = 60;

impl MemoryLimits {
    pub fn count(
        &self,
        clock: &dyn Clock,
        holder: &TokenHolder,
        tiers: &[Tier],
    ) -> Option<RateLimited> {
        let now = clock.now_us() / MICROS;
        let window = now - now.rem_euclid(WINDOW_SECS);
        let mut m = match self.windows.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        m.retain(|_, (w, _)| *w == window);
        for tier in tiers {
            let key = format!("{}:{}:{}", holder.tenant(), holder.user_id(), tier.as_str());
            let e = m.entry(key).or_insert((window, 0));
            e.1 += 1;
            let limit = match tier {
                Tier::Routine => GATEWAY_CALLS_DEFAULT[0],
                Tier::Sensitive => GATEWAY_CALLS_DEFAULT[1],
                Tier::Critical => GATEWAY_CALLS_DEFAULT[2],
            };
            if e.1 > limit {
                return Some(RateLimited {
                    tier: *tier,
                    retry_after_secs: (window + WINDOW_SECS - now).max(1),
                });
            }
        }
        None
    }
}

/// The Ed25519 key of the upstream JWTs in this mode: the 32-byte seed in `path`, base64url
/// (or raw), created with mode 0600 when the file does not exist.
pub fn signing_key(path: &std::path::Path) -> Result<authz_core::audit::SigningKey> {
    use authz_core::audit::SigningKey;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    match std::fs::read(path) {
        Ok(bytes) => {
            let seed: Vec<u8> = if bytes.len() == 32 {
                bytes
            } else {
                let text = String::from_utf8(bytes).context("the signing key file is not text")?;
                URL_SAFE_NO_PAD
                    .decode(text.trim())
                    .context("the signing key file is not a base64url Ed25519 seed")?
            };
            let seed: [u8; 32] = seed
                .try_into()
                .map_err(|_| anyhow::anyhow!("the signing key must be a 32-byte Ed25519 seed"))?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write;
            let mut seed = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts
                .open(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            writeln!(f, "{}", URL_SAFE_NO_PAD.encode(seed))?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authz_core::clock::FixedClock;
    use authz_core::resource::Resource;

    const TENANT: &str = "0b7c4a3e-6f1d-4c3b-9a57-2f3e8d1c0a11";

    fn crm() -> Resource {
        Resource {
            id: "r1".into(),
            uri: "https://crm.example.com/mcp".into(),
            display_name: "CRM".into(),
            rs_client_id: "rs".into(),
        }
    }

    fn answer(now_secs: i64) -> RemoteIntrospection {
        RemoteIntrospection {
            active: true,
            scope: Some("read write".into()),
            client_id: Some("agent".into()),
            sub: Some("u1".into()),
            aud: Some("https://crm.example.com/mcp".into()),
            exp: Some(now_secs + 600),
            tenant: Some(TENANT.into()),
            session_id: Some("s1".into()),
            auth_time: Some(now_secs - 60),
            email: Some("a@example.com".into()),
            name: Some("A".into()),
            ..Default::default()
        }
    }

    #[test]
    fn only_an_active_unexpired_answer_for_this_resource_names_a_holder() {
        let clock = FixedClock::new(1_700_000_000 * MICROS);
        let now = 1_700_000_000;
        let h = app::gateway::from_introspection(&clock, &crm(), answer(now), false).unwrap();
        assert_eq!(h.scopes(), ["read".to_string(), "write".to_string()]);
        assert_eq!(h.email(), None, "identity only when the resource shares it");
        assert!(h.authenticated_recently(clock.now_us()));
        let shared = app::gateway::from_introspection(&clock, &crm(), answer(now), true).unwrap();
        assert_eq!(shared.email(), Some("a@example.com"));
        let refused = [
            RemoteIntrospection {
                active: false,
                ..answer(now)
            },
            RemoteIntrospection {
                aud: Some("https://wiki.example.com/mcp".into()),
                ..answer(now)
            },
            RemoteIntrospection {
                exp: Some(now),
                ..answer(now)
            },
            RemoteIntrospection {
                auth_time: None,
                ..answer(now)
            },
            RemoteIntrospection {
                tenant: Some("not-a-uuid".into()),
                ..answer(now)
            },
        ];
        for a in refused {
            assert!(app::gateway::from_introspection(&clock, &crm(), a, false).is_none());
        }
    }

    #[test]
    fn per_node_limits_count_each_tier_per_user_and_minute() {
        let clock = FixedClock::new(1_700_000_020 * MICROS);
        let h =
            app::gateway::from_introspection(&clock, &crm(), answer(1_700_000_020), false).unwrap();
        let limits = MemoryLimits::default();
        let critical = GATEWAY_CALLS_DEFAULT[2];
        for _ in 0..critical {
            assert_eq!(limits.count(&clock, &h, &[Tier::Critical]), None);
        }
        let over = limits.count(&clock, &h, &[Tier::Critical]).unwrap();
        assert_eq!(over.tier, Tier::Critical);
        assert_eq!(over.retry_after_secs, 20);
        // Another tier has its own budget; the next minute starts afresh.
        assert_eq!(limits.count(&clock, &h, &[Tier::Routine]), None);
        clock.advance_secs(20);
        assert_eq!(limits.count(&clock, &h, &[Tier::Critical]), None);
    }

    #[test]
    fn the_remotes_other_endpoints_sit_beside_its_introspection_endpoint() {
        let cfg = |u: &str| RemoteConfig {
            introspect_url: u.into(),
            client_id: "rs".into(),
            client_secret: "s".into(),
        };
        assert_eq!(
            cfg("https://id.example.com/gh/oauth/introspect")
                .base()
                .unwrap(),
            "https://id.example.com/gh"
        );
        assert_eq!(
            cfg("https://id.example.com/other").base().unwrap(),
            "https://id.example.com"
        );
        assert!(cfg("ftp://id.example.com/oauth/introspect").base().is_err());
    }
}
