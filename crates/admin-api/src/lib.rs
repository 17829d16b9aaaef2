//! The admin REST API, `/admin/api/v1` (issue "console"; DESIGN §3): operator endpoints
//! authenticated by operator keys, tenant endpoints by a tenant-admin key of the tenant in the
//! path or by an admin console session (CSRF header and step-up for writes). Errors are `application/problem+json` (RFC 9457).
//! The OpenAPI 3.1 document at `/admin/api/v1/openapi.json` is generated from the handlers, and
//! the same list of handlers registers the routes ([`configure`]), so the document is the router.
//! `/admin/api/v1/docs` renders it as an HTML reference ([`reference`]).
use actix_web::{get, web, HttpResponse};
use authz_core::clock::SharedClock;
use authz_core::Store;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

pub mod access;
pub mod auth;
pub mod connections;
pub mod console;
pub mod error;
pub mod incident;
pub mod manage;
pub mod operator;
pub mod reference;
pub mod service_accounts;
pub mod settings;
pub mod tenant;
pub mod user_keys;

pub use error::Problem;

/// What the admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    pub store: Store,
    pub clock: SharedClock,
    /// The redirect-URI policy pre-registered clients are checked against.
    pub redirect_policy: authz_core::redirect::RedirectPolicy,
    /// The issuer is https: browser cookies carry the `__Host-` prefix (review F8).
    pub secure_cookies: bool,
    /// Requests per minute allowed to one API key or console session, counted in the shared
    /// database across nodes (`GATEHOUSE_RATE_ADMIN_API_PER_KEY_PER_MINUTE`; see [`auth`]).
    pub rate_per_key_per_minute: i64,
}

/// The default of [`AdminState::rate_per_key_per_minute`]: 20 a second, far above what a person
/// in the console or a provisioning script sends.
pub const DEFAULT_RATE_PER_KEY_PER_MINUTE: i64 = 1_200;

/// The API's base path; OpenAPI paths are relative to it (its `servers` entry).
pub const BASE: &str = "/admin/api/v1";

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every authenticated operation may answer 429 with `Retry-After` once its caller's key (or
/// console session) has used the minute's requests ([`AdminState::rate_per_key_per_minute`]).
struct RateLimited;

impl Modify for RateLimited {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Content, Header, ObjectBuilder, Ref, ResponseBuilder, Type};
        let too_many = ResponseBuilder::new()
            .description("Too many requests with this credential this minute")
            .header(
                "Retry-After",
                Header::new(ObjectBuilder::new().schema_type(Type::Integer)),
            )
            .content(
                error::PROBLEM_JSON,
                Content::new(Some(Ref::from_schema_name("Problem"))),
            )
            .build();
        for item in api.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                if op.security.is_some() {
                    op.responses
                        .responses
                        .entry("429".into())
                        .or_insert_with(|| too_many.clone().into());
                }
            }
        }
    }
}

/// The OpenAPI document (public: it describes, it grants nothing).
#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(ApiDoc::openapi().to_json().unwrap_or_default())
}

async fn not_found() -> Result<HttpResponse, Problem> {
    Err(Problem::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "no such admin API endpoint",
    ))
}

/// One list of handlers: it both registers the routes and generates the document.
macro_rules! admin_api {
    ($($handler:path),* $(,)?) => {
        #[derive(OpenApi)]
        #[openapi(
            info(title = "Gatehouse admin API", description = "Operator and tenant-admin endpoints. Errors are application/problem+json (RFC 9457). Send an operator or tenant-admin key as a bearer token; tenant endpoints also accept the admin console's session cookie, with the console page's CSRF token in X-CSRF-Token and a fresh IdP sign-in (15 minutes) for writes."),
            servers((url = "/admin/api/v1")),
            paths($($handler),*),
            components(schemas(Problem)),
            modifiers(&BearerAuth, &RateLimited),
        )]
        pub struct ApiDoc;

        /// Registers `/admin/api/v1/…`. The caller provides `web::Data<AdminState>`.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            cfg.service(
                web::scope(BASE)
                    .app_data(web::JsonConfig::default().limit(256 * 1024).error_handler(error::json_error))
                    .app_data(web::QueryConfig::default().error_handler(error::query_error))
                    .service(openapi_json)
                    .service(reference::api_reference)
                    $(.service($handler))*
                    .default_service(web::to(not_found)),
            );
        }
    };
}

admin_api!(
    operator::list_tenants,
    operator::create_tenant,
    operator::invite_admin,
    operator::list_resources,
    operator::register_resource,
    operator::rotate_resource_secret,
    operator::revoke_resource_secret,
    operator::catalogue::get_catalogue,
    operator::catalogue::update_catalogue,
    operator::catalogue::list_catalogue_versions,
    operator::list_clients,
    operator::register_client,
    tenant::list_users,
    tenant::revoke_user,
    tenant::list_user_apps,
    tenant::revoke_user_app,
    tenant::revoke_client,
    tenant::list_scim_tokens,
    tenant::create_scim_token,
    manage::scim_tokens::get_scim_token,
    manage::scim_tokens::update_scim_token,
    manage::scim_tokens::remove_scim_token,
    tenant::search_audit,
    access::list_grants,
    access::add_grant,
    access::list_connections,
    access::set_connection_state,
    access::get_connection_id_jag,
    access::put_connection_id_jag,
    settings::get_settings,
    settings::put_settings,
    settings::list_domains,
    settings::add_domain,
    settings::list_tenant_clients,
    settings::set_client_policy,
    user_keys::list_user_keys,
    user_keys::revoke_user_key,
    incident::incident_revoke_tenant,
    incident::incident_revoke_connection,
    incident::incident_revoke_client,
    incident::incident_suspend_tenant,
    incident::incident_resume_tenant,
    service_accounts::list_service_accounts,
    service_accounts::create_service_account,
    service_accounts::get_service_account,
    service_accounts::set_service_account_grants,
    service_accounts::rotate_service_account_secret,
    service_accounts::set_service_account_keys,
    service_accounts::disable_service_account,
    service_accounts::enable_service_account,
    service_accounts::remove_service_account,
    service_accounts::update_service_account,
    user_keys::get_user_key,
    user_keys::update_user_key,
    user_keys::remove_user_key,
    manage::admin_keys::list_admin_keys,
    manage::admin_keys::get_admin_key,
    manage::admin_keys::update_admin_key,
    manage::admin_keys::remove_admin_key,
    manage::admins::list_admins,
    manage::admins::get_admin,
    manage::admins::update_admin,
    manage::admins::remove_admin,
    manage::invitations::list_invitations,
    manage::invitations::get_invitation,
    manage::invitations::update_invitation,
    manage::invitations::remove_invitation,
    manage::domains::get_domain,
    manage::domains::update_domain,
    manage::domains::remove_domain,
    manage::grants::get_grant,
    manage::grants::update_grant,
    manage::grants::remove_grant,
    operator::tenants::get_tenant,
    operator::tenants::update_tenant,
    operator::tenants::remove_tenant,
    connections::create_connection,
    connections::get_connection,
    connections::update_connection,
    connections::remove_connection,
    operator::clients::get_client,
    operator::clients::update_client,
    operator::clients::remove_client,
    operator::resources::get_resource,
    operator::resources::update_resource,
    operator::resources::remove_resource,
    operator::keys::list_operator_keys,
    operator::keys::get_operator_key,
    operator::keys::update_operator_key,
    operator::keys::remove_operator_key,
);
