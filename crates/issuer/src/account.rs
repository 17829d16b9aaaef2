//! The end-user page `/account`: who is signed in, the applications they allowed, and a way to
//! withdraw each one (consent forgotten, its tokens revoked at once). IdP-initiated SAML
//! sign-ins land here. The actions are the use cases `app::account::{overview, revoke,
//! sign_out}`; this module checks the session cookie and the form's CSRF token, and renders.
use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use app::account::overview::Overview;
use app::SignedInUser;
use authz_core::crypto::{hashes_equal, sha256_hex};
use authz_core::personal_key::PersonalKey;
use minijinja::context;

use crate::browser;
use crate::pages::PageError;
use crate::params::Params;
use crate::state::AppState;

pub(crate) fn csrf(cookie: &str) -> String {
    sha256_hex(&format!("account|{cookie}"))
}

pub(crate) fn csrf_matches(p: &Params, cookie: &str) -> bool {
    p.get("csrf")
        .map(|c| hashes_equal(c, &csrf(cookie)))
        .unwrap_or(false)
}

/// The person of this browser's live session, and the cookie value the CSRF token derives from.
pub(crate) async fn signed_in(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<(SignedInUser, String)>, PageError> {
    let Some(cookie) = browser::session_value(state, req) else {
        return Ok(None);
    };
    Ok(browser::live_session(state, req).await?.map(|s| {
        let user = SignedInUser::from_verified_session(s);
        (user, cookie)
    }))
}

pub(crate) fn parse(body: &Bytes) -> Result<Params, PageError> {
    Params::parse(body).map_err(|e| {
        PageError::bad_request(
            "Nothing was changed",
            e.description,
            "Reload the page and try again.",
        )
    })
}

pub(crate) fn back_to_account(state: &AppState) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("{}/account", state.issuer())))
        .finish()
}

/// The form token of the account page's "Sign in" button, bound to this browser.
const SIGN_IN_FORM: &str = "account-sign-in";

/// A page to come back to after a direct sign-in: an `/account` page of this issuer, nothing
/// else (no open redirect).
pub(crate) fn safe_return(path: &str) -> bool {
    (path == "/account" || path.starts_with("/account/") || path.starts_with("/account?"))
        && !path.contains("//")
        && !path.contains('\\')
        && !path.contains("..")
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.?=&%+".contains(c))
}

/// The account page of a browser with no session: a button that starts a direct sign-in
/// (issue 16 §3). `back` is the `/account…` page the person wanted (the key hand-off page).
pub(crate) fn sign_in_page(
    state: &AppState,
    req: &HttpRequest,
    back: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let (binding, new_cookie) = browser::binding(state, req);
    let mut resp = state.templates.page(
        StatusCode::OK,
        "account.html",
        context! {
            signed_in => false,
            csrf => browser::csrf(&binding, SIGN_IN_FORM),
            back => back.filter(|b| safe_return(b)),
        },
    );
    if let Some(c) = new_cookie {
        resp.add_cookie(&c).map_err(PageError::internal)?;
    }
    Ok(resp)
}

/// `POST /account/sign-in`: the person's click starts a sign-in of purpose `account` and the
/// login page takes over (work email, the organisation's IdP). Only a same-origin form of
/// this browser may start one (a third party can make a browser post anywhere).
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let p = parse(&body)?;
    let binding = browser::existing_binding(&req);
    if !browser::csrf_ok(&req, SIGN_IN_FORM, p.get("csrf")) {
        return Err(PageError::bad_request(
            "Sign-in cannot continue",
            "This form expired or did not come from this site.",
            "Reload the account page and try again.",
        ));
    }
    let back = p.get("back").filter(|b| safe_return(b)).map(str::to_string);
    let (env, visitor) = (crate::upstream::env(&state), crate::upstream::visitor(&req));
    let binding = binding.unwrap_or_default();
    let handle = app::sign_in::account::start(&env, &visitor, &binding, back).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("{}/login?tx={handle}", state.issuer()),
        ))
        .finish())
}

pub async fn page(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let Some((user, cookie)) = signed_in(&state, &req).await? else {
        return sign_in_page(&state, &req, None);
    };
    let overview = app::account::overview::overview(&state.store, &user).await?;
    let keys = app::api_keys::mine::list(&state.store, state.clock.as_ref(), &user).await?;
    Ok(render(&state, overview, keys, &cookie))
}

pub(crate) fn fmt(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn render(state: &AppState, o: Overview, keys: Vec<PersonalKey>, cookie: &str) -> HttpResponse {
    let keys: Vec<_> = keys
        .into_iter()
        .map(|k| {
            context! {
                id => k.id,
                name => k.name,
                prefix => k.display_prefix,
                client => k.client_label,
                resource => k.resource_name,
                resource_uri => k.resource_uri,
                scopes => k.scopes,
                created => fmt(k.created_at),
                expires => fmt(k.expires_at),
                last_used => k.last_used_at.map(fmt),
                status => k.status.as_str(),
            }
        })
        .collect();
    let apps: Vec<_> = o
        .apps
        .into_iter()
        .map(|a| {
            context! {
                client_id => a.client_id,
                client_name => a.client_name,
                resource_id => a.resource_id,
                resource_name => a.resource_name,
                scopes => a.scopes,
                granted => fmt(a.granted_at),
                last_used => a.last_used.map(fmt),
            }
        })
        .collect();
    state.templates.page(
        StatusCode::OK,
        "account.html",
        context! {
            signed_in => true,
            org => o.org_name,
            name => o.name,
            email => o.email,
            apps => apps,
            keys => keys,
            csrf => csrf(cookie),
        },
    )
}

pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let Some((user, cookie)) = signed_in(&state, &req).await? else {
        return Err(PageError::new(
            StatusCode::UNAUTHORIZED,
            "You are not signed in",
            "Your session has ended.",
            "Sign in again from an application.",
        ));
    };
    let p = parse(&body)?;
    if !csrf_matches(&p, &cookie) {
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
    let clock = state.clock.as_ref();
    app::account::revoke::revoke(&state.store, clock, &user, client_id, resource_id).await?;
    Ok(back_to_account(&state))
}

/// `POST /account/sign-out`: ends this browser's session (review F12: a shared machine must be
/// able to sign out). With `disconnect=1`, the apps this session connected lose their tokens
/// too; otherwise they keep working until their tokens expire or are revoked here.
pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let p = parse(&body)?;
    let Some((user, cookie)) = signed_in(&state, &req).await? else {
        return Ok(back_to_account(&state));
    };
    if browser::cross_site(&req) || !csrf_matches(&p, &cookie) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "You are still signed in",
            "The sign-out could not be verified (it may have come from another site or an old tab).",
            "Reload the page and use its Sign out button.",
        ));
    }
    let disconnect = p.get("disconnect") == Some("1");
    app::account::sign_out::sign_out(&state.store, state.clock.as_ref(), &user, disconnect).await?;
    let mut resp = back_to_account(&state);
    let removal = browser::removal(&state, &browser::session_cookie_name(&state));
    resp.add_cookie(&removal).map_err(PageError::internal)?;
    Ok(resp)
}
