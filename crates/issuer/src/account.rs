//! The end-user page `/account`: who is signed in, the applications they allowed, and a way to
//! withdraw each one (consent forgotten, its tokens revoked at once). IdP-initiated SAML
//! sign-ins land here.
use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use authz_core::crypto::{hashes_equal, sha256_hex};
use authz_core::session::{self, Session};
use authz_core::{client, consent, resource, user};
use minijinja::context;

use crate::browser;
use crate::pages::PageError;
use crate::params::Params;
use crate::state::AppState;

fn csrf(cookie: &str) -> String {
    sha256_hex(&format!("account|{cookie}"))
}

async fn signed_in(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<(Session, String)>, PageError> {
    let Some(cookie) = browser::session_value(state, req) else {
        return Ok(None);
    };
    Ok(
        session::find_active(&state.store.db, state.clock.as_ref(), &cookie)
            .await?
            .map(|s| (s, cookie)),
    )
}

pub async fn page(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let Some((s, cookie)) = signed_in(&state, &req).await? else {
        return Ok(state.templates.page(
            StatusCode::OK,
            "account.html",
            context! { signed_in => false },
        ));
    };
    let u = user::get(&state.store.db, &s.tenant, &s.user_id).await?;
    let mut apps = Vec::new();
    for a in consent::list_for_user(&state.store.db, &s.tenant, &s.user_id).await? {
        let client_name = client::get(&state.store.db, &a.client_id)
            .await?
            .map(|c| c.client_name)
            .unwrap_or_else(|| a.client_id.clone());
        let res = resource::get(&state.store.db, &a.resource_id).await?;
        let fmt = |us: i64| {
            chrono::DateTime::from_timestamp_micros(us)
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default()
        };
        let granted = fmt(a.granted_at);
        let last_used = consent::last_used(
            &state.store.db,
            &s.tenant,
            &s.user_id,
            &a.client_id,
            &a.resource_id,
        )
        .await?
        .map(fmt);
        apps.push(context! {
            client_id => a.client_id,
            client_name => client_name,
            resource_id => a.resource_id,
            resource_name => res.display_name,
            scopes => a.scopes,
            granted => granted,
            last_used => last_used,
        });
    }
    Ok(state.templates.page(
        StatusCode::OK,
        "account.html",
        context! {
            signed_in => true,
            org => authz_core::tenant::get(&state.store.db, &s.tenant).await?.name,
            name => u.name.or(u.email.clone()).unwrap_or(u.subject),
            email => u.email,
            apps => apps,
            csrf => csrf(&cookie),
        },
    ))
}

pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let Some((s, cookie)) = signed_in(&state, &req).await? else {
        return Err(PageError::new(
            StatusCode::UNAUTHORIZED,
            "You are not signed in",
            "Your session has ended.",
            "Sign in again from an application.",
        ));
    };
    let p = Params::parse(&body).map_err(|e| {
        PageError::bad_request(
            "Nothing was changed",
            e.description,
            "Reload the page and try again.",
        )
    })?;
    if !p
        .get("csrf")
        .map(|c| hashes_equal(c, &csrf(&cookie)))
        .unwrap_or(false)
    {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Nothing was changed",
            "The form could not be verified.",
            "Reload the page and try again.",
        ));
    }
    let (Some(client_id), Some(resource_id)) = (p.get("client_id"), p.get("resource_id")) else {
        return Err(PageError::bad_request(
            "Nothing was changed",
            "The request named no application.",
            "Reload the page and try again.",
        ));
    };
    consent::revoke_app(
        &state.store,
        state.clock.as_ref(),
        &s.tenant,
        &s.user_id,
        client_id,
        resource_id,
        &format!("user:{}", s.user_id),
    )
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("{}/account", state.issuer())))
        .finish())
}

/// `POST /account/sign-out`: ends this browser's session (review F12: a shared machine must be
/// able to sign out). With `disconnect=1`, the apps this session connected lose their tokens
/// too; otherwise they keep working until their tokens expire or are revoked here.
pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let p = Params::parse(&body).map_err(|e| {
        PageError::bad_request(
            "Nothing was changed",
            e.description,
            "Reload the page and try again.",
        )
    })?;
    let back = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("{}/account", state.issuer())))
        .finish();
    let Some((s, cookie)) = signed_in(&state, &req).await? else {
        return Ok(back);
    };
    if browser::cross_site(&req)
        || !p
            .get("csrf")
            .map(|c| hashes_equal(c, &csrf(&cookie)))
            .unwrap_or(false)
    {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "You are still signed in",
            "The sign-out could not be verified (it may have come from another site or an old tab).",
            "Reload the page and use its Sign out button.",
        ));
    }
    authz_core::token::revoke::sign_out(
        &state.store,
        state.clock.as_ref(),
        &s,
        p.get("disconnect") == Some("1"),
    )
    .await?;
    let mut resp = back;
    resp.add_cookie(&browser::removal(
        &state,
        &browser::session_cookie_name(&state),
    ))
    .map_err(PageError::internal)?;
    Ok(resp)
}
