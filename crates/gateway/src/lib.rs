//! `gatehouse gateway`: a reverse proxy in front of MCP servers that speak Streamable HTTP
//! (MCP spec 2025-11-25 "Transports") and have no auth of their own (issue 13 §1).
//!
//! For each resource it serves, at the path of the resource's catalogue `uri`:
//! - RFC 9728 protected-resource metadata at `/.well-known/oauth-protected-resource<path>`;
//! - RFC 6750 §3 challenges: 401 with `resource_metadata` and `scope`, 403
//!   `insufficient_scope` for step-up (MCP spec "Authorization");
//! - per-message enforcement of the catalogue ([`decide`]) on every POST, tokens checked
//!   in-process on every request (`app::gateway::authenticate`, never cached);
//! - no token passthrough: the upstream gets a 60-second EdDSA JWT signed by Gatehouse
//!   (`authz_core::upstream_jwt`) and none of the client's credentials;
//! - answers streamed through ([`tap`]), audited per call off the request path ([`audit`]);
//! - calls per user and minute per tier, counted across nodes in the database.
//!
//! Two modes, chosen once at start behind [`Backend`] so handlers never branch: the database
//! mode above ([`GatewayState::new`]), and the introspection mode ([`GatewayState::remote`],
//! module [`remote`]) with no database: tokens introspected at a remote Gatehouse, the
//! catalogue fetched from it, calls reported to it, rate limits per node in memory, and the
//! upstream JWT signed with the gateway's own key, published at `/.well-known/jwks.json` on
//! the gateway itself.
mod admit;
mod audit;
pub mod decide;
mod dpop;
mod forward;
mod handlers;
mod policies;
mod prm;
mod refuse;
pub mod remote;
pub mod rpc;
mod tap;

use std::time::Duration;

use actix_web::http::Method;
use actix_web::web;
use anyhow::{bail, Context, Result};
use authz_core::audit::SigningKey;
use authz_core::clock::SharedClock;
use authz_core::mcp_policy::McpPolicy;
use authz_core::resource::{self, Resource};
use authz_core::token::CredentialKind;
use authz_core::upstream_jwt::{self, UpstreamClaims};
use authz_core::{CoreResult, Store};
use std::sync::Arc;

pub use audit::{AuditSink, AuditWriter};

/// One resource the gateway serves, and where its MCP server is.
#[derive(Clone, Debug)]
pub struct Route {
    pub resource: Resource,
    /// The path of the resource's `uri`, where the gateway serves it.
    pub path: String,
    /// The upstream MCP endpoint as configured; also the `aud` of the JWTs it receives.
    pub upstream: String,
}

impl Route {
    /// RFC 9728 §3.1: the well-known prefix inserted before the resource's path.
    pub fn metadata_path(&self) -> String {
        let p = if self.path == "/" { "" } else { &self.path };
        format!("/.well-known/oauth-protected-resource{p}")
    }

    /// The metadata's public URL (on the resource's origin), for `resource_metadata`.
    pub fn metadata_url(&self) -> String {
        let origin = url::Url::parse(&self.resource.uri)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        format!("{origin}{}", self.metadata_path())
    }
}

/// Limits of the proxy.
#[derive(Clone, Debug)]
pub struct Options {
    /// Largest POST body accepted (default 1 MiB).
    pub max_body_bytes: usize,
    /// Connecting to the upstream (default 5 s).
    pub connect_timeout: Duration,
    /// From the request to the upstream's response head (default 60 s); a streamed body may
    /// then take as long as it takes.
    pub response_timeout: Duration,
    /// How long a kept-alive connection to the upstream may sit idle before the gateway closes
    /// it (default 4 s). Keep it below the upstream's own keep-alive (Node's and uvicorn's
    /// default is 5 s, gunicorn's 2 s): past it the upstream closes the connection, and a call
    /// sent on it at that moment fails with 502, since a POST is not retried.
    pub upstream_idle_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_body_bytes: 1024 * 1024,
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
            upstream_idle_timeout: Duration::from_secs(4),
        }
    }
}

/// Where a node reads tokens, catalogues and rate limits, and where its audit goes.
pub enum Backend {
    /// The shared database (tokens read in-process, rate limits counted across nodes).
    Database {
        store: Store,
        policies: policies::PolicyCache,
        /// This node's share of the per-user call counters (`app::gateway::limits`).
        calls: app::gateway::CallCounter,
        /// Personal API keys' last use, written off the request path (issue 14 §1). In
        /// introspection mode the remote Gatehouse's introspection records it instead.
        key_usage: Arc<app::api_keys::UsageRecorder>,
    },
    /// A remote Gatehouse (RFC 7662 introspection; rate limits per node, in memory).
    Remote {
        remote: Arc<remote::Remote>,
        limits: remote::MemoryLimits,
        /// DPoP proofs seen by this node (no database: replay is refused per node).
        proofs: remote::SeenProofs,
    },
}

/// A token could not be checked: the request is refused with 503, never let through.
#[derive(Debug)]
pub(crate) struct CannotCheck(pub String, pub bool);

impl CannotCheck {
    fn core(e: authz_core::CoreError) -> Self {
        let unavailable = e.is_unavailable();
        CannotCheck(e.to_string(), unavailable)
    }
    /// Logs the failure: `DB0503` at WARN while the database is out of reach, else ERROR.
    pub(crate) fn log(&self, code: &'static str, what: &str) {
        if self.1 {
            authz_core::error::log_unavailable(&self.0);
        } else {
            tracing::error!(code, error = %self.0, "{what}");
        }
    }
}

/// The gateway of one node, shared by its workers.
pub struct GatewayState {
    pub backend: Backend,
    pub clock: SharedClock,
    /// The issuer (exactly as in its metadata), for `authorization_servers` and `iss`.
    pub issuer: String,
    pub routes: Vec<Route>,
    pub options: Options,
    pub audit: AuditSink,
    signer: SigningKey,
    /// The key of the gateway's DPoP server nonces (RFC 9449 §9): derived from the upstream
    /// JWT key, which every node of one gateway shares, or set to the issuer's
    /// ([`GatewayState::with_dpop_nonces`]) so one nonce serves both.
    pub(crate) dpop_nonces: authz_core::dpop::NonceKey,
    http: reqwest::Client,
    /// Where the upstream finds the JWT keys (the issuer's JWKS, or the gateway's own).
    jwks_uri: String,
    /// This state's key in the worker threads' [`WORKER`] maps.
    id: usize,
    /// Database mode on PostgreSQL: each worker thread reads through its own pool of at most
    /// this many connections ([`GatewayState::with_worker_pools`]).
    worker_pools: Option<(String, u32)>,
}

static NEXT_STATE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// What each worker thread keeps for itself, per gateway state. actix-web's workers each run a
/// single-threaded runtime, and a socket answers on the runtime that opened it: a pooled
/// upstream or database connection opened by one worker and used by another makes every
/// answer wake the first worker to hand it over. Per-worker clients and pools keep a call's
/// I/O on the thread serving it.
struct WorkerLocal {
    http: reqwest::Client,
    db: Option<Store>,
}

thread_local! {
    static WORKER: std::cell::RefCell<std::collections::HashMap<usize, WorkerLocal>> =
        Default::default();
}

impl GatewayState {
    /// Resolves each `(resource uri, upstream url)` against the catalogue. Two resources may
    /// not share a path (the gateway routes by path).
    pub async fn new(
        store: Store,
        clock: SharedClock,
        issuer: &str,
        signer: SigningKey,
        routes: &[(String, String)],
        options: Options,
        audit: AuditSink,
    ) -> Result<GatewayState> {
        if routes.is_empty() {
            bail!("the gateway needs at least one route (--resource and --upstream, or [[gateway.routes]])");
        }
        let mut out: Vec<Route> = Vec::new();
        for (uri, upstream) in routes {
            let norm = resource::normalize_uri(uri)
                .with_context(|| format!("resource '{uri}' is not a valid resource URI"))?;
            let r = resource::find_by_uri(&store.db, &norm)
                .await?
                .with_context(|| format!("no resource with uri '{norm}' in the catalogue"))?;
            let up = url::Url::parse(upstream)
                .with_context(|| format!("upstream '{upstream}' is not a URL"))?;
            if !matches!(up.scheme(), "http" | "https") {
                bail!("upstream '{upstream}' must be an http or https URL");
            }
            let path = url::Url::parse(&r.uri)?.path().to_string();
            if out.iter().any(|o| o.path == path) {
                bail!("two resources share the path '{path}'; run one gateway for each");
            }
            out.push(Route {
                resource: r,
                path,
                upstream: upstream.clone(),
            });
        }
        let issuer = issuer.trim_end_matches('/').to_string();
        Ok(GatewayState {
            backend: Backend::Database {
                key_usage: Arc::new(app::api_keys::UsageRecorder::new(
                    store.clone(),
                    clock.clone(),
                )),
                store,
                policies: policies::PolicyCache::default(),
                calls: app::gateway::CallCounter::default(),
            },
            clock,
            jwks_uri: format!("{issuer}/.well-known/jwks.json"),
            issuer,
            routes: out,
            http: upstream_client(&options)?,
            options,
            audit,
            dpop_nonces: authz_core::dpop::NonceKey::derive(&signer.to_bytes()),
            signer,
            id: NEXT_STATE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            worker_pools: None,
        })
    }

    /// Database mode on PostgreSQL: token checks, catalogue checks and call counts go through
    /// a pool per worker thread (at most `max_connections` each) instead of the shared one.
    /// SQLite keeps its one pool.
    pub fn with_worker_pools(mut self, database_url: &str, max_connections: u32) -> Self {
        if !database_url.starts_with("sqlite:") {
            self.worker_pools = Some((database_url.to_string(), max_connections));
        }
        self
    }

    /// This worker thread's copies (made on first use).
    fn local<R>(&self, f: impl FnOnce(&WorkerLocal) -> R) -> R {
        WORKER.with(|m| {
            let mut m = m.borrow_mut();
            let w = m.entry(self.id).or_insert_with(|| WorkerLocal {
                http: upstream_client(&self.options).unwrap_or_else(|_| self.http.clone()),
                db: self
                    .worker_pools
                    .as_ref()
                    .and_then(|(url, max)| Store::connect_for_worker(url, *max)),
            });
            f(w)
        })
    }

    /// The upstream HTTP client of this worker thread.
    pub(crate) fn http(&self) -> reqwest::Client {
        self.local(|w| w.http.clone())
    }

    /// The database connection of this worker thread: its own pool, or the shared one.
    fn db(&self, shared: &Store) -> sea_orm::DatabaseConnection {
        self.local(|w| w.db.as_ref().unwrap_or(shared).db.clone())
    }

    /// The store of this worker thread (its pool and its queues of grouped reads), or the shared one.
    fn store(&self, shared: &Store) -> Store {
        self.local(|w| w.db.as_ref().unwrap_or(shared).clone())
    }

    /// Hands out and accepts the DPoP nonces of `key` (the issuer's, on the same master key).
    pub fn with_dpop_nonces(mut self, key: authz_core::dpop::NonceKey) -> Self {
        self.dpop_nonces = key;
        self
    }

    /// Introspection mode: the one resource whose credentials `remote` holds, in front of
    /// `upstream`. The issuer is the remote's own (its policy answer); `jwks_uri` is the
    /// gateway's `/.well-known/jwks.json` on the resource's origin, where [`configure`] serves
    /// the public half of `signer`.
    pub fn remote(
        remote: Arc<remote::Remote>,
        clock: SharedClock,
        signer: SigningKey,
        upstream: &str,
        options: Options,
        audit: AuditSink,
    ) -> Result<GatewayState> {
        let policy = remote.policy();
        let up = url::Url::parse(upstream)
            .with_context(|| format!("upstream '{upstream}' is not a URL"))?;
        if !matches!(up.scheme(), "http" | "https") {
            bail!("upstream '{upstream}' must be an http or https URL");
        }
        let uri = url::Url::parse(&policy.resource.uri).with_context(|| {
            format!(
                "the remote's resource uri '{}' is not a URL",
                policy.resource.uri
            )
        })?;
        let route = Route {
            resource: policy.resource.clone(),
            path: uri.path().to_string(),
            upstream: upstream.to_string(),
        };
        Ok(GatewayState {
            issuer: remote.issuer().to_string(),
            jwks_uri: format!(
                "{}/.well-known/jwks.json",
                uri.origin().ascii_serialization()
            ),
            backend: Backend::Remote {
                remote,
                limits: remote::MemoryLimits::default(),
                proofs: remote::SeenProofs::default(),
            },
            clock,
            routes: vec![route],
            http: upstream_client(&options)?,
            options,
            audit,
            dpop_nonces: authz_core::dpop::NonceKey::derive(&signer.to_bytes()),
            signer,
            id: NEXT_STATE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            worker_pools: None,
        })
    }

    /// The catalogue of `route` (database: current to within 2 s; remote: the last good
    /// policy, refreshed every 5 s).
    pub(crate) async fn policy(&self, route: &Route) -> CoreResult<Arc<McpPolicy>> {
        match &self.backend {
            Backend::Database {
                store, policies, ..
            } => policies.get(&self.db(store), &route.resource.id).await,
            Backend::Remote { remote, .. } => Ok(remote.policy()),
        }
    }

    /// The holder of `token` for `route`, checked now (never cached); `None`: 401.
    pub(crate) async fn authenticate(
        &self,
        route: &Route,
        policy: &McpPolicy,
        token: &str,
    ) -> Result<Option<app::gateway::TokenHolder>, CannotCheck> {
        match &self.backend {
            Backend::Database {
                store, key_usage, ..
            } => {
                let holder = app::gateway::authenticate(
                    &self.store(store),
                    self.clock.as_ref(),
                    &route.resource,
                    token,
                    policy.settings.share_identity,
                )
                .await
                .map_err(CannotCheck::core)?;
                if let Some(h) = holder
                    .as_ref()
                    .filter(|h| h.kind() == CredentialKind::ApiKey)
                {
                    key_usage.note(h.tenant(), h.family_id(), "gateway");
                }
                Ok(holder)
            }
            Backend::Remote { remote, .. } => remote
                .introspect(self.clock.as_ref(), policy, token)
                .await
                .map_err(|remote::Unavailable::Down(e)| CannotCheck(e, false)),
        }
    }

    /// Returns once every personal API key use noted so far is written (tests, shutdown).
    pub async fn flush_key_usage(&self) {
        if let Backend::Database { key_usage, .. } = &self.backend {
            key_usage.flush().await;
        }
    }

    /// Counts the calls of `tiers` for `holder` (database: across nodes; remote: this node).
    pub(crate) async fn count_calls(
        &self,
        holder: &app::gateway::TokenHolder,
        tiers: &[authz_core::scope::Tier],
    ) -> CoreResult<Option<app::gateway::RateLimited>> {
        match &self.backend {
            Backend::Database { store, calls, .. } => {
                app::gateway::count_calls(
                    &self.db(store),
                    self.clock.as_ref(),
                    calls,
                    holder,
                    tiers,
                )
                .await
            }
            Backend::Remote { limits, .. } => Ok(limits.count(self.clock.as_ref(), holder, tiers)),
        }
    }

    /// Records a DPoP proof's `jti` (RFC 9449 §11.1). `false`: seen before, a replay.
    /// Database mode: the shared store, so no two nodes accept one proof; introspection mode:
    /// this node's memory.
    pub(crate) async fn proof_first_use(
        &self,
        proof: &authz_core::dpop::Proof,
    ) -> Result<bool, CannotCheck> {
        match &self.backend {
            Backend::Database { store, .. } => authz_core::dpop::use_once(&store.db, proof)
                .await
                .map_err(CannotCheck::core),
            Backend::Remote { proofs, .. } => Ok(proofs.first_use(self.clock.as_ref(), proof)),
        }
    }

    fn route_of(&self, path: &str) -> Option<(usize, &Route)> {
        self.routes.iter().enumerate().find(|(_, r)| r.path == path)
    }

    /// Where upstreams find the keys of their JWTs: the issuer's JWKS (database mode) or the
    /// gateway's own (introspection mode).
    pub fn jwks_uri(&self) -> String {
        self.jwks_uri.clone()
    }

    /// A JWT for `route`'s upstream naming `holder`: 60 seconds, a fresh `jti`.
    fn upstream_jwt(&self, route: &Route, holder: &app::gateway::TokenHolder) -> String {
        let now = self.clock.now_us() / authz_core::clock::MICROS;
        let claims = UpstreamClaims {
            iss: self.issuer.clone(),
            aud: route.upstream.clone(),
            iat: now,
            exp: now + upstream_jwt::MAX_TTL_SECS,
            jti: authz_core::crypto::random_hex16(),
            sub: holder.user_id().to_string(),
            tenant: holder.tenant().to_string(),
            client_id: holder.client_id().to_string(),
            scope: holder.scopes().join(" "),
            sid: holder.session_id().to_string(),
            email: holder.email().map(str::to_string),
            name: holder.name().map(str::to_string),
            subject_type: Some(holder.kind().subject_type().to_string()),
            credential_kind: Some(holder.kind().as_str().to_string()),
        };
        upstream_jwt::sign(&self.signer, &claims)
    }
}

fn upstream_client(options: &Options) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .pool_idle_timeout(options.upstream_idle_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .context("cannot build the upstream HTTP client")
}

/// The gateway's routes (one MCP endpoint and one metadata document per resource), for
/// `App::configure`.
pub fn configure(state: web::Data<GatewayState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        for r in &state.routes {
            cfg.service(
                web::resource(r.path.clone())
                    .route(web::post().to(handlers::post))
                    .route(web::get().to(handlers::get))
                    .route(web::delete().to(handlers::delete)),
            );
            cfg.service(
                web::resource(r.metadata_path())
                    .route(web::get().to(prm::metadata))
                    .route(web::method(Method::OPTIONS).to(prm::preflight)),
            );
        }
        if matches!(state.backend, Backend::Remote { .. }) {
            cfg.service(web::resource("/.well-known/jwks.json").route(web::get().to(prm::jwks)));
        }
        cfg.app_data(state.clone());
    }
}
