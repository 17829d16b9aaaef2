//! Browser binding (DESIGN §6.8): a `gh_browser` cookie ties a login transaction to the browser
//! that started it; CSRF tokens are derived from it, so a form posted from elsewhere cannot
//! carry a valid one. Only the server mints binding values (a random part and a MAC under the
//! master key): a value planted by another site (cookie tossing) is refused, not adopted
//! (review F8). Cookies are HttpOnly, SameSite=Lax, and on an https issuer Secure with the
//! `__Host-` prefix.
use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::HttpRequest;
use authz_core::crypto::{hashes_equal, random_token, sha256_hex};
use authz_core::session::cookie_name;

use crate::state::AppState;

const BROWSER_BASE: &str = "gh_browser";
const SESSION_BASE: &str = "gh_session";
const SWITCH_BASE: &str = "gh_switch";
const BINDING_PURPOSE: &str = "browser binding v1";

pub fn browser_cookie_name(state: &AppState) -> String {
    cookie_name(BROWSER_BASE, state.config.secure_cookies())
}

pub fn session_cookie_name(state: &AppState) -> String {
    cookie_name(SESSION_BASE, state.config.secure_cookies())
}

/// A completed sign-in waiting for the person to confirm an account switch.
pub fn switch_cookie_name(state: &AppState) -> String {
    cookie_name(SWITCH_BASE, state.config.secure_cookies())
}

pub fn cookie(state: &AppState, name: &str, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(name.to_string(), value)
        .path("/")
        .http_only(true)
        .secure(state.config.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(Duration::seconds(max_age_secs))
        .finish()
}

/// A cookie that removes `name` (same attributes, so a `__Host-` cookie is replaced).
pub fn removal(state: &AppState, name: &str) -> Cookie<'static> {
    cookie(state, name, String::new(), 0)
}

/// The session cookie's value, if the browser sent one.
pub fn session_value(state: &AppState, req: &HttpRequest) -> Option<String> {
    req.cookie(&session_cookie_name(state))
        .map(|c| c.value().to_string())
}

/// The live sign-in session of this browser, if any.
pub async fn live_session(
    state: &AppState,
    req: &HttpRequest,
) -> authz_core::CoreResult<Option<authz_core::session::Session>> {
    match session_value(state, req) {
        Some(c) => {
            authz_core::session::find_active(&state.store.db, state.clock.as_ref(), &c).await
        }
        None => Ok(None),
    }
}

/// A new binding value: random, with the server's MAC.
pub fn mint(state: &AppState) -> String {
    binding_value(&state.master_key, &random_token())
}

/// The binding value for random part `r` under `key` (tests build genuine bindings with it).
pub fn binding_value(key: &authz_core::crypto::MasterKey, r: &str) -> String {
    format!("{r}.{}", key.mac(BINDING_PURPOSE, r))
}

/// Was `value` minted by this deployment?
pub fn genuine(state: &AppState, value: &str) -> bool {
    match value.split_once('.') {
        Some((r, mac)) if r.len() >= 32 => state.master_key.mac_ok(BINDING_PURPOSE, r, mac),
        _ => false,
    }
}

/// The browser-binding value, and a cookie to set if the browser had no genuine one.
pub fn binding(state: &AppState, req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    match existing_binding_in(state, req) {
        Some(v) => (v, None),
        None => {
            let v = mint(state);
            let name = browser_cookie_name(state);
            (v.clone(), Some(cookie(state, &name, v, 30 * 86_400)))
        }
    }
}

fn existing_binding_in(state: &AppState, req: &HttpRequest) -> Option<String> {
    req.cookie(&browser_cookie_name(state))
        .map(|c| c.value().to_string())
        .filter(|v| genuine(state, v))
}

/// The browser's genuine binding value, if it has one.
pub fn existing_binding(req: &HttpRequest) -> Option<String> {
    let state = req.app_data::<actix_web::web::Data<AppState>>()?;
    existing_binding_in(state, req)
}

/// CSRF token for a form of transaction `tx`.
pub fn csrf(binding: &str, tx: &str) -> String {
    sha256_hex(&format!("csrf|{binding}|{tx}"))
}

pub fn csrf_ok(req: &HttpRequest, tx: &str, presented: Option<&str>) -> bool {
    !cross_site(req)
        && match (existing_binding(req), presented) {
            (Some(b), Some(p)) => hashes_equal(&csrf(&b, tx), p),
            _ => false,
        }
}

/// Fetch Metadata (W3C): the browser says the request was started by another site. Forms of
/// ours are posted same-origin; a browser that sends no such header is judged by the CSRF token
/// alone.
pub fn cross_site(req: &HttpRequest) -> bool {
    req.headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v != "same-origin")
}
