//! Admin console sign-in through the tenant's own SSO (issue "console" §2):
//! `GET /admin/t/{tenant}/login` shows what is about to happen and a button; its same-origin
//! POST starts a login transaction of purpose `admin` (or `test_connection`) and sends the
//! browser to one of the tenant's connections. The rules (which connections, who may test,
//! invitations) are [`app::sign_in::console`]; this parses, checks the form and renders.
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use app::sign_in::console::{self as use_case, ConsoleCookies, ConsoleSignIn, Plan};
use authz_core::session;
use minijinja::context;

use crate::browser;
use crate::pages::PageError;
use crate::state::AppState;
use crate::upstream::env;

/// The console sign-in's query (and form fields).
pub type LoginQuery = use_case::ConsoleQuery;

/// The setup-only session cookie of an accepted invitation (named by the console, which sets it).
fn setup_cookie_name(state: &AppState) -> String {
    session::cookie_name("gh_setup", state.config.secure_cookies())
}

/// The cookie values a console sign-in looks at: the setup session and the session.
struct Jar(Option<String>, Option<String>);

impl Jar {
    fn of(state: &AppState, req: &HttpRequest) -> Self {
        let setup = req
            .cookie(&setup_cookie_name(state))
            .map(|c| c.value().to_string());
        Jar(setup, browser::session_value(state, req))
    }
    fn cookies(&self) -> ConsoleCookies<'_> {
        ConsoleCookies {
            setup: self.0.as_deref(),
            session: self.1.as_deref(),
        }
    }
}

fn form_error(e: crate::error::OAuthError) -> PageError {
    PageError::bad_request(
        "Sign-in cannot continue",
        e.description,
        "Go back to the console and try again.",
    )
}

/// The form's fields, as the page's query would carry them.
fn query_of(form: &crate::params::Params) -> LoginQuery {
    let field = |k: &str| form.get(k).map(str::to_string);
    LoginQuery {
        connection: field("connection"),
        step_up: field("step_up"),
        test: field("test"),
        return_to: field("return"),
    }
}

fn form_csrf(binding: &str, slug: &str) -> String {
    browser::csrf(binding, &format!("admin-login|{slug}"))
}

/// The sign-in page: what is about to happen, and a button. It never leaves for an IdP by
/// itself: a third party can start any GET (review F1); only the person's same-origin POST does.
fn render(state: &AppState, req: &HttpRequest, p: &Plan) -> Result<HttpResponse, PageError> {
    if p.unknown_connection {
        return Err(PageError::bad_request(
            "This sign-in method is not available",
            "The connection does not exist or is disabled.",
            "Go back to the console and choose an enabled connection.",
        ));
    }
    let (binding, new_cookie) = browser::binding(state, req);
    let chosen = p.chosen.map(|i| &p.conns[i]);
    let t = &p.tenant;
    let mut resp = state.templates.page(
        StatusCode::OK,
        "admin_login.html",
        context! {
            tenant_name => t.name,
            slug => t.slug,
            setup => p.setup.is_some(),
            csrf => form_csrf(&binding, &t.slug),
            test => p.test,
            step_up => p.step_up,
            back => p.return_to.clone(),
            chosen => chosen.map(|c| context! { id => c.id, name => c.name, kind => c.kind }),
            connections => p.conns.iter().map(|c| context! { id => c.id, name => c.name, kind => c.kind }).collect::<Vec<_>>(),
        },
    );
    if let Some(c) = new_cookie {
        resp.add_cookie(&c).map_err(PageError::internal)?;
    }
    Ok(resp)
}

/// `GET /admin/t/{tenant}/login`: the console's sign-in page (see [`render`]).
pub async fn start(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LoginQuery>,
) -> Result<HttpResponse, PageError> {
    let (jar, safe) = (Jar::of(&state, &req), crate::console_path::safe_return);
    let p = use_case::plan(&env(&state), &path, &q, jar.cookies(), safe).await?;
    render(&state, &req, &p)
}

/// `POST /admin/t/{tenant}/login`: the person's click starts the sign-in at the connection.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = crate::params::Params::parse(&body).map_err(form_error)?;
    let (q, jar) = (query_of(&form), Jar::of(&state, &req));
    let binding = browser::existing_binding(&req);
    let verified = |slug: &str| {
        let b = binding.as_deref().unwrap_or_default();
        let token = form.get("csrf").unwrap_or("");
        authz_core::crypto::hashes_equal(&form_csrf(b, slug), token) && !browser::cross_site(&req)
    };
    let safe = crate::console_path::safe_return;
    let started = use_case::sign_in(
        &env(&state),
        &path,
        &q,
        jar.cookies(),
        safe,
        binding.as_deref(),
        verified,
    )
    .await?;
    match started {
        ConsoleSignIn::Redirect(url) => Ok(HttpResponse::SeeOther()
            .insert_header((actix_web::http::header::LOCATION, url))
            .finish()),
        ConsoleSignIn::Page(p) => render(&state, &req, &p),
    }
}
