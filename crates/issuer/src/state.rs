use std::sync::Arc;

use authz_core::clock::SharedClock;
use authz_core::crypto::MasterKey;
use authz_core::redirect::RedirectPolicy;
use authz_core::Store;
use oidc_federation::OidcRp;
use safe_fetch::SafeFetcher;

use crate::pages::Templates;

#[derive(Clone, Debug)]
pub struct IssuerConfig {
    /// The issuer identifier: scheme, host, optional port, no path, no trailing slash.
    pub issuer: String,
    pub redirect_policy: RedirectPolicy,
    /// Load balancers whose `X-Forwarded-For` is believed (rate limits, audit source address).
    pub trusted_proxies: Vec<safe_fetch::Cidr>,
}

impl IssuerConfig {
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }
    pub fn callback_uri(&self, connection_id: &str) -> String {
        format!("{}/federation/oidc/{connection_id}/callback", self.issuer)
    }
}

/// Everything a handler needs; cheap to clone (all shared).
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub clock: SharedClock,
    pub config: Arc<IssuerConfig>,
    pub master_key: Arc<MasterKey>,
    /// Fetches URLs the operator configured (OIDC discovery, SAML metadata): may reach
    /// operator-allowed private ranges and trust extra CAs.
    pub fetcher: SafeFetcher,
    /// Fetches client ID metadata documents, whose URLs anyone can name: public addresses and
    /// public trust roots only, unless explicitly configured for tests.
    pub cimd_fetcher: SafeFetcher,
    /// The relying party for connections the operator added (through `fetcher`).
    pub rp: Arc<OidcRp>,
    /// The relying party for connections added in a tenant's console: public addresses and
    /// public roots only, like the console's own fetches (review F3).
    pub public_rp: Arc<OidcRp>,
    pub templates: Arc<Templates>,
    /// Per-caller limits on grants, introspection and audit events, counted on this node.
    pub node_limits: Arc<crate::node_limits::NodeLimits>,
    /// Service accounts' `jwks_uri` sets, fetched like console-typed URLs (public addresses).
    pub service_jwks: Arc<crate::jwks_cache::JwksCache>,

    /// Personal API keys' last use, noted by introspection and written off the request path.
    pub key_usage: Arc<app::api_keys::UsageRecorder>,
}

impl AppState {
    pub fn new(
        store: Store,
        clock: SharedClock,
        config: IssuerConfig,
        master_key: MasterKey,
        fetcher: SafeFetcher,
    ) -> Self {
        let key_usage = Arc::new(app::api_keys::UsageRecorder::new(
            store.clone(),
            clock.clone(),
        ));
        AppState {
            store,
            clock,
            config: Arc::new(config),
            master_key: Arc::new(master_key),
            rp: Arc::new(OidcRp::new(fetcher.clone())),
            public_rp: Arc::new(OidcRp::new(
                SafeFetcher::new(&safe_fetch::FetchConfig::default())
                    .expect("the default fetcher configuration is valid"),
            )),
            cimd_fetcher: SafeFetcher::new(&safe_fetch::FetchConfig::default())
                .expect("the default fetcher configuration is valid"),
            fetcher,
            templates: Arc::new(Templates::new()),
            node_limits: Arc::new(crate::node_limits::NodeLimits::new(Default::default())),
            service_jwks: Arc::new(crate::jwks_cache::JwksCache::new(
                SafeFetcher::new(&safe_fetch::FetchConfig::default())
                    .expect("the default fetcher configuration is valid"),
            )),

            key_usage,
        }
    }
    pub fn with_cimd_fetcher(mut self, f: SafeFetcher) -> Self {
        self.cimd_fetcher = f;
        self
    }

    /// Sets the per-node limits (`GATEHOUSE_RATE_*`); [`AppState::new`] starts with the
    /// defaults of [`crate::node_limits::RateLimits`].
    pub fn with_rate_limits(mut self, limits: crate::node_limits::RateLimits) -> Self {
        self.node_limits = Arc::new(crate::node_limits::NodeLimits::new(limits));
        self
    }

    /// The public fetcher for console-added connections (`GATEHOUSE_CONSOLE_FETCH_*`).
    pub fn with_console_fetcher(mut self, f: SafeFetcher) -> Self {
        self.service_jwks = Arc::new(crate::jwks_cache::JwksCache::new(f.clone()));
        self.public_rp = Arc::new(OidcRp::new(f));
        self
    }

    /// The relying party that may fetch `conn`'s IdP: the operator's network only for
    /// connections the operator added.
    pub fn rp_for(&self, conn: &authz_core::connection::Connection) -> &OidcRp {
        if conn.operator_added {
            &self.rp
        } else {
            &self.public_rp
        }
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }
}

/// The upstream re-validation at refresh goes through the same fetcher as the connection's
/// sign-in: the operator's (private ranges, extra CA) only for connections the operator added
/// (review F3).
pub struct ByProvenance<'a>(pub &'a AppState);

use authz_core::upstream_session::UpstreamRefresher;

#[async_trait::async_trait]
impl UpstreamRefresher for ByProvenance<'_> {
    async fn refresh(
        &self,
        connection: &authz_core::connection::Connection,
        client_secret: &str,
        refresh_token: &str,
    ) -> authz_core::upstream_session::UpstreamAnswer {
        self.0
            .rp_for(connection)
            .refresh(connection, client_secret, refresh_token)
            .await
    }
}
