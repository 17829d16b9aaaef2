//! The development IdP's sign-in page (ADR 0017): Gatehouse's own form for a development
//! connection, reached by the redirect of [`app::sign_in::dev`]. Loopback issuers only; a
//! refusal is a 403 page saying what to do.
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use app::sign_in::dev::{self as use_case, DevForm, DevSubmitted, DevView};
use app::sign_in::{Restart, SignInError};
use minijinja::context;

use crate::browser;
use crate::pages::PageError;
use crate::params::Params;
use crate::state::AppState;
use crate::upstream::{completed, env, visitor};

fn render(state: &AppState, id: &str, v: &DevView) -> HttpResponse {
    let status = match v.error {
        Some(_) => StatusCode::UNAUTHORIZED,
        None => StatusCode::OK,
    };
    state.templates.page(
        status,
        "dev_sign_in.html",
        context! {
            action => use_case::page_path(id),
            organisation => v.organisation,
            connection_name => v.connection_name,
            state => v.state,
            email => v.email,
            error => v.error,
        },
    )
}

pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let p = Params::parse(req.query_string().as_bytes())
        .map_err(|_| SignInError::Restart(Restart::Malformed))?;
    let v = use_case::page(&env(&state), &path, p.get("state"), p.get("login_hint")).await?;
    Ok(render(&state, &path, &v))
}

pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    if browser::cross_site(&req) {
        return Err(SignInError::LoginFormUnverified.into());
    }
    let p = Params::parse(&body).map_err(|_| SignInError::Restart(Restart::Malformed))?;
    let binding = browser::existing_binding(&req);
    let session = browser::session_value(&state, &req);
    let form = DevForm {
        connection_id: &path,
        state: p.get("state"),
        email: p.get("email"),
        password: p.get("password"),
        binding: binding.as_deref(),
        current_session: session.as_deref(),
    };
    match use_case::submit(&env(&state), &visitor(&req), form).await? {
        DevSubmitted::Refused(v) => Ok(render(&state, &path, &v)),
        DevSubmitted::Done(done) => completed(&state, *done),
    }
}
