//! `gatehouse gateway`: the MCP gateway (issue 13 §1) on the same database, master key and
//! issuer as `serve`. Several gateways and nodes may run at once: tokens, rate limits and the
//! audit chain live in the database; a node keeps only the catalogue, re-checked every 2 s.
//!
//! With `--introspect-url` the gateway runs in introspection mode (issue 13 §1, second mode;
//! `gateway::remote`): no database and no master key. It authenticates to the remote Gatehouse
//! with the resource's credentials (`--client-id`, `--client-secret-file`), loads the policy
//! from it at start (and refuses to start if it cannot), signs upstream JWTs with the Ed25519
//! seed in `--signing-key-file` (created, mode 0600, if absent) and serves their JWKS itself.
//! The issuer is the one the remote names in its policy answer; `--issuer`, when given, must be
//! the same (a mismatch stops the start rather than publish a wrong `authorization_servers`).
use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use anyhow::{Context, Result};
use authz_core::clock::{SharedClock, SystemClock};
use authz_core::Store;
use gatehouse::edge::{MetricsEndpoint, RecordHttp};
use tracing_actix_web::TracingLogger;

use crate::config::{validate_issuer, Config, Global};

#[derive(clap::Args, Debug)]
pub struct GatewayArgs {
    /// Address to listen on (default: `[gateway] listen`, else 127.0.0.1:8090).
    #[arg(long, env = "GATEHOUSE_GATEWAY_LISTEN")]
    pub listen: Option<String>,
    /// The resource's `uri` in the catalogue (its public URL); the gateway serves it at the
    /// URI's path. More resources: `[[gateway.routes]]` in the configuration file.
    #[arg(long, requires = "upstream")]
    pub resource: Option<String>,
    /// The MCP server (Streamable HTTP endpoint) behind the resource.
    #[arg(long, requires = "resource")]
    pub upstream: Option<String>,
    /// Public issuer URL, as `serve` is given it.
    #[arg(long, env = "GATEHOUSE_ISSUER")]
    pub issuer: Option<String>,
    /// Introspection mode: the remote Gatehouse's RFC 7662 endpoint
    /// (`https://gatehouse.example/oauth/introspect`); needs `--resource`, `--upstream`,
    /// `--client-id` and `--client-secret-file`.
    #[arg(long, requires_all = ["resource", "client_id", "client_secret_file"])]
    pub introspect_url: Option<String>,
    /// Introspection mode: the resource's resource-server client id.
    #[arg(long, requires = "introspect_url")]
    pub client_id: Option<String>,
    /// Introspection mode: a file holding the resource's client secret.
    #[arg(long, requires = "introspect_url")]
    pub client_secret_file: Option<std::path::PathBuf>,
    /// Introspection mode: the Ed25519 seed of the upstream JWTs (default
    /// `gateway-signing.key`; created with mode 0600 if absent).
    #[arg(long, requires = "introspect_url")]
    pub signing_key_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub node: crate::config::NodeArgs,
}

pub fn run(g: Global, args: GatewayArgs) -> Result<()> {
    gatehouse::logging::init();
    if args.introspect_url.is_some() {
        return run_remote(g, args);
    }
    let cfg = Config::load(&g)?;
    let listen = args
        .listen
        .or_else(|| cfg.file.gateway.as_ref().and_then(|g| g.listen.clone()))
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let issuer = validate_issuer(&cfg.issuer(args.issuer))?;
    let master_key = cfg.master_key()?;
    let routes = cfg.gateway_routes(args.resource.zip(args.upstream));
    let options = cfg.gateway_options()?;
    let metrics_token = cfg.metrics_token()?;
    let node = args.node;
    actix_web::rt::System::new().block_on(async move {
        let store =
            crate::open_store::open_with(&cfg.database_url, cfg.auto_migrate(), &node.pool())
                .await?;
        let clock: SharedClock = Arc::new(SystemClock);
        let metrics = Metrics {
            store: Some(store.clone()),
            clock: clock.clone(),
            token: metrics_token,
            listen: node.metrics_listen.clone(),
        };
        let (sink, writer) = gateway::AuditSink::start(store.clone(), clock.clone());
        let signer = master_key.upstream_jwt_signing_key();
        // Each worker thread reads through its own small PostgreSQL pool (a call holds a
        // connection for one statement): 8 per worker, opened on demand.
        let state =
            gateway::GatewayState::new(store, clock, &issuer, signer, &routes, options, sink)
                .await?
                .with_worker_pools(&cfg.database_url, 8)
                // The issuer's DPoP nonces: a client on one origin holds one nonce for both.
                .with_dpop_nonces(master_key.dpop_nonce_key());
        for r in &state.routes {
            tracing::info!(resource = %r.resource.uri, upstream = %r.upstream, "gateway route");
        }
        tracing::info!(listen = %listen, issuer = %issuer, "gatehouse gateway starting");
        let served = serve(state, &listen, node.keep_alive(), metrics).await;
        // Every call answered before the stop is in the queue: write it before exiting.
        writer.shutdown().await;
        served
    })
}

/// Where the gateway's metrics go: `/metrics` on the main listener behind `token`, or on
/// `listen` without one (the same choice as `serve`).
struct Metrics {
    store: Option<Store>,
    clock: SharedClock,
    token: Option<String>,
    listen: Option<String>,
}

/// Serves `state` on `listen` until the server stops (SIGTERM: graceful, 20 s).
async fn serve(
    state: gateway::GatewayState,
    listen: &str,
    keep_alive: actix_web::http::KeepAlive,
    m: Metrics,
) -> Result<()> {
    let state = web::Data::new(state);
    if let Some(addr) = &m.listen {
        let ep = MetricsEndpoint::new(None, m.store.clone(), m.clock.clone());
        crate::serve::metrics_listener(ep, addr)?;
    }
    let ep = web::Data::new(MetricsEndpoint::new(m.token.as_deref(), m.store, m.clock));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(ep.clone())
            .wrap(TracingLogger::<gatehouse::logging::RequestSpan>::new())
            .wrap(from_fn(RecordHttp))
            .route("/metrics", web::get().to(gatehouse::edge::metrics::scrape))
            .configure(gateway::configure(state.clone()))
    })
    // Streamed answers (SSE) are written in pieces: with Nagle's algorithm each piece after the
    // first waited for the client's delayed ACK (40 ms on Linux), which capped a connection at
    // about 20 streamed calls a second (`bench/gateway.sh`, the SDK example upstream).
    .tcp_nodelay(true)
    .keep_alive(keep_alive)
    .shutdown_timeout(20)
    .bind(listen)
    .map_err(|e| super::listen_error(listen, &e))?;
    // Only now: "listening" must not be printed for a port that is taken.
    tracing::info!(listen = %super::addrs(&server.addrs()), "gatehouse gateway listening");
    server.run().await.context("server error")
}

/// Introspection mode: no database; see the module's documentation.
fn run_remote(g: Global, args: GatewayArgs) -> Result<()> {
    let cfg = Config::load(&g)?;
    let listen = args
        .listen
        .or_else(|| cfg.file.gateway.as_ref().and_then(|g| g.listen.clone()))
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let options = cfg.gateway_options()?;
    let metrics_token = cfg.metrics_token()?;
    let node = args.node;
    let (Some(introspect_url), Some(client_id), Some(secret_file), Some(upstream)) = (
        args.introspect_url,
        args.client_id,
        args.client_secret_file,
        args.upstream,
    ) else {
        anyhow::bail!(
            "introspection mode needs --resource, --upstream, --client-id and --client-secret-file"
        );
    };
    let client_secret = std::fs::read_to_string(&secret_file)
        .with_context(|| format!("cannot read {}", secret_file.display()))?
        .trim()
        .to_string();
    let key_file = args
        .signing_key_file
        .unwrap_or_else(|| "gateway-signing.key".into());
    let signer = gateway::remote::signing_key(&key_file)?;
    let remote_cfg = gateway::remote::RemoteConfig {
        introspect_url,
        client_id,
        client_secret,
    };
    actix_web::rt::System::new().block_on(async move {
        let remote = Arc::new(gateway::remote::Remote::connect(remote_cfg).await?);
        let wanted = args.resource.unwrap_or_default();
        let held = remote.policy().resource.uri.clone();
        if authz_core::resource::normalize_uri(&wanted).ok().as_deref() != Some(held.as_str()) {
            anyhow::bail!("--resource '{wanted}' is not the resource of these credentials ('{held}')");
        }
        if let Some(i) = args.issuer {
            if i.trim_end_matches('/') != remote.issuer() {
                anyhow::bail!("--issuer '{i}' differs from the remote's issuer '{}'", remote.issuer());
            }
        }
        let refresh = remote.spawn_refresh();
        let clock: SharedClock = Arc::new(SystemClock);
        let metrics = Metrics {
            store: None,
            clock: clock.clone(),
            token: metrics_token,
            listen: node.metrics_listen.clone(),
        };
        let (sink, writer) = gateway::AuditSink::start_remote(remote.clone());
        let state = gateway::GatewayState::remote(
            remote.clone(),
            clock,
            signer,
            &upstream,
            options,
            sink,
        )?;
        tracing::info!(listen = %listen, issuer = %state.issuer, resource = %held, upstream = %upstream, "gatehouse gateway (introspection mode) starting");
        let served = serve(state, &listen, node.keep_alive(), metrics).await;
        refresh.abort();
        writer.shutdown().await;
        served
    })
}
