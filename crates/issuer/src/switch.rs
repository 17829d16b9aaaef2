//! Switching accounts in one browser (security review F1). A completed sign-in never silently
//! replaces a live session of another person or organisation: the new session waits in a
//! short-lived cookie while the person sees both accounts and chooses. Without this, one
//! navigation started by another site could swap the session that the person's MCP clients
//! later reuse.
use actix_web::cookie::{time::Duration, Cookie};
use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use authz_core::crypto::{hashes_equal, sha256_hex};
use authz_core::session::{self, Session};
use authz_core::{tenant, user, TenantId};
use minijinja::context;

use crate::browser;
use crate::pages::PageError;
use crate::params::Params;
use crate::state::AppState;

/// How long a completed sign-in waits for the person's choice.
const PENDING_SECS: i64 = 600;

/// The live session in this browser, when it belongs to someone other than `user_id` of
/// `tenant` (a re-authentication of the same person replaces it without asking).
pub async fn other_session(
    state: &AppState,
    req: &HttpRequest,
    tenant: &TenantId,
    user_id: &str,
) -> Result<Option<Session>, PageError> {
    Ok(browser::live_session(state, req)
        .await?
        .filter(|s| &s.tenant != tenant || s.user_id != user_id))
}

/// The switch form's token: derived from the pending session's secret, which only this
/// browser's cookie carries (a cross-site POST carries no Lax cookie at all).
fn csrf(pending_secret: &str) -> String {
    sha256_hex(&format!("switch|{pending_secret}"))
}

/// Who a session is, for the person: account and organisation.
async fn describe(state: &AppState, s: &Session) -> Result<(String, String), PageError> {
    let u = user::get(&state.store.db, &s.tenant, &s.user_id).await?;
    let t = tenant::get(&state.store.db, &s.tenant).await?;
    Ok((u.email.or(u.name).unwrap_or(u.subject), t.name))
}

/// Where a switch may continue: pages of this issuer that a sign-in ends on.
fn safe_next(state: &AppState, next: &str) -> bool {
    let Some(path) = next.strip_prefix(state.issuer()) else {
        return false;
    };
    (path.starts_with("/consent?tx=") || path.starts_with("/admin/t/") || path == "/account")
        && !path.contains("//")
        && !path.contains('\\')
}

/// The page asking the person to confirm the switch from `previous` to `pending`.
pub async fn confirm_page(
    state: &AppState,
    previous: &Session,
    pending: &Session,
    pending_secret: String,
    next: &str,
) -> Result<HttpResponse, PageError> {
    let (was, was_org) = describe(state, previous).await?;
    let (now, now_org) = describe(state, pending).await?;
    let mut resp = state.templates.page(
        StatusCode::OK,
        "switch.html",
        context! {
            current_account => was,
            current_org => was_org,
            new_account => now,
            new_org => now_org,
            next => next,
            csrf => csrf(&pending_secret),
        },
    );
    let pending_cookie = browser::cookie(
        state,
        &browser::switch_cookie_name(state),
        pending_secret,
        PENDING_SECS,
    );
    resp.add_cookie(&pending_cookie)
        .map_err(PageError::internal)?;
    Ok(resp)
}

fn refused() -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "Nothing was changed",
        "The account switch could not be verified (it may have come from another site, an old tab, or it expired).",
        "You are still signed in as before. Go back to the application and start again if you meant to switch.",
    )
}

/// `POST /session/switch`: `decision=continue` makes the pending session this browser's
/// session; anything else ends the pending session and keeps the previous one.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let p = Params::parse(&body).map_err(|_| refused())?;
    let pending_name = browser::switch_cookie_name(&state);
    let secret = req
        .cookie(&pending_name)
        .map(|c| c.value().to_string())
        .ok_or_else(refused)?;
    if browser::cross_site(&req) || !hashes_equal(&csrf(&secret), p.get("csrf").unwrap_or("")) {
        return Err(refused());
    }
    let clock = state.clock.as_ref();
    let pending = session::find_active(&state.store.db, clock, &secret)
        .await?
        .ok_or_else(refused)?;
    let next = p.get("next").filter(|n| safe_next(&state, n));
    let mut gone = Cookie::new(pending_name, "");
    gone.set_path("/");
    gone.set_max_age(Duration::seconds(0));
    let mut resp = if p.get("decision") == Some("continue") {
        let mut r = HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                next.map(str::to_string)
                    .unwrap_or_else(|| format!("{}/account", state.issuer())),
            ))
            .finish();
        r.add_cookie(&browser::cookie(
            &state,
            &browser::session_cookie_name(&state),
            secret,
            session::SESSION_SECS,
        ))
        .map_err(PageError::internal)?;
        r
    } else {
        session::revoke_one(&state.store.db, clock, &pending.tenant, &pending.id).await?;
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("{}/account", state.issuer())))
            .finish()
    };
    resp.add_cookie(&gone).map_err(PageError::internal)?;
    Ok(resp)
}
