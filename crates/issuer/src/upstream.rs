//! The issuer's side of a federated sign-in ([`app::sign_in`]): what the use cases need of the
//! running issuer, the browser as they see it, their refusals as pages, and their outcome as a
//! response (cookies and redirects stay here).
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use app::sign_in::{Completed, Env, Limit, Next, Restart, SignInError, Visitor};

use crate::browser;
use crate::pages::PageError;
use crate::state::AppState;

/// The sign-in use cases' view of the issuer.
pub fn env(state: &AppState) -> Env<'_> {
    Env {
        store: &state.store,
        clock: state.clock.as_ref(),
        master_key: &state.master_key,
        issuer: state.issuer(),
        rp: &state.rp,
        public_rp: &state.public_rp,
    }
}

/// The browser taking a sign-in step: its address (trusted proxies applied) and user agent.
pub fn visitor(req: &HttpRequest) -> Visitor {
    Visitor {
        browser: app::AnonymousBrowser {
            ip: crate::params::client_addr(req).map(|ip| ip.to_string()),
        },
        user_agent: crate::params::user_agent(req),
    }
}

/// Where a completed sign-in continues.
pub fn next_url(state: &AppState, next: &Next) -> String {
    match next {
        Next::Console { slug, back } => {
            if crate::console_path::safe_return(back, slug) {
                format!("{}{back}", state.issuer())
            } else {
                format!("{}/admin/t/{slug}/", state.issuer())
            }
        }
        Next::Consent(tx) => crate::transaction::consent_url(state.issuer(), tx),
        Next::Account { back } if crate::account::safe_return(back) => {
            format!("{}{back}", state.issuer())
        }
        Next::Account { .. } => format!("{}/account", state.issuer()),
    }
}

/// The response to a completed sign-in: the test result, the switch confirmation, or the new
/// session's cookie and a 303 to where the sign-in continues.
pub fn completed(state: &AppState, done: Completed) -> Result<HttpResponse, PageError> {
    let (next, secret) = match done {
        Completed::Tested(t) => return Ok(crate::admin_test::page(state, &t)),
        Completed::Switch { next, pending } => {
            return switch_page(state, &pending, &next_url(state, &next))
        }
        Completed::SignedIn {
            next,
            session_secret,
        } => (next, session_secret),
    };
    let mut resp = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next_url(state, &next)))
        .finish();
    resp.add_cookie(&browser::cookie(
        state,
        &browser::session_cookie_name(state),
        secret,
        authz_core::session::SESSION_SECS,
    ))
    .map_err(PageError::internal)?;
    Ok(resp)
}

fn restart_message(r: Restart) -> &'static str {
    match r {
        Restart::Malformed => "The identity provider's answer is malformed.",
        Restart::NoSamlResponse => "The identity provider's answer has no SAMLResponse.",
        Restart::NoState => "The identity provider's answer has no state.",
        Restart::NoCode => "The identity provider's answer has no code.",
        Restart::Disabled => "This sign-in method has been disabled by your organisation.",
        Restart::UnknownResponse => "This sign-in response is unknown, expired, already used, or belongs to another browser.",
        Restart::NotInProgress => "This sign-in response does not match a sign-in in progress.",
        Restart::OtherConnection => "This sign-in response arrived for a different connection.",
        Restart::StepUsed => "This sign-in step is unknown, expired, or was already used.",
        Restart::LinkExpired => "This sign-in link is missing, has expired, or belongs to another browser.",
    }
}

const CANNOT_CONTINUE: &str = "Sign-in cannot continue";
const PORTAL: &str = "Start signing in again from your organisation's app portal.";

/// Each refusal of a sign-in step as the page it has always been.
impl From<SignInError> for PageError {
    fn from(e: SignInError) -> Self {
        let forbidden = |title: &str, message: String, hint: &str| {
            PageError::new(StatusCode::FORBIDDEN, title, message, hint)
        };
        match e {
            SignInError::Restart(r) => PageError::bad_request(
                CANNOT_CONTINUE,
                restart_message(r),
                "Go back to the application and start signing in again.",
            ),
            SignInError::OtherBrowser => PageError::bad_request(
                CANNOT_CONTINUE,
                "This sign-in was started in another browser.",
                "Go back to the application in this browser and start signing in again.",
            ),
            SignInError::UnknownConnection => PageError::new(
                StatusCode::NOT_FOUND,
                "Unknown sign-in connection",
                "This SAML connection does not exist.",
                "Check the URL configured in your identity provider.",
            ),
            SignInError::TooMany { limit: Limit::SamlAcs, retry_after } => PageError::too_many(
                "Too many sign-in attempts",
                "This network has sent too many sign-in responses in the last minute.",
                "Wait a minute, then start signing in again from your application.",
                retry_after,
            ),
            SignInError::TooMany { limit: Limit::Login, retry_after } => PageError::too_many(
                "Too many sign-in attempts",
                "This network has started too many sign-ins in the last minute.",
                "Wait a minute, then go back to the application and try again.",
                retry_after,
            ),
            SignInError::Suspended => forbidden(
                "Sign-in is suspended",
                "Your organisation's access to this service is suspended.".into(),
                "Ask your IT administrator.",
            ),
            SignInError::NotAdmitted(m) => {
                forbidden("Access is not allowed", m, "Ask your IT administrator.")
            }
            SignInError::SamlRefused(e) => forbidden(
                "Sign-in could not be verified",
                format!("Your identity provider's SAML response was refused ({}).", e.code()),
                "Try again from your application. If it keeps failing, tell your IT administrator the time and this code.",
            ),
            SignInError::SamlNotFresh => forbidden(
                "A fresh sign-in is required",
                "This permission needs you to have signed in within the last 15 minutes, but the identity provider did not re-authenticate you.".into(),
                "Ask your administrator to make the identity provider honour ForceAuthn.",
            ),
            SignInError::UpstreamError { error, description } => forbidden(
                "Your identity provider did not sign you in",
                format!("It answered: {error} {description}"),
                "If you expected access, ask your IT administrator to assign you to this application in your identity provider.",
            ),
            SignInError::OidcRefused { error, preset } => {
                sign_in_refused(&error, &preset)
            }
            SignInError::UpstreamUnavailable { org } => PageError::new(
                StatusCode::BAD_GATEWAY,
                "Your organisation's sign-in is unavailable",
                format!("Gatehouse could not reach the identity provider of {org}."),
                "Try again in a few minutes. If it persists, tell your IT administrator (error OIDC0002).",
            ),
            SignInError::PortalRestart => PageError::bad_request(
                CANNOT_CONTINUE,
                restart_message(Restart::StepUsed),
                PORTAL,
            ),
            SignInError::ConfirmUnverified => forbidden(
                CANNOT_CONTINUE,
                "The confirmation could not be verified (it may have been sent from another site).".into(),
                PORTAL,
            ),
            SignInError::LoginFormUnverified => forbidden(
                CANNOT_CONTINUE,
                "The form could not be verified (it may have been sent from another site or an old tab).".into(),
                "Go back to the application and start signing in again.",
            ),
            SignInError::UnknownTenant => PageError::new(
                StatusCode::NOT_FOUND,
                "Unknown organisation",
                "There is no organisation at this address.",
                "Check the console address your administrator or the invitation gave you.",
            ),
            SignInError::NotAdminForTest(name) => forbidden(
                "Only administrators can test a connection",
                format!("You are not signed in as an administrator of {name}."),
                "Sign in to the admin console first, then use “Test sign-in” on the connection.",
            ),
            SignInError::ConsoleFormUnverified => forbidden(
                CANNOT_CONTINUE,
                "The form could not be verified (it may have been sent from another site or an old tab).".into(),
                "Open the console's sign-in page again and use its button.",
            ),
            SignInError::SwitchRefused => switch_refused(),
            SignInError::DevIdpRefused => forbidden(
                "Development sign-in is turned off",
                "This organisation signs in through Gatehouse's development identity provider, which works only while Gatehouse runs on this machine (an http://127.0.0.1, http://[::1] or http://localhost issuer). This server has another address, so nobody can sign in through it (DEVIDP0002).".into(),
                "Ask your IT administrator to connect the organisation's real identity provider (OIDC or SAML) and disable the development connection.",
            ),
            SignInError::Core(e) => e.into(),
            SignInError::Internal(e) => PageError::internal(e),
        }
    }
}

/// The page asking the person to confirm the switch to the `pending` sign-in.
fn switch_page(
    state: &AppState,
    pending: &app::sign_in::switch::Pending,
    next: &str,
) -> Result<HttpResponse, PageError> {
    let mut resp = state.templates.page(
        StatusCode::OK,
        "switch.html",
        minijinja::context! {
            current_account => pending.current_account,
            current_org => pending.current_org,
            new_account => pending.new_account,
            new_org => pending.new_org,
            next => next,
            csrf => app::sign_in::switch::csrf(&pending.secret),
        },
    );
    let pending_cookie = browser::cookie(
        state,
        &browser::switch_cookie_name(state),
        pending.secret.clone(),
        app::sign_in::switch::PENDING_SECS,
    );
    resp.add_cookie(&pending_cookie)
        .map_err(PageError::internal)?;
    Ok(resp)
}

fn switch_refused() -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "Nothing was changed",
        "The account switch could not be verified (it may have come from another site, an old tab, or it expired).",
        "You are still signed in as before. Go back to the application and start again if you meant to switch.",
    )
}

/// The page for an upstream answer Gatehouse refused, saying what can be done about it.
fn sign_in_refused(
    e: &oidc_federation::FederationError,
    preset: &oidc_federation::Preset,
) -> PageError {
    use oidc_federation::FederationError as F;
    match e {
        F::StepUp(why) => {
            let admin = match preset {
                oidc_federation::Preset::Entra { .. } => {
                    "Ask your administrator to add the optional claim auth_time to the ID token of the Gatehouse app registration (Entra admin center → App registrations → Token configuration)."
                }
                _ => "Ask your administrator to make the identity provider include auth_time in ID tokens and honour prompt=login.",
            };
            PageError::new(
                StatusCode::FORBIDDEN,
                "A fresh sign-in is required",
                format!("This permission needs you to have signed in within the last 15 minutes, but {why}."),
                admin,
            )
        }
        F::Claims(why) => PageError::new(
            StatusCode::FORBIDDEN,
            "This account cannot sign in here",
            format!("{why}."),
            "Sign in with your organisation's work account, or ask your IT administrator.",
        ),
        _ => PageError::new(
            StatusCode::BAD_GATEWAY,
            "Sign-in could not be verified",
            "Your identity provider's answer did not pass Gatehouse's checks.",
            "Try again. If it keeps failing, tell your IT administrator the time it happened.",
        ),
    }
}
