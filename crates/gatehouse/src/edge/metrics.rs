//! `/metrics` (issue 15 §2; ADR 0018) and the middleware that counts every HTTP request.
//!
//! The exposition is served either on the main listener behind a bearer token
//! (`GATEHOUSE_METRICS_TOKEN`; without one the route answers 404, as if it did not exist), or
//! without a token on a separate `--metrics-listen` address meant for a private interface
//! ([`private_app`]). The series themselves are kept in `authz_core::metrics`.
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, Error, HttpRequest, HttpResponse};
use authz_core::clock::SharedClock;
use authz_core::crypto::{hashes_equal, sha256_hex};
use authz_core::Store;

/// What the `/metrics` route needs: the expected token's hash (none: 404), the node's store for
/// the gauges read at scrape time (none in the gateway's introspection mode) and the clock.
#[derive(Clone)]
pub struct MetricsEndpoint {
    token_hash: Option<String>,
    store: Option<Store>,
    clock: SharedClock,
}

impl MetricsEndpoint {
    pub fn new(token: Option<&str>, store: Option<Store>, clock: SharedClock) -> Self {
        MetricsEndpoint {
            token_hash: token.map(|t| sha256_hex(t.trim())),
            store,
            clock,
        }
    }

    /// The bearer token of `req` is the configured one. Both sides are hashed first, so the
    /// constant-time comparison does not tell the token's length either.
    fn admits(&self, req: &HttpRequest) -> bool {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| sha256_hex(t.trim()));
        match (&self.token_hash, presented) {
            (Some(want), Some(got)) => hashes_equal(want, &got),
            _ => false,
        }
    }

    async fn exposition(&self) -> HttpResponse {
        let now = self.clock.now_us();
        let text = authz_core::metrics::render(self.store.as_ref(), now).await;
        HttpResponse::Ok()
            .content_type(authz_core::metrics::CONTENT_TYPE)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(text)
    }
}

/// `GET /metrics` on the main listener: 404 without a configured token, 401 without the right
/// bearer token (RFC 6750 §3), else the exposition.
pub async fn scrape(ep: web::Data<MetricsEndpoint>, req: HttpRequest) -> HttpResponse {
    if ep.token_hash.is_none() {
        return HttpResponse::NotFound().finish();
    }
    if !ep.admits(&req) {
        return HttpResponse::Unauthorized()
            .insert_header((
                header::WWW_AUTHENTICATE,
                "Bearer realm=\"gatehouse-metrics\"",
            ))
            .finish();
    }
    ep.exposition().await
}

/// `GET /metrics` on the private `--metrics-listen` address: no token.
async fn scrape_private(ep: web::Data<MetricsEndpoint>) -> HttpResponse {
    ep.exposition().await
}

/// The app of the `--metrics-listen` address: `/metrics` only, no token (bind it to a private
/// interface: anyone who reaches it reads the node's counters).
pub fn private_app(
    ep: web::Data<MetricsEndpoint>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(ep)
        .route("/metrics", web::get().to(scrape_private))
        .wrap(from_fn(RecordHttp))
}

/// Middleware: counts every request in `gatehouse_http_requests_total` and
/// `gatehouse_http_request_duration_seconds` (time to the response head) by its matched route
/// pattern — never the path, whose ids and tenant names would make a series each — and every
/// 429 in `gatehouse_rate_limited_total`. Wraps the whole app, so refusals by the other
/// middleware (CORS, NUL paths) are counted too.
#[allow(non_snake_case)]
pub async fn RecordHttp(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    let seconds = started.elapsed().as_secs_f64();
    authz_core::metrics::http_request(&route, method.as_str(), status.as_u16(), seconds);
    if status.as_u16() == 429 {
        authz_core::metrics::rate_limited(&route);
    }
    res
}
