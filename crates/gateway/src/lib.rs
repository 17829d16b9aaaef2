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
mod admit;
mod audit;
pub mod decide;
mod forward;
mod handlers;
mod policies;
mod prm;
mod refuse;
pub mod rpc;
mod tap;

use std::time::Duration;

use actix_web::http::Method;
use actix_web::web;
use anyhow::{bail, Context, Result};
use authz_core::audit::SigningKey;
use authz_core::clock::SharedClock;
use authz_core::resource::{self, Resource};
use authz_core::upstream_jwt::{self, UpstreamClaims};
use authz_core::Store;

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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_body_bytes: 1024 * 1024,
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
        }
    }
}

/// The gateway of one node, shared by its workers.
pub struct GatewayState {
    pub store: Store,
    pub clock: SharedClock,
    /// The issuer (exactly as in its metadata), for `authorization_servers` and `iss`.
    pub issuer: String,
    pub routes: Vec<Route>,
    pub options: Options,
    pub audit: AuditSink,
    /// This node's share of the per-user call counters (`app::gateway::limits`).
    pub calls: app::gateway::CallCounter,
    signer: SigningKey,
    http: reqwest::Client,
    policies: policies::PolicyCache,
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
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .context("cannot build the upstream HTTP client")?;
        Ok(GatewayState {
            store,
            clock,
            issuer: issuer.trim_end_matches('/').to_string(),
            routes: out,
            options,
            audit,
            calls: app::gateway::CallCounter::default(),
            signer,
            http,
            policies: policies::PolicyCache::default(),
        })
    }

    fn route_of(&self, path: &str) -> Option<(usize, &Route)> {
        self.routes.iter().enumerate().find(|(_, r)| r.path == path)
    }

    /// The issuer's JWKS, where upstreams find the keys of their JWTs.
    pub fn jwks_uri(&self) -> String {
        format!("{}/.well-known/jwks.json", self.issuer)
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
        };
        upstream_jwt::sign(&self.signer, &claims)
    }
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
        cfg.app_data(state.clone());
    }
}
