//! The one assembly of the HTTP app (issue 12 §3): every surface's routes under the shared
//! middleware, in the order production uses.
//!
//! Shape: actix builds one `App` per worker thread, so the server calls [`app`] inside its
//! `HttpServer::new` factory and a test calls it inside `actix_web::test::init_service`. The
//! states are built once, outside, and shared: [`Services`] holds them as `web::Data` (an
//! `Arc`), so every worker sees the same node-local rate limiters and caches.
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, App, Error};
use tracing_actix_web::TracingLogger;

use crate::edge;

/// The state of each surface, shared by every worker of one node.
#[derive(Clone)]
pub struct Services {
    pub issuer: web::Data<issuer::AppState>,
    pub scim: web::Data<scim::ScimState>,
    pub admin: web::Data<admin_api::AdminState>,
    pub console: web::Data<admin_api::console::ConsoleState>,
    /// `/metrics` on this listener: 404 until [`Services::with_metrics_token`].
    pub metrics: web::Data<edge::MetricsEndpoint>,
    /// PostgreSQL: the issuer's hot paths use a pool per worker thread
    /// ([`Services::with_worker_pools`]): the database URL and each pool's configuration.
    worker_pools: Option<(String, authz_core::db::PoolConfig)>,
}

impl Services {
    pub fn new(
        issuer: issuer::AppState,
        scim: scim::ScimState,
        admin: admin_api::AdminState,
        console: admin_api::console::ConsoleState,
    ) -> Self {
        let metrics =
            edge::MetricsEndpoint::new(None, Some(issuer.store.clone()), issuer.clock.clone());
        Services {
            metrics: web::Data::new(metrics),
            issuer: web::Data::new(issuer),
            scim: web::Data::new(scim),
            admin: web::Data::new(admin),
            console: web::Data::new(console),
            worker_pools: None,
        }
    }

    /// On PostgreSQL, gives each worker thread's issuer (the token endpoint, introspection,
    /// revocation: the hot paths) its own pool with `pool`'s ceiling and statement timeout,
    /// opened lazily from that worker (`None`: the shared pool). actix-web runs every worker
    /// on its own single-threaded runtime and a socket answers on the runtime that opened it:
    /// with one shared pool most statements woke a second thread to read the answer and hand
    /// it over (the gateway's finding, issue 13; ADR 0022). Everything else (SCIM, the admin
    /// API, the console, background jobs) keeps the node's pool.
    pub fn with_worker_pools(
        mut self,
        database_url: &str,
        pool: Option<authz_core::db::PoolConfig>,
    ) -> Self {
        self.worker_pools = pool
            .filter(|_| !database_url.starts_with("sqlite:"))
            .map(|p| (database_url.to_string(), p));
        self
    }

    /// The issuer's state for the worker thread that calls this (inside `HttpServer::new`).
    fn issuer_for_this_worker(&self) -> web::Data<issuer::AppState> {
        let local = self
            .worker_pools
            .as_ref()
            .and_then(|(url, pool)| self.issuer.store.for_worker(url, pool));
        match local {
            Some(store) => {
                let mut state = self.issuer.get_ref().clone();
                state.store = store;
                web::Data::new(state)
            }
            None => self.issuer.clone(),
        }
    }

    /// Serves `/metrics` on this listener to callers presenting `token` as a bearer token
    /// (`GATEHOUSE_METRICS_TOKEN`); `None` keeps the route answering 404.
    pub fn with_metrics_token(mut self, token: Option<&str>) -> Self {
        let store = Some(self.issuer.store.clone());
        let ep = edge::MetricsEndpoint::new(token, store, self.issuer.clock.clone());
        self.metrics = web::Data::new(ep);
        self
    }

    /// HSTS is sent only when the public issuer URL is https.
    fn https(&self) -> bool {
        self.issuer.config.issuer.starts_with("https://")
    }
}

/// The whole app: the issuer, SCIM, the admin API and the console, wrapped (innermost first)
/// in CORS for the open OAuth endpoints, the NUL-path refusal, the audit origin scope, the
/// security headers, the request span and the HTTP metrics; plus `/metrics` (token-guarded).
pub fn app(
    s: &Services,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(s.issuer_for_this_worker())
        .app_data(s.scim.clone())
        .app_data(s.admin.clone())
        .app_data(s.console.clone())
        .app_data(s.metrics.clone())
        .wrap(from_fn(edge::Cors))
        .wrap(from_fn(edge::RejectNul))
        .wrap(from_fn(issuer::AuditOrigin))
        .wrap(edge::SecurityHeaders(s.https()))
        .wrap(TracingLogger::<crate::logging::RequestSpan>::new())
        .wrap(from_fn(edge::RecordHttp))
        .route("/metrics", web::get().to(edge::metrics::scrape))
        .configure(issuer::configure)
        .configure(scim::configure)
        .configure(admin_api::configure)
        .configure(admin_api::console::configure)
}
