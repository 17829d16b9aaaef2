//! Switching accounts in one browser (security review F1). A completed sign-in never silently
//! replaces a live session of another person or organisation: the new session waits in a
//! short-lived cookie while the person sees both accounts and chooses (the decision is
//! [`app::sign_in::switch`]; the confirmation page is rendered by `upstream`).
use actix_web::cookie::{time::Duration, Cookie};
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use app::sign_in::switch as use_case;
use app::sign_in::SignInError;
use authz_core::crypto::hashes_equal;
use authz_core::session;

use crate::browser;
use crate::pages::PageError;
use crate::params::Params;
use crate::state::AppState;

/// Where a switch may continue: pages of this issuer that a sign-in ends on.
fn safe_next(state: &AppState, next: &str) -> bool {
    let Some(path) = next.strip_prefix(state.issuer()) else {
        return false;
    };
    (path.starts_with("/consent?tx=") || path.starts_with("/admin/t/") || path == "/account")
        && !path.contains("//")
        && !path.contains('\\')
}

/// `POST /session/switch`: `decision=continue` makes the pending session this browser's
/// session; anything else ends the pending session and keeps the previous one.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let p = Params::parse(&body).map_err(|_| SignInError::SwitchRefused)?;
    let pending_name = browser::switch_cookie_name(&state);
    let secret = req.cookie(&pending_name).map(|c| c.value().to_string());
    let verified = |s: &str| {
        !browser::cross_site(&req) && hashes_equal(&use_case::csrf(s), p.get("csrf").unwrap_or(""))
    };
    let continues = p.get("decision") == Some("continue");
    use_case::decide(
        &crate::upstream::env(&state),
        secret.as_deref(),
        verified,
        continues,
    )
    .await?;
    let account = format!("{}/account", state.issuer());
    let next = p.get("next").filter(|n| safe_next(&state, n));
    let mut resp = HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            next.filter(|_| continues).unwrap_or(&account),
        ))
        .finish();
    if let (true, Some(secret)) = (continues, secret) {
        let name = browser::session_cookie_name(&state);
        let c = browser::cookie(&state, &name, secret, session::SESSION_SECS);
        resp.add_cookie(&c).map_err(PageError::internal)?;
    }
    let mut gone = Cookie::new(pending_name, "");
    gone.set_path("/");
    gone.set_max_age(Duration::seconds(0));
    resp.add_cookie(&gone).map_err(PageError::internal)?;
    Ok(resp)
}
