//! The tenant admin console (issue "console" §3): server-rendered pages from `web/templates/
//! console/`, under `/admin/t/{tenant}/…`, for a tenant admin signed in through the tenant's own
//! SSO (or, for connections only, an invitee's setup-only session). Handlers are thin: they take
//! an authenticated extractor ([`auth`]), call one use case of the application layer (`app`,
//! with the extractor's [`Console::principal`]) or one authz-core read, and render.
//!
//! Every route is declared once in [`console_routes!`], which registers it and lists it in
//! [`ROUTES`] with the access it needs; the authorization tests walk that list.
use std::sync::Arc;

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpResponse, ResponseError};
use authz_core::audit::VerifyingKey;
use authz_core::clock::SharedClock;
use authz_core::crypto::MasterKey;
use authz_core::Store;
use minijinja::Environment;
use safe_fetch::SafeFetcher;
use serde::Serialize;

pub mod admin_keys;
pub mod apps;
pub mod audit;
pub mod auth;
pub mod connection_guide;
pub mod connection_remove;
pub mod connections;
pub mod dns;
pub mod domains;
pub mod form;
pub mod grants;
pub mod invitations;
pub mod objects;
pub mod operator;
pub mod overview;
pub mod people;
pub mod scim;
pub mod scim_tokens;
pub mod service_accounts;
pub mod settings;
pub mod user_keys;
pub mod users;

pub use auth::{Access, Admin, AdminWrite, Console, SetupOrAdmin, SetupOrAdminWrite};

/// What the console handlers share.
#[derive(Clone)]
pub struct ConsoleState {
    pub store: Store,
    pub clock: SharedClock,
    /// The public issuer URL (values the admin pastes into the IdP, SCIM base URL).
    pub issuer: String,
    pub master_key: Arc<MasterKey>,
    /// The operator's fetcher (`GATEHOUSE_FETCH_ALLOW_CIDRS`, `GATEHOUSE_FETCH_CA_FILE`): for
    /// URLs the operator configured. Never for a URL typed in the console.
    pub fetcher: SafeFetcher,
    /// Fetches URLs a tenant admin or a setup session types (OIDC discovery, SAML metadata):
    /// SSRF-guarded, public addresses and public roots only (review F3).
    pub public_fetcher: SafeFetcher,
    /// Keys the audit checkpoints are verified with.
    pub audit_keys: Arc<Vec<VerifyingKey>>,
    /// Where DNS TXT verification asks.
    pub dns: dns::Resolver,
    pub templates: Arc<Templates>,
}

impl ConsoleState {
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    pub fn session_cookie(&self) -> String {
        authz_core::session::cookie_name(auth::SESSION_BASE, self.secure_cookies())
    }

    /// The setup-only session of an accepted invitation (`Path=/`: the `__Host-` prefix needs it).
    pub fn setup_cookie(&self) -> String {
        authz_core::session::cookie_name(auth::SETUP_BASE, self.secure_cookies())
    }
}

pub struct Templates {
    env: Environment<'static>,
}

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../../../web/templates/", $name)))),*]
    };
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        for (name, src) in templates!(
            "console/layout.html",
            "console/message.html",
            "console/overview.html",
            "console/connections.html",
            "console/connection_new.html",
            "console/connection_choose.html",
            "console/connection_guide.html",
            "console/connection_edit.html",
            "console/domains.html",
            "console/scim.html",
            "console/secret.html",
            "console/service_accounts.html",
            "console/service_account.html",
            "console/service_account_secret.html",
            "console/apps.html",
            "console/clients.html",
            "console/users.html",
            "console/user.html",
            "console/audit.html",
            "console/audit_event.html",
            "console/settings.html",
            "console/invitation.html",
            "console/start.html",
            "console/user_keys.html",
            "console/confirm_remove.html",
            "console/object.html",
            "console/objects.html",
            "console/operator.html",
        ) {
            env.add_template(name, src)
                .expect("embedded console templates parse");
        }
        Templates { env }
    }

    /// A rendered page, with the console's CSP (its small script is same-origin).
    pub fn page(&self, status: StatusCode, name: &str, ctx: impl Serialize) -> HttpResponse {
        match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(html) => HttpResponse::build(status)
                .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
                .body(html),
            Err(e) => {
                tracing::error!(code = "CONSOLE0001", error = %e, template = name, "console template rendering failed");
                HttpResponse::InternalServerError()
                    .content_type("text/plain")
                    .body("The page could not be displayed.")
            }
        }
    }
}

/// Same as the issuer's pages, plus same-origin scripts (copy buttons, confirmations).
pub const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A console failure a person can act on: a page with what happened and what to do, or a
/// redirect (to sign in).
#[derive(Debug)]
pub enum ConsoleError {
    Page {
        status: StatusCode,
        title: String,
        message: String,
        hint: String,
        /// A button to follow, e.g. ("Sign in again", url).
        action: Option<(String, String)>,
    },
    Redirect(String),
}

impl ConsoleError {
    pub fn page(status: StatusCode, title: &str, message: impl Into<String>, hint: &str) -> Self {
        ConsoleError::Page {
            status,
            title: title.into(),
            message: message.into(),
            hint: hint.into(),
            action: None,
        }
    }
    pub fn with_action(self, label: &str, url: String) -> Self {
        match self {
            ConsoleError::Page {
                status,
                title,
                message,
                hint,
                ..
            } => ConsoleError::Page {
                status,
                title,
                message,
                hint,
                action: Some((label.into(), url)),
            },
            other => other,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::page(
            StatusCode::BAD_REQUEST,
            "Nothing was changed",
            message,
            "Go back, correct the form and try again.",
        )
    }
    pub fn not_found(what: &str) -> Self {
        Self::page(
            StatusCode::NOT_FOUND,
            "Not found",
            format!("The {what} does not exist in this organisation."),
            "Go back to the list and pick it again.",
        )
    }
}

impl std::fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConsoleError::Page { title, message, .. } => write!(f, "{title}: {message}"),
            ConsoleError::Redirect(u) => write!(f, "redirect to {u}"),
        }
    }
}

thread_local! {
    static ERROR_TEMPLATES: Templates = Templates::new();
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::Page { status, .. } => *status,
            ConsoleError::Redirect(_) => StatusCode::SEE_OTHER,
        }
    }
    fn error_response(&self) -> HttpResponse {
        match self {
            ConsoleError::Redirect(url) => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, url.as_str()))
                .finish(),
            ConsoleError::Page {
                status,
                title,
                message,
                hint,
                action,
            } => {
                let mut r = ERROR_TEMPLATES.with(|t| {
                    t.page(
                        *status,
                        "console/message.html",
                        minijinja::context! {
                            title => title, message => message, hint => hint,
                            action => action.as_ref().map(|(l, u)| minijinja::context! { label => l, url => u }),
                            error => true,
                        },
                    )
                });
                // Every 503 (the database out of reach, ADR 0019) says when to come back.
                if *status == StatusCode::SERVICE_UNAVAILABLE {
                    r.headers_mut().insert(
                        header::RETRY_AFTER,
                        header::HeaderValue::from(authz_core::error::RETRY_AFTER_SECS),
                    );
                }
                r
            }
        }
    }
}

impl From<authz_core::CoreError> for ConsoleError {
    fn from(e: authz_core::CoreError) -> Self {
        use authz_core::CoreError as E;
        match e {
            E::Invalid(m) => ConsoleError::bad_request(m),
            E::Conflict(m) => ConsoleError::page(
                StatusCode::CONFLICT,
                "Nothing was changed",
                m,
                "Reload the page to see the current state, then try again.",
            ),
            E::NotFound(what) => ConsoleError::not_found(what),
            E::Denied(m) => ConsoleError::page(
                StatusCode::FORBIDDEN,
                "Not allowed",
                m,
                "Ask another administrator of your organisation, or your Gatehouse operator.",
            ),
            other if other.is_unavailable() => {
                authz_core::error::log_unavailable(&other);
                ConsoleError::page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Temporarily unavailable",
                    "Gatehouse cannot complete this step right now; nothing was changed.",
                    "Wait a few seconds, then reload the page.",
                )
            }
            other => {
                tracing::error!(code = "CONSOLE0500", error = %other, "console request failed");
                ConsoleError::page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Gatehouse could not complete this step; nothing was changed.",
                    "Try again in a moment. If it keeps happening, tell your Gatehouse operator the time it happened.",
                )
            }
        }
    }
}

pub type ConsoleResult = Result<HttpResponse, ConsoleError>;

/// A refused form shown again (issue 16 §3): the field the error is about, the message, and
/// what the admin typed (never a secret).
#[derive(Debug, Default, Serialize)]
pub struct InlineError {
    /// 400, or 409 for a conflict (the page is answered with it).
    #[serde(skip)]
    pub status: StatusCode,
    pub field: &'static str,
    pub message: String,
    pub values: std::collections::BTreeMap<String, String>,
}

impl InlineError {
    /// A client's mistake (400, 409, or 404 for something the form named) becomes an inline
    /// error on `field`, keeping `keep`; anything else (the database away, our fault) stays the
    /// error page.
    pub fn of(
        e: ConsoleError,
        field: &'static str,
        f: &form::Form,
        keep: &[&str],
    ) -> Result<InlineError, ConsoleError> {
        match e {
            ConsoleError::Page {
                status, message, ..
            } if matches!(
                status,
                StatusCode::BAD_REQUEST | StatusCode::CONFLICT | StatusCode::NOT_FOUND
            ) =>
            {
                // What the form named does not exist: the form was wrong (400), not the page.
                let status = if status == StatusCode::NOT_FOUND {
                    StatusCode::BAD_REQUEST
                } else {
                    status
                };
                let values = keep
                    .iter()
                    .filter_map(|k| f.get(k).map(|v| (k.to_string(), v.to_string())))
                    .collect();
                Ok(InlineError {
                    status,
                    field,
                    message,
                    values,
                })
            }
            other => Err(other),
        }
    }
}

/// 303 to a console page of the tenant (after a successful write: reload-safe).
pub fn see_other(slug: &str, path: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/admin/t/{slug}{path}")))
        .finish()
}

/// The page that asks before a removal and says what it revokes (issue 16 §2): `what` names
/// the kind ("connection"), `name` the object, `action` the path (below the tenant) the
/// confirmed form posts to with `confirm=yes`, `back` where Cancel goes.
pub fn confirm_removal(
    c: &Console,
    nav: &str,
    what: &str,
    name: &str,
    impact: &app::removal::Impact,
    action: &str,
    back: &str,
) -> HttpResponse {
    let slug = c.slug();
    c.render(
        "console/confirm_remove.html",
        nav,
        minijinja::context! {
            what => what,
            name => name,
            impact => impact.lines(),
            action => format!("/admin/t/{slug}{action}"),
            back => format!("/admin/t/{slug}{back}"),
        },
    )
}

/// One route of the console: method, path below `/admin/t/{tenant}`, access it needs, and the
/// object operations (`kind.op`, e.g. `domain.remove`) it offers: the surface-parity test
/// compares these with the CLI's subcommands and the admin API's operation ids (issue 16 §2).
#[derive(Clone, Copy, Debug)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub ops: &'static [&'static str],
}

macro_rules! console_routes {
    ($($method:ident $path:literal $access:ident $([$($op:literal),+])? => $handler:path;)*) => {
        /// Every tenant route of the console (the authorization tests walk this list).
        pub const ROUTES: &[Route] = &[$(Route { method: stringify!($method), path: $path, access: Access::$access, ops: &[$($($op),+)?] }),*];

        /// Registers the console. The caller provides `web::Data<ConsoleState>`.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            cfg.route("/admin", web::get().to(invitations::start_page))
                .route("/admin", web::post().to(invitations::start_submit))
                .route("/admin/", web::get().to(invitations::start_page))
                .route("/admin/invitations/{token}", web::get().to(invitations::show))
                .route("/admin/invitations/{token}", web::post().to(invitations::accept))
                .route("/admin/logout", web::post().to(overview::logout))
                .route("/static/console.js", web::get().to(script))
                .configure(operator::configure)
                $(.route(concat!("/admin/t/{tenant}", $path), web::method(Method::$method).to($handler)))*;
        }
    };
}

console_routes! {
    GET "/" Setup ["tenant.show"] => overview::page;
    GET "/connections" Setup ["connection.list"] => connections::list;
    GET "/connections/new" Setup => connections::new_form;
    POST "/connections/oidc" Setup => connections::create_oidc;
    POST "/connections/saml" Setup => connections::create_saml;
    GET "/connections/{connection_id}" Admin ["connection.show"] => connections::edit_form;
    POST "/connections/{connection_id}" Admin ["connection.update"] => connections::update;
    POST "/connections/{connection_id}/state" Admin => connections::set_state;
    POST "/connections/{connection_id}/id-jag" Admin => connections::set_id_jag;
    GET "/connections/{connection_id}/remove" Admin => connection_remove::confirm;
    POST "/connections/{connection_id}/remove" Admin ["connection.remove"] => connection_remove::remove;
    GET "/domains" Admin ["domain.list"] => domains::list;
    POST "/domains" Admin => domains::add;
    GET "/domains/{domain}" Admin ["domain.show"] => domains::show;
    POST "/domains/{domain}/verify" Admin ["domain.update"] => domains::verify;
    GET "/domains/{domain}/remove" Admin => domains::confirm_remove;
    POST "/domains/{domain}/remove" Admin ["domain.remove"] => domains::remove;
    GET "/scim" Admin ["scim-token.list"] => scim::page;
    POST "/scim/tokens" Admin => scim::create;
    POST "/scim/tokens/{token_id}/rotate" Admin => scim::rotate;
    GET "/scim/tokens/{token_id}" Admin ["scim-token.show"] => scim_tokens::show;
    POST "/scim/tokens/{token_id}" Admin ["scim-token.update"] => scim_tokens::update;
    GET "/scim/tokens/{token_id}/revoke" Admin => scim_tokens::confirm_remove;
    POST "/scim/tokens/{token_id}/revoke" Admin ["scim-token.remove"] => scim_tokens::remove;
    GET "/apps" Admin ["resource.list", "grant.list"] => apps::page;
    POST "/apps/grants" Admin => apps::grant;
    POST "/apps/grants/remove" Admin => apps::remove_grant;
    GET "/apps/grants/{grant_id}" Admin ["grant.show"] => grants::show;
    POST "/apps/grants/{grant_id}" Admin ["grant.update"] => grants::update;
    GET "/apps/grants/{grant_id}/remove" Admin => grants::confirm_remove;
    POST "/apps/grants/{grant_id}/remove" Admin ["grant.remove"] => grants::remove;
    GET "/clients" Admin ["client.list"] => apps::clients;
    POST "/clients/policy" Admin ["client.update"] => apps::set_policy;
    POST "/clients/revoke" Admin => apps::revoke_client;
    GET "/service-accounts" Admin ["service-account.list"] => service_accounts::list;
    POST "/service-accounts" Admin => service_accounts::create;
    GET "/service-accounts/{account_id}" Admin ["service-account.show"] => service_accounts::show;
    POST "/service-accounts/{account_id}/rotate" Admin => service_accounts::rotate;
    POST "/service-accounts/{account_id}/keys" Admin => service_accounts::set_keys;
    POST "/service-accounts/{account_id}/grants" Admin ["service-account.update"] => service_accounts::set_grants;
    POST "/service-accounts/{account_id}/state" Admin => service_accounts::set_state;
    GET "/service-accounts/{account_id}/remove" Admin => service_accounts::confirm_remove;
    POST "/service-accounts/{account_id}/remove" Admin ["service-account.remove"] => service_accounts::remove;
    GET "/users" Admin => users::list;
    GET "/users/{user_id}" Admin => users::show;
    POST "/users/{user_id}/revoke" Admin => users::revoke_all;
    POST "/users/{user_id}/apps/revoke" Admin => users::revoke_app;
    POST "/users/{user_id}/sessions/revoke" Admin => users::revoke_session;
    GET "/user-keys" Admin ["user-key.list"] => user_keys::list;
    GET "/user-keys/{key_id}" Admin ["user-key.show"] => user_keys::show;
    POST "/user-keys/{key_id}" Admin ["user-key.update"] => user_keys::update;
    GET "/user-keys/{key_id}/revoke" Admin => user_keys::confirm_remove;
    POST "/user-keys/{key_id}/revoke" Admin ["user-key.remove"] => user_keys::revoke;
    GET "/admin-keys" Admin ["admin-key.list"] => admin_keys::list;
    POST "/admin-keys" Admin => admin_keys::create;
    GET "/admin-keys/{key_id}" Admin ["admin-key.show"] => admin_keys::show;
    POST "/admin-keys/{key_id}" Admin ["admin-key.update"] => admin_keys::update;
    GET "/admin-keys/{key_id}/remove" Admin => admin_keys::confirm_remove;
    POST "/admin-keys/{key_id}/remove" Admin ["admin-key.remove"] => admin_keys::remove;
    GET "/audit" Admin => audit::page;
    GET "/audit/export.csv" Admin => audit::export_csv;
    GET "/audit/export.jsonl" Admin => audit::export_jsonl;
    GET "/audit/events/{event_id}" Admin => audit::event;
    GET "/settings" Admin => settings::page;
    POST "/settings" Admin ["tenant.update"] => settings::save;
    POST "/settings/admins/invite" Admin => settings::invite;
    GET "/admins" Admin ["admin.list"] => people::admins;
    GET "/admins/{user_id}" Admin ["admin.show"] => people::admin;
    POST "/admins/{user_id}" Admin ["admin.update"] => people::update_admin;
    GET "/settings/admins/{user_id}/remove" Admin => people::confirm_remove_admin;
    POST "/settings/admins/{user_id}/remove" Admin ["admin.remove"] => people::remove_admin;
    GET "/invitations" Admin ["invitation.list"] => people::invitations;
    GET "/invitations/{invitation_id}" Admin ["invitation.show"] => people::invitation;
    POST "/invitations/{invitation_id}" Admin ["invitation.update"] => people::extend_invitation;
    GET "/settings/invitations/{invitation_id}/revoke" Admin => people::confirm_revoke_invitation;
    POST "/settings/invitations/{invitation_id}/revoke" Admin ["invitation.remove"] => people::revoke_invitation;
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../../../web/static/console.js"))
}

/// Microseconds as a readable UTC time.
pub fn when(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}
