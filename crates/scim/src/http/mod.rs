//! The SCIM 2.0 HTTP surface, `/scim/v2/{tenant_slug}` (RFC 7644). Handlers are thin: the
//! [`auth::ScimPrincipal`] extractor authenticates the tenant's bearer token before any handler
//! runs (STYLE §3); each operation in [`users`] and [`groups`] is a function that Bulk calls
//! too: it parses the body, calls the `app::scim` use case (which opens the transaction; the
//! directory writes the audit records) and renders the outcome.
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use authz_core::clock::SharedClock;
use authz_core::Store;
use serde_json::Value;

pub mod auth;
pub mod bulk;
pub mod discovery;
pub mod error;
pub mod groups;
pub mod list;
pub mod render;
pub mod users;

pub use auth::ScimPrincipal;
pub use error::ScimError;

/// Largest request body accepted (advertised as `bulk.maxPayloadSize`); larger is 413.
pub const MAX_PAYLOAD: usize = 4 * 1024 * 1024;
/// Most operations in one Bulk request (advertised as `bulk.maxOperations`).
pub const MAX_BULK_OPERATIONS: usize = 1000;
/// Most resources in one list response (advertised as `filter.maxResults`).
pub const MAX_RESULTS: u64 = 1000;
/// Page size when the client names none.
pub const DEFAULT_COUNT: u64 = 100;
/// Requests per SCIM token and minute unless configured otherwise.
pub const DEFAULT_RATE_PER_MINUTE: i64 = 6000;

/// What the SCIM handlers share.
#[derive(Clone)]
pub struct ScimState {
    pub store: Store,
    pub clock: SharedClock,
    /// The public base URL (the issuer), for `meta.location`.
    pub issuer: String,
    pub rate_per_minute: i64,
    /// Tenant ids by slug, as the SCIM token check looked them up.
    pub(crate) tenants: std::sync::Arc<app::scim::auth::TenantSlugs>,
}

impl ScimState {
    pub fn new(store: Store, clock: SharedClock, issuer: &str) -> Self {
        ScimState {
            store,
            clock,
            issuer: issuer.trim_end_matches('/').to_string(),
            rate_per_minute: DEFAULT_RATE_PER_MINUTE,
            tenants: Default::default(),
        }
    }
    pub fn with_rate_per_minute(mut self, n: i64) -> Self {
        self.rate_per_minute = n.max(1);
        self
    }
    /// The tenant's SCIM base URL.
    pub fn base(&self, slug: &str) -> String {
        format!("{}/scim/v2/{slug}", self.issuer)
    }
}

/// A successful operation: what to answer, for a handler or a Bulk entry.
#[derive(Debug)]
pub struct Rendered {
    pub status: StatusCode,
    pub body: Option<Value>,
    pub version: Option<i64>,
    pub location: Option<String>,
}

impl Rendered {
    pub fn respond(self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        if let Some(v) = self.version {
            r.insert_header((header::ETAG, render::etag(v)));
        }
        if let Some(l) = &self.location {
            r.insert_header((header::LOCATION, l.clone()));
        }
        match self.body {
            Some(b) => r.content_type(error::SCIM_JSON).body(b.to_string()),
            None => r.finish(),
        }
    }
}

impl Rendered {
    /// 200 with a resource and its version.
    pub fn ok(body: Value, version: i64) -> Rendered {
        Rendered {
            status: StatusCode::OK,
            body: Some(body),
            version: Some(version),
            location: None,
        }
    }

    /// 204, after a DELETE.
    pub fn no_content() -> Rendered {
        Rendered {
            status: StatusCode::NO_CONTENT,
            body: None,
            version: None,
            location: None,
        }
    }

    /// 200 with a ListResponse.
    pub fn list(body: Value) -> Rendered {
        Rendered {
            status: StatusCode::OK,
            body: Some(body),
            version: None,
            location: None,
        }
    }
}

/// Reads a JSON body of at most [`MAX_PAYLOAD`] bytes: 413 beyond, 400 if not JSON. Any
/// content type is read as JSON (clients send `application/scim+json` or `application/json`).
pub async fn read_json(mut payload: web::Payload) -> Result<Value, ScimError> {
    use futures::StreamExt;
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|_| ScimError::bad("invalidSyntax", "the request body could not be read"))?;
        if buf.len() + chunk.len() > MAX_PAYLOAD {
            return Err(ScimError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                format!("the request body exceeds {MAX_PAYLOAD} bytes (see /ServiceProviderConfig bulk.maxPayloadSize)"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&buf)
        .map_err(|e| ScimError::bad("invalidSyntax", format!("the body is not valid JSON: {e}")))
}

/// The `If-Match` header, if any (RFC 7644 §3.14).
pub fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn not_implemented_me() -> HttpResponse {
    actix_web::ResponseError::error_response(&ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "/Me is not supported: SCIM clients here are IdPs acting for the whole tenant, not users",
    ))
}

async fn not_implemented_search() -> HttpResponse {
    actix_web::ResponseError::error_response(&ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "search across resource types is not supported; use /Users/.search or /Groups/.search",
    ))
}

async fn no_such_endpoint() -> HttpResponse {
    actix_web::ResponseError::error_response(&ScimError::new(
        StatusCode::NOT_FOUND,
        None,
        "no such SCIM endpoint",
    ))
}

pub(crate) async fn method_not_allowed() -> HttpResponse {
    actix_web::ResponseError::error_response(&ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        "method not allowed on this endpoint",
    ))
}

/// Records every failed, authenticated SCIM request in the tenant's audit log
/// (`app::scim::failures`: method, path, status, scimType, detail), so the tenant admin sees
/// what their IdP's provisioning got wrong. Unauthenticated failures name no tenant and are
/// not recorded; a failure to record is logged and does not change the response. Every request,
/// failed or not, is also counted ([`count`]).
pub async fn record_failures(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let res = next.call(req).await?;
    count(res.request(), res.status().as_u16());
    if res.status().as_u16() < 400 {
        return Ok(res);
    }
    let principal = {
        use actix_web::HttpMessage;
        res.request().extensions().get::<ScimPrincipal>().cloned()
    };
    let (Some(p), Some(st)) = (
        principal,
        res.request().app_data::<web::Data<ScimState>>().cloned(),
    ) else {
        return Ok(res);
    };
    let failure = res.response().extensions().get::<error::Failure>().cloned();
    let refused = app::scim::failures::RefusedRequest {
        method: res.request().method().as_str(),
        path: res.request().path(),
        status: res.status().as_u16(),
        scim_type: failure.as_ref().and_then(|f| f.scim_type),
        detail: failure.as_ref().map(|f| f.detail.clone()),
    };
    let recorded = app::scim::failures::record(&st.store, st.clock.as_ref(), &p.client, refused);
    if let Err(e) = recorded.await {
        tracing::warn!(code = "SCIM0601", error = %e, "could not record a failed SCIM request");
    }
    Ok(res)
}

/// `gatehouse_scim_operations_total`: the resource type and operation come from the matched
/// route pattern, never from the path (bounded labels).
fn count(req: &actix_web::HttpRequest, status: u16) {
    let pattern = req.match_pattern().unwrap_or_default();
    let (resource, operation) = authz_core::metrics::labels::scim(&pattern, req.method().as_str());
    authz_core::metrics::scim_operation(resource, operation, status);
}

/// Registers `/scim/v2/{tenant}/…`. The caller provides `web::Data<ScimState>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/scim/v2/{tenant}")
            .wrap(actix_web::middleware::from_fn(record_failures))
            .service(
                web::resource("/Users")
                    .route(web::get().to(users::list_handler))
                    .route(web::post().to(users::create_handler))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Users/.search")
                    .route(web::post().to(users::search_handler))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Users/{id}")
                    .route(web::get().to(users::get_handler))
                    .route(web::put().to(users::replace_handler))
                    .route(web::patch().to(users::patch_handler))
                    .route(web::delete().to(users::delete_handler))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Groups")
                    .route(web::get().to(groups::list_handler))
                    .route(web::post().to(groups::create_handler))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Groups/.search")
                    .route(web::post().to(groups::search_handler))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Groups/{id}")
                    .route(web::get().to(groups::get_handler))
                    .route(web::put().to(groups::replace_handler))
                    .route(web::patch().to(groups::patch_handler))
                    .route(web::delete().to(groups::delete_handler))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Bulk")
                    .route(web::post().to(bulk::handler))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/ServiceProviderConfig")
                    .route(web::get().to(discovery::service_provider_config))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/ResourceTypes")
                    .route(web::get().to(discovery::resource_types))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/ResourceTypes/{name}")
                    .route(web::get().to(discovery::resource_type))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Schemas")
                    .route(web::get().to(discovery::schemas))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Schemas/{urn}")
                    .route(web::get().to(discovery::schema))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(web::resource("/Me").to(not_implemented_me))
            .service(web::resource("/.search").to(not_implemented_search))
            .default_service(web::to(no_such_endpoint)),
    );
}
