//! Browser binding (DESIGN §6.8): a random `gh_browser` cookie ties a login transaction to the
//! browser that started it; CSRF tokens are derived from it, so a form posted from elsewhere
//! cannot carry a valid one. Cookies are HttpOnly, SameSite=Lax, Secure on an https issuer.
use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::HttpRequest;
use authz_core::crypto::{hashes_equal, random_token, sha256_hex};

use crate::state::AppState;

pub const BROWSER_COOKIE: &str = "gh_browser";
pub const SESSION_COOKIE: &str = "gh_session";

pub fn cookie<'a>(state: &AppState, name: &'a str, value: String, max_age_secs: i64) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(state.config.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(Duration::seconds(max_age_secs))
        .finish()
}

/// The browser-binding value, and a cookie to set if the browser had none.
pub fn binding(state: &AppState, req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    match req
        .cookie(BROWSER_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| v.len() >= 32)
    {
        Some(v) => (v, None),
        None => {
            let v = random_token();
            (
                v.clone(),
                Some(cookie(state, BROWSER_COOKIE, v, 30 * 86_400)),
            )
        }
    }
}

pub fn existing_binding(req: &HttpRequest) -> Option<String> {
    req.cookie(BROWSER_COOKIE).map(|c| c.value().to_string())
}

/// CSRF token for a form of transaction `tx`.
pub fn csrf(binding: &str, tx: &str) -> String {
    sha256_hex(&format!("csrf|{binding}|{tx}"))
}

pub fn csrf_ok(req: &HttpRequest, tx: &str, presented: Option<&str>) -> bool {
    match (existing_binding(req), presented) {
        (Some(b), Some(p)) => hashes_equal(&csrf(&b, tx), p),
        _ => false,
    }
}
