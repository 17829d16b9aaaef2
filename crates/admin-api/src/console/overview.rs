//! The console's home page: the organisation at a glance and what is left to set up.
use actix_web::cookie::{time::Duration, Cookie};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use app::console::overview::{load, Overview};
use minijinja::context;

use super::{ConsoleResult, ConsoleState, SetupOrAdmin};

pub async fn page(SetupOrAdmin(c): SetupOrAdmin) -> ConsoleResult {
    let ctx = match load(&c.st.store.db, &c.connection_actor()).await? {
        Overview::Setup {
            connections,
            mine_pending,
        } => context! {
            connections => connections.len(),
            enabled => connections.iter().filter(|x| x.enabled).count() + mine_pending,
        },
        Overview::Admin {
            connections,
            domains,
            scim_tokens,
            grants,
        } => {
            let now = c.st.clock.now_us();
            let live_tokens = scim_tokens
                .iter()
                .filter(|x| x.revoked_at.is_none() && x.expires_at > now)
                .count();
            context! {
                connections => connections.len(),
                enabled => connections.iter().filter(|x| x.enabled).count(),
                domains => domains.len(),
                verified_domains => domains.iter().filter(|d| d.verified).count(),
                scim_tokens => live_tokens,
                grants => grants.len(),
            }
        }
    };
    Ok(c.render("console/overview.html", "overview", ctx))
}

/// Signs out of the console: ends the Gatehouse session (and any setup session) in this browser.
/// Protected like every form: the token is derived from the session (or setup) cookie, so another
/// site cannot sign a person out.
pub async fn logout(
    st: web::Data<ConsoleState>,
    req: HttpRequest,
    body: web::Bytes,
) -> ConsoleResult {
    let form = super::form::Form::parse(&body)?;
    let session = req
        .cookie(&st.session_cookie())
        .map(|c| c.value().to_string());
    if !sign_out_verified(&st, &req, session.as_deref(), form.get("csrf")) {
        return Err(super::ConsoleError::page(
            actix_web::http::StatusCode::FORBIDDEN,
            "You are still signed in",
            "The sign-out could not be verified (it may have come from another site or an old tab).",
            "Reload the console and use its Sign out button.",
        ));
    }
    let setup = req
        .cookie(&st.setup_cookie())
        .map(|c| c.value().to_string());
    app::console::sign_out::sign_out(
        &st.store,
        st.clock.as_ref(),
        session.as_deref(),
        setup.as_deref(),
    )
    .await?;
    Ok(signed_out(&st))
}

/// Without a session or setup cookie there is nothing to protect; with one, the form's token
/// must be the one derived from it.
fn sign_out_verified(
    st: &ConsoleState,
    req: &HttpRequest,
    session: Option<&str>,
    presented: Option<&str>,
) -> bool {
    let presented = presented.unwrap_or_default();
    let setup = req
        .cookie(&st.setup_cookie())
        .map(|c| c.value().to_string());
    let matches = |kind: &str, cookie: Option<&str>| {
        cookie.is_some_and(|c| {
            authz_core::crypto::hashes_equal(presented, &super::auth::csrf_for(kind, c))
        })
    };
    (session.is_none() && setup.is_none())
        || matches("admin", session)
        || matches("setup", setup.as_deref())
}

/// Back to the console's front door, with the session and setup cookies cleared.
fn signed_out(st: &ConsoleState) -> HttpResponse {
    let mut resp = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin"))
        .finish();
    for name in [st.session_cookie(), st.setup_cookie()] {
        let gone = Cookie::build(name, "")
            .path("/")
            .secure(st.secure_cookies())
            .http_only(true)
            .max_age(Duration::seconds(0))
            .finish();
        let _ = resp.add_cookie(&gone);
    }
    resp
}
