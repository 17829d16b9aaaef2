//! The HTTP half of the test world: the one app (`gatehouse::app`, exactly what `gatehouse
//! serve` runs) over a test store and clock. A test changes only the state it is about (a SCIM
//! rate, an admin key limit, the console's DNS server or fetchers, the issuer's fetcher) and
//! gets every surface and every middleware, in production order. The data half (tenants,
//! connections, users, sessions, resources, tokens) is `authz_core::testkit::world`.
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use admin_api::console::{self, ConsoleState};
use admin_api::AdminState;
use authz_core::clock::{FixedClock, SharedClock};
use authz_core::redirect::RedirectPolicy;
use authz_core::{testkit, Store};
use issuer::{AppState, IssuerConfig};
use safe_fetch::SafeFetcher;
use scim::ScimState;

/// The state of every surface of one node, before it is shared by the app.
pub struct Node {
    pub issuer: AppState,
    pub scim: ScimState,
    pub admin: AdminState,
    pub console: ConsoleState,
    /// The bearer token of `/metrics` (none: the route answers 404, as in production).
    pub metrics_token: Option<String>,
}

/// A fetcher with the default configuration (public addresses only).
pub fn default_fetcher() -> SafeFetcher {
    SafeFetcher::new(&Default::default()).expect("the default fetcher configuration is valid")
}

/// The issuer's state at `issuer_url` over the test store, clock and master key.
pub fn issuer_state(
    store: &Store,
    clock: SharedClock,
    issuer_url: &str,
    fetcher: SafeFetcher,
) -> AppState {
    AppState::new(
        store.clone(),
        clock,
        IssuerConfig {
            issuer: issuer_url.into(),
            redirect_policy: RedirectPolicy::default(),
            trusted_proxies: vec![],
        },
        testkit::master_key(),
        fetcher,
    )
}

impl Node {
    /// Every surface at `issuer_url` with the defaults `gatehouse serve` uses, except that DNS
    /// TXT lookups go to a closed local port instead of the system resolver.
    pub fn new(store: &Store, clock: &FixedClock, issuer_url: &str) -> Node {
        Node::with_issuer(issuer_state(
            store,
            Arc::new(clock.clone()),
            issuer_url,
            default_fetcher(),
        ))
    }

    /// Every surface around a SCIM state of the test's own (its rate, its clock), at the SCIM
    /// state's issuer URL.
    pub fn for_scim(scim: ScimState) -> Node {
        let issuer = issuer_state(
            &scim.store,
            scim.clock.clone(),
            &scim.issuer,
            default_fetcher(),
        );
        Node::with_issuer(issuer).scim(scim)
    }

    /// Every other surface derived from the issuer's state, as `gatehouse serve` derives them.
    pub fn with_issuer(state: AppState) -> Node {
        let issuer_url = state.config.issuer.clone();
        Node {
            scim: ScimState::new(state.store.clone(), state.clock.clone(), &issuer_url),
            admin: AdminState {
                store: state.store.clone(),
                clock: state.clock.clone(),
                redirect_policy: state.config.redirect_policy.clone(),
                secure_cookies: state.config.secure_cookies(),
                rate_per_key_per_minute: admin_api::DEFAULT_RATE_PER_KEY_PER_MINUTE,
            },
            console: ConsoleState {
                store: state.store.clone(),
                clock: state.clock.clone(),
                issuer: issuer_url,
                master_key: state.master_key.clone(),
                fetcher: state.fetcher.clone(),
                public_fetcher: default_fetcher(),
                audit_keys: Arc::new(state.master_key.audit_verifying_keys()),
                dns: console::dns::Resolver::at("127.0.0.1:9".parse().unwrap()),
                templates: Arc::new(console::Templates::new()),
            },
            issuer: state,
            metrics_token: None,
        }
    }

    pub fn scim(mut self, scim: ScimState) -> Node {
        self.scim = scim;
        self
    }

    pub fn admin(mut self, admin: AdminState) -> Node {
        self.admin = admin;
        self
    }

    pub fn metrics_token(mut self, token: &str) -> Node {
        self.metrics_token = Some(token.to_string());
        self
    }

    pub fn console(mut self, console: ConsoleState) -> Node {
        self.console = console;
        self
    }

    /// The app, ready for `actix_web::test::call_service`.
    pub async fn app(
        self,
    ) -> impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    > {
        let services = gatehouse::Services::new(self.issuer, self.scim, self.admin, self.console)
            .with_metrics_token(self.metrics_token.as_deref());
        test::init_service(gatehouse::app(&services)).await
    }
}
