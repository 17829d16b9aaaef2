//! The upstream OIDC redirect URI. Validates `state` against the server-side login transaction
//! and the browser binding, redeems the code, validates the ID token, then finds or creates the
//! user by (connection, subject) and starts a Gatehouse session ([`app::sign_in::oidc`]).
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use app::sign_in::oidc::{self as use_case, Callback};
use app::sign_in::{Restart, SignInError};

use crate::browser;
use crate::pages::PageError;
use crate::params::Params;
use crate::state::AppState;
use crate::upstream::{completed, env, visitor};

pub async fn oidc(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let p = Params::parse(req.query_string().as_bytes())
        .map_err(|_| SignInError::Restart(Restart::Malformed))?;
    let upstream_state = p
        .get("state")
        .ok_or(SignInError::Restart(Restart::NoState))?;
    let binding = browser::existing_binding(&req);
    let session = browser::session_value(&state, &req);
    let cb = Callback {
        connection_id: &path,
        state: upstream_state,
        code: p.get("code"),
        error: p.get("error"),
        error_description: p.get("error_description"),
        binding: binding.as_deref(),
        current_session: session.as_deref(),
    };
    let done = use_case::callback(&env(&state), &visitor(&req), cb).await?;
    completed(&state, done)
}
