//! `gatehouse serve`: the HTTP server plus the background jobs every node runs (the audit
//! sealer, advisory-locked per chain; expiry of unused dynamic clients).
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use anyhow::{Context, Result};
use authz_core::clock::{SharedClock, SystemClock};
use authz_core::Store;
use gatehouse::Services;
use issuer::{AppState, IssuerConfig};

use crate::cli::ServeArgs;
use crate::config::{validate_issuer, Config, Global};

pub fn run(g: Global, args: ServeArgs) -> Result<()> {
    gatehouse::logging::init();
    let cfg = Config::load(&g)?;
    let listen = args
        .listen
        .or_else(|| cfg.file.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let issuer = validate_issuer(&cfg.issuer(args.issuer))?;
    let master_key = cfg.master_key()?;
    let fetcher = cfg.fetcher()?;
    let cimd_fetcher = cfg.cimd_fetcher()?;
    let console_fetcher = cfg.console_fetcher()?;
    let redirect_policy = cfg.redirect_policy();
    let trusted_proxies = cfg.trusted_proxies()?;
    let scim_rate = cfg.scim_rate_per_minute()?;
    let rate_limits = cfg.rate_limits()?;
    let admin_rate = cfg.admin_rate_per_key_per_minute()?;
    let mailer = crate::mailer::Mailer::from_env(&cfg.data_dir, &issuer)?;
    let dns_resolver = cfg.dns_resolver()?;
    let metrics_token = cfg.metrics_token()?;
    let node = args.node;
    // One worker per core, as actix-web's default; on PostgreSQL each has its own pool for the
    // issuer's hot paths, and the node's ceiling is split between them and the shared pool.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (shared_pool, worker_pool) = if cfg.is_postgres {
        node.pool().split_for_workers(workers as u32)
    } else {
        (node.pool(), None)
    };
    actix_web::rt::System::new().block_on(async move {
        let store =
            crate::open_store::open_with(&cfg.database_url, cfg.auto_migrate(), &shared_pool).await?;
        let clock: SharedClock = Arc::new(SystemClock);
        let signing_key = master_key.audit_signing_key();
        let state = AppState::new(store.clone(), clock.clone(), IssuerConfig { issuer: issuer.clone(), redirect_policy, trusted_proxies }, master_key, fetcher)
            .with_cimd_fetcher(cimd_fetcher)
            .with_console_fetcher(console_fetcher.clone())
            .with_rate_limits(rate_limits);
        let scim = scim::ScimState::new(store.clone(), clock.clone(), &issuer).with_rate_per_minute(scim_rate);
        let admin = admin_api::AdminState {
            store: store.clone(),
            clock: clock.clone(),
            redirect_policy: state.config.redirect_policy.clone(),
            secure_cookies: state.config.secure_cookies(),
            rate_per_key_per_minute: admin_rate,
        };
        let console = admin_api::console::ConsoleState {
            store: store.clone(),
            clock: clock.clone(),
            issuer: issuer.clone(),
            master_key: state.master_key.clone(),
            fetcher: state.fetcher.clone(),
            public_fetcher: console_fetcher,
            audit_keys: Arc::new(state.master_key.audit_verifying_keys()),
            dns: dns_resolver.clone(),
            templates: Arc::new(admin_api::console::Templates::new()),
        };
        let services = Services::new(state, scim, admin, console)
            .with_metrics_token(metrics_token.as_deref())
            .with_worker_pools(&cfg.database_url, worker_pool);
        let server = HttpServer::new(move || gatehouse::app(&services))
            .workers(workers)
            // No small write waits for the client's delayed ACK (see `cli::gateway::serve`).
            .tcp_nodelay(true)
            .keep_alive(node.keep_alive())
            .shutdown_timeout(20)
            .bind(&listen)
            .map_err(|e| crate::cli::listen_error(&listen, &e))?;
        // A node that cannot listen sends no mail and runs no jobs.
        crate::mailer::spawn(mailer, store.clone(), clock.clone());
        if let Some(addr) = &node.metrics_listen {
            let ep = gatehouse::edge::MetricsEndpoint::new(None, Some(store.clone()), clock.clone());
            metrics_listener(ep, addr)?;
        }
        background_jobs(store, clock, signing_key);
        // Only now: "listening" must not be printed for a port that is taken.
        let bound = crate::cli::addrs(&server.addrs());
        tracing::info!(listen = %bound, issuer = %issuer, postgres = cfg.is_postgres, "gatehouse listening");
        server.run().await.context("server error")
    })
}

/// `/metrics` without a token on its own address (`--metrics-listen`), one worker, running
/// beside the main server until the process stops.
pub fn metrics_listener(ep: gatehouse::edge::MetricsEndpoint, addr: &str) -> Result<()> {
    let ep = actix_web::web::Data::new(ep);
    let server = HttpServer::new(move || gatehouse::edge::metrics::private_app(ep.clone()))
        .workers(1)
        .shutdown_timeout(5)
        .bind(addr)
        .with_context(|| format!("cannot listen on {addr} (--metrics-listen)"))?
        .run();
    tracing::info!(listen = %addr, "metrics listening (no token: keep this address private)");
    actix_web::rt::spawn(server);
    Ok(())
}

fn background_jobs(store: Store, clock: SharedClock, key: authz_core::audit::SigningKey) {
    let s = store.clone();
    let c = clock.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_millis(500));
        // An outage is logged when it starts and when sealing resumes, not twice a second.
        let mut down = false;
        loop {
            tick.tick().await;
            match authz_core::audit::seal_all(&s, &key, c.as_ref()).await {
                Ok(_) if down => {
                    down = false;
                    tracing::info!(
                        code = "DB0200",
                        "database reachable again; audit sealing resumed"
                    );
                }
                Ok(_) => {}
                Err(e) if e.is_unavailable() => {
                    if !std::mem::replace(&mut down, true) {
                        authz_core::error::log_unavailable(&e);
                    }
                }
                Err(e) => tracing::error!(code = "AUDIT0001", error = %e, "audit sealing failed"),
            }
        }
    });
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(3600));
        let mut hour: u64 = 0;
        loop {
            tick.tick().await;
            match authz_core::client::expire_unused(&store, clock.as_ref()).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(clients = n, "expired unused dynamically registered clients")
                }
                Err(e) => tracing::error!(code = "CLIENT0001", error = %e, "client expiry failed"),
            }
            // Personal API keys past their end: `api_key.expired`, once per key (before the
            // maintenance purge below removes their token rows a day later).
            match authz_core::personal_key::record_expired(&store, clock.as_ref()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(keys = n, "recorded expired personal API keys"),
                Err(e) => {
                    tracing::error!(code = "APIKEY0003", error = %e, "key expiry sweep failed")
                }
            }
            match authz_core::scim_token::alert_expiring(&store, clock.as_ref()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(tokens = n, "queued SCIM token expiry alerts"),
                Err(e) => {
                    tracing::error!(code = "SCIM0600", error = %e, "SCIM token expiry check failed")
                }
            }
            // Audit retention, once a day (and at start): whole ranges ending at a checkpoint.
            if hour.is_multiple_of(24) {
                match authz_core::audit::retention::purge_all(&store, clock.as_ref()).await {
                    Ok(done) => {
                        if !done.purged.is_empty() {
                            tracing::info!(tenants = done.purged.len(), "audit retention applied");
                        }
                        for (tenant, e) in &done.failed {
                            tracing::warn!(code = "AUDIT0003", tenant = %tenant, error = %e,
                                "audit retention not applied; on PostgreSQL run `gatehouse audit purge` as the audit tables' owner");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(code = "AUDIT0003", error = %e, "audit retention not applied")
                    }
                }
            }
            hour += 1;
            match authz_core::maintenance::purge_expired(&store, clock.as_ref()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "purged expired sign-in state and tokens"),
                Err(e) => tracing::error!(code = "MAINT0001", error = %e, "purge failed"),
            }
        }
    });
}
