//! The MCP-facing OAuth 2.1 authorization server over HTTP (DESIGN §3–§4). Handlers are thin:
//! they extract, authenticate the caller, call one authz-core function and map the result to
//! the protocol's own error format.
mod account;
mod account_keys;
pub mod admin_login;
mod admin_test;
mod audit_events;
mod authorize;
mod browser;
mod callback;
mod cimd;
mod client_auth;
mod client_credentials;
mod client_redirect;
mod consent;
mod console_path;
mod dev_idp;
mod dpop;
mod error;
mod health;
mod introspect;
mod jwks;
mod jwks_cache;
mod limits;
mod login;
mod metadata;
mod node_limits;
mod nul;
mod origin;
mod pages;
mod params;
mod register;
mod resource_policy;
mod revoke;
mod saml_sp;
mod state;
mod switch;
mod token;
mod transaction;
mod upstream;

use actix_web::web;

pub use browser::binding_value as browser_binding;
pub use cimd::CimdError;
pub use pages::Templates;
pub use state::{AppState, IssuerConfig};

/// Largest request body any endpoint accepts (the ACS will raise its own limit).
pub const MAX_BODY: usize = 64 * 1024;

/// Registers every route of the issuer.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_BODY))
        .app_data(
            web::JsonConfig::default()
                .limit(MAX_BODY)
                .error_handler(error::json_payload_error),
        )
        // The hot endpoints first: the router tries routes in order, and each pattern with a
        // parameter before a match is a regex run (a profile of the token endpoint under load
        // spent 4 % of the node's CPU matching the routes registered before it).
        .route("/oauth/token", web::post().to(token::token))
        .route("/oauth/introspect", web::post().to(introspect::introspect))
        .route("/oauth/revoke", web::post().to(revoke::revoke))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/static/gatehouse.css", web::get().to(pages::stylesheet))
        .route(
            "/.well-known/oauth-authorization-server",
            web::get().to(metadata::authorization_server),
        )
        .route(
            "/.well-known/oauth-authorization-server/{tail:.*}",
            web::get().to(metadata::authorization_server),
        )
        .route("/.well-known/jwks.json", web::get().to(jwks::jwks))
        .route("/oauth/register", web::post().to(register::register))
        .route("/oauth/register/{client_id}", web::get().to(register::read))
        .route(
            "/oauth/register/{client_id}",
            web::put().to(register::update),
        )
        .route(
            "/oauth/register/{client_id}",
            web::delete().to(register::delete),
        )
        .route("/oauth/authorize", web::get().to(authorize::get))
        .route("/oauth/authorize", web::post().to(authorize::post))
        .route("/login", web::get().to(login::page))
        .route("/login", web::post().to(login::submit))
        .route(
            "/federation/saml/{connection_id}/metadata",
            web::get().to(saml_sp::metadata),
        )
        .service(
            web::resource("/federation/saml/{connection_id}/acs")
                .app_data(web::PayloadConfig::new(saml_sp::ACS_BODY_LIMIT))
                .route(web::post().to(saml_sp::acs)),
        )
        .route(
            "/federation/saml/{connection_id}/complete",
            web::get().to(saml_sp::complete),
        )
        .route(
            "/federation/saml/{connection_id}/complete",
            web::post().to(saml_sp::confirm),
        )
        .route(
            "/federation/oidc/{connection_id}/callback",
            web::get().to(callback::oidc),
        )
        .route(
            "/federation/dev/{connection_id}",
            web::get().to(dev_idp::page),
        )
        .route(
            "/federation/dev/{connection_id}",
            web::post().to(dev_idp::submit),
        )
        .route("/admin/t/{tenant}/login", web::get().to(admin_login::start))
        .route(
            "/admin/t/{tenant}/login",
            web::post().to(admin_login::submit),
        )
        .route("/account", web::get().to(account::page))
        .route("/account/revoke", web::post().to(account::revoke))
        .route("/account/sign-out", web::post().to(account::sign_out))
        .route("/account/sign-in", web::post().to(account::sign_in))
        .route("/account/keys/new", web::get().to(account_keys::new_page))
        .route("/account/keys", web::post().to(account_keys::create))
        .route(
            "/account/keys/{key_id}/revoke",
            web::post().to(account_keys::revoke),
        )
        .route("/session/switch", web::post().to(switch::submit))
        .route("/consent", web::get().to(consent::page))
        .route("/consent", web::post().to(consent::submit))
        .route("/audit/v1/events", web::post().to(audit_events::post))
        .route("/resources/v1/policy", web::get().to(resource_policy::get));
}

pub use node_limits::RateLimits;
pub use origin::AuditOrigin;
pub use saml_sp::SamlSettings;
