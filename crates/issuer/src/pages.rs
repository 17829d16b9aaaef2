//! Server-rendered pages (templates in `web/`, embedded at build time) and the browser security
//! headers of DESIGN §6.8.
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use minijinja::Environment;
use serde::Serialize;

pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        for (name, src) in [
            (
                "layout.html",
                include_str!("../../../web/templates/layout.html"),
            ),
            (
                "login.html",
                include_str!("../../../web/templates/login.html"),
            ),
            (
                "consent.html",
                include_str!("../../../web/templates/consent.html"),
            ),
            (
                "error.html",
                include_str!("../../../web/templates/error.html"),
            ),
            (
                "account.html",
                include_str!("../../../web/templates/account.html"),
            ),
            (
                "account_key_new.html",
                include_str!("../../../web/templates/account_key_new.html"),
            ),
            (
                "account_key_created.html",
                include_str!("../../../web/templates/account_key_created.html"),
            ),
            (
                "confirm.html",
                include_str!("../../../web/templates/confirm.html"),
            ),
            (
                "admin_login.html",
                include_str!("../../../web/templates/admin_login.html"),
            ),
            (
                "switch.html",
                include_str!("../../../web/templates/switch.html"),
            ),
            (
                "admin_test.html",
                include_str!("../../../web/templates/admin_test.html"),
            ),
            (
                "dev_sign_in.html",
                include_str!("../../../web/templates/dev_sign_in.html"),
            ),
        ] {
            env.add_template(name, src)
                .expect("embedded templates parse");
        }
        Templates { env }
    }

    pub fn render(&self, name: &str, ctx: impl Serialize) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }

    /// A rendered page, or a plain fallback if rendering failed (logged, never a 500 stack).
    pub fn page(&self, status: StatusCode, name: &str, ctx: impl Serialize) -> HttpResponse {
        match self.render(name, ctx) {
            Ok(html) => HttpResponse::build(status)
                .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .body(html),
            Err(e) => {
                tracing::error!(code = "PAGE0001", error = %e, template = name, "template rendering failed");
                HttpResponse::InternalServerError()
                    .content_type("text/plain")
                    .body("The page could not be displayed.")
            }
        }
    }
}

/// A page telling a person what went wrong and what to do next. Used wherever redirecting
/// back to the client would be unsafe (unknown client, unvalidated redirect URI).
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub title: String,
    pub message: String,
    pub hint: String,
    /// `Retry-After` seconds, on every 429.
    pub retry_after: Option<i64>,
}

impl PageError {
    pub fn new(status: StatusCode, title: &str, message: impl Into<String>, hint: &str) -> Self {
        PageError {
            status,
            title: title.into(),
            message: message.into(),
            hint: hint.into(),
            retry_after: None,
        }
    }
    /// A 429 page that also tells the browser or client when to come back (RFC 6585 §4).
    pub fn too_many(title: &str, message: &str, hint: &str, retry_after_secs: i64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, title, message, hint);
        e.retry_after = Some(retry_after_secs);
        e
    }
    pub fn bad_request(title: &str, message: impl Into<String>, hint: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, title, message, hint)
    }
    /// The database is out of reach (ADR 0019): a 503 page that says to try again in a moment,
    /// with `Retry-After`; logged once as `DB0503` at WARN.
    pub fn unavailable(err: impl std::fmt::Display) -> Self {
        authz_core::error::log_unavailable(&err);
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "Gatehouse cannot complete this step right now; nothing was changed.",
            "Wait a few seconds, then reload the page or start signing in again from your application.",
        );
        e.retry_after = Some(authz_core::error::RETRY_AFTER_SECS);
        e
    }
    /// Our own fault, logged at ERROR; the database out of reach is
    /// [`PageError::unavailable`] instead.
    pub fn internal<E: std::fmt::Display + 'static>(err: E) -> Self {
        if authz_core::error::any_unavailable(&err) {
            return Self::unavailable(err);
        }
        tracing::error!(code = "PAGE0500", error = %err, "internal error on a browser page");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "Gatehouse could not complete this step.",
            "Try again in a moment. If it keeps happening, tell your administrator the time it happened.",
        )
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.title, self.message)
    }
}

thread_local! {
    static ERROR_TEMPLATES: Templates = Templates::new();
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let mut r = ERROR_TEMPLATES.with(|t| {
            t.page(
                self.status,
                "error.html",
                minijinja::context! { title => self.title, message => self.message, hint => self.hint },
            )
        });
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(s),
            );
        }
        r
    }
}

impl From<authz_core::CoreError> for PageError {
    fn from(e: authz_core::CoreError) -> Self {
        use authz_core::CoreError as E;
        match e {
            E::Invalid(m) | E::Conflict(m) => PageError::bad_request(
                "Sign-in cannot continue",
                m,
                "Go back to the application and start signing in again.",
            ),
            E::NotFound(what) => PageError::bad_request(
                "Sign-in cannot continue",
                format!("The {what} was not found or has expired."),
                "Go back to the application and start signing in again.",
            ),
            E::Denied(m) => PageError::new(
                StatusCode::FORBIDDEN,
                "Access refused",
                m,
                "Ask your IT administrator if you think you should have access.",
            ),
            other => PageError::internal(other),
        }
    }
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../../web/static/gatehouse.css"))
}
