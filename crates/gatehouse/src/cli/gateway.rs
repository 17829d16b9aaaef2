//! `gatehouse gateway`: the MCP gateway (issue 13 §1) on the same database, master key and
//! issuer as `serve`. Several gateways and nodes may run at once: tokens, rate limits and the
//! audit chain live in the database; a node keeps only the catalogue, re-checked every 2 s.
use std::sync::Arc;

use actix_web::{web, App, HttpServer};
use anyhow::{Context, Result};
use authz_core::clock::{SharedClock, SystemClock};
use authz_core::Store;
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
}

pub fn run(g: Global, args: GatewayArgs) -> Result<()> {
    gatehouse::logging::init();
    let cfg = Config::load(&g)?;
    let listen = args
        .listen
        .or_else(|| cfg.file.gateway.as_ref().and_then(|g| g.listen.clone()))
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let issuer = validate_issuer(&cfg.issuer(args.issuer))?;
    let master_key = cfg.master_key()?;
    let routes = cfg.gateway_routes(args.resource.zip(args.upstream));
    let options = cfg.gateway_options()?;
    actix_web::rt::System::new().block_on(async move {
        if cfg.auto_migrate() {
            Store::migrate(&cfg.database_url)
                .await
                .context("database migration failed")?;
        }
        let store = Store::connect(&cfg.database_url)
            .await
            .context("cannot open the database")?;
        let clock: SharedClock = Arc::new(SystemClock);
        let (sink, writer) = gateway::AuditSink::start(store.clone(), clock.clone());
        let signer = master_key.upstream_jwt_signing_key();
        let state = gateway::GatewayState::new(store, clock, &issuer, signer, &routes, options, sink)
            .await?;
        for r in &state.routes {
            tracing::info!(resource = %r.resource.uri, upstream = %r.upstream, "gateway route");
        }
        tracing::info!(listen = %listen, issuer = %issuer, "gatehouse gateway listening");
        let state = web::Data::new(state);
        let served = HttpServer::new(move || {
            App::new()
                .wrap(TracingLogger::<gatehouse::logging::RequestSpan>::new())
                .configure(gateway::configure(state.clone()))
        })
        .shutdown_timeout(20)
        .bind(&listen)
        .with_context(|| format!("cannot listen on {listen}"))?
        .run()
        .await;
        // Every call answered before the stop is in the queue: write it before exiting.
        writer.shutdown().await;
        served.context("server error")
    })
}
