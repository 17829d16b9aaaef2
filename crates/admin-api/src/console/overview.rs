//! The console's home page: the organisation at a glance and what is left to set up.
use actix_web::cookie::{time::Duration, Cookie};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use authz_core::admin::domain;
use authz_core::{connection, grant, scim_token, session};
use minijinja::context;

use super::{ConsoleResult, ConsoleState, SetupOrAdmin};

pub async fn page(SetupOrAdmin(c): SetupOrAdmin) -> ConsoleResult {
    let db = &c.st.store.db;
    let t = &c.tenant.id;
    let conns = connection::list(db, t).await?;
    if let super::auth::Principal::Setup { invitation } = &c.principal {
        let mine = connection::pending_for_invitation(db, t, &invitation.id).await?;
        return Ok(c.render(
            "console/overview.html",
            "overview",
            context! {
                connections => conns.len(),
                enabled => conns.iter().filter(|x| x.enabled).count() + mine.len(),
            },
        ));
    }
    let domains = domain::list(db, t).await?;
    let tokens = scim_token::list(db, t).await?;
    let now = c.st.clock.now_us();
    let live_tokens = tokens
        .iter()
        .filter(|x| x.revoked_at.is_none() && x.expires_at > now)
        .count();
    let grants = grant::list(db, t).await?;
    Ok(c.render(
        "console/overview.html",
        "overview",
        context! {
            connections => conns.len(),
            enabled => conns.iter().filter(|x| x.enabled).count(),
            domains => domains.len(),
            verified_domains => domains.iter().filter(|d| d.verified).count(),
            scim_tokens => live_tokens,
            grants => grants.len(),
        },
    ))
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
    let presented = form.get("csrf").unwrap_or_default();
    let session = req
        .cookie(&st.session_cookie())
        .map(|c| c.value().to_string());
    let setup = req
        .cookie(&st.setup_cookie())
        .map(|c| c.value().to_string());
    let matches = |kind: &str, cookie: &Option<String>| {
        cookie.as_ref().is_some_and(|c| {
            authz_core::crypto::hashes_equal(presented, &super::auth::csrf_for(kind, c))
        })
    };
    if (session.is_some() || setup.is_some())
        && !matches("admin", &session)
        && !matches("setup", &setup)
    {
        return Err(super::ConsoleError::page(
            actix_web::http::StatusCode::FORBIDDEN,
            "You are still signed in",
            "The sign-out could not be verified (it may have come from another site or an old tab).",
            "Reload the console and use its Sign out button.",
        ));
    }
    if let Some(c) = &session {
        if let Some(s) = session::find_active(&st.store.db, st.clock.as_ref(), c).await? {
            session::revoke_one(&st.store.db, st.clock.as_ref(), &s.tenant, &s.id).await?;
        }
    }
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
    Ok(resp)
}
