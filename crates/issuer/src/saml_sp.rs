//! SAML service-provider endpoints per connection (DESIGN §6.6, §6.8):
//! `GET /federation/saml/{id}/metadata`, `POST .../acs` (HTTP-POST binding, cross-site, so it
//! carries no Lax cookie: it validates against server-side state only and answers 303 to a
//! same-site GET), and `GET .../complete?h=` (one-time handle + browser binding). The checks
//! are the use cases of [`app::sign_in::saml`]; these handlers parse and render.
use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use app::sign_in::saml::{self as use_case, AcsForm, Completion};
use authz_core::connection::Connection;
use authz_core::user::FederatedIdentity;

use crate::browser;
use crate::pages::PageError;
use crate::params::Params;
use crate::state::AppState;
use crate::upstream::{completed, env, visitor};

/// Largest ACS body: a base64 response of 1 MiB plus the form around it.
pub const ACS_BODY_LIMIT: usize = 1_500_000;

pub use saml::SamlSettings;

pub use saml::sp::{acs_url, entity_id as sp_entity_id};

pub async fn metadata(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let conn = use_case::connection(&env(&state), &path).await?;
    let (s, _) = use_case::settings(&conn)?;
    Ok(HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .body(saml::sp::metadata(
            &sp_entity_id(state.issuer(), &conn.id),
            &acs_url(state.issuer(), &conn.id),
            &s.sp_certificate,
        )))
}

/// The assertion consumer service (SAML bindings §3.5, HTTP-POST): on success, 303 to the
/// same-site completion with the one-time handle.
pub async fn acs(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let form = match Params::parse_limited(&body, ACS_BODY_LIMIT) {
        Ok(p) => AcsForm::Parsed {
            saml_response: p.get("SAMLResponse").map(str::to_string),
            relay_state: p.get("RelayState").map(str::to_string),
        },
        Err(_) => AcsForm::Malformed,
    };
    let accepted = use_case::acs(&env(&state), &visitor(&req), &path, form).await?;
    let (issuer, conn, h) = (state.issuer(), accepted.connection_id, accepted.handle);
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("{issuer}/federation/saml/{conn}/complete?h={h}"),
        ))
        .finish())
}

#[derive(serde::Deserialize)]
pub struct HandleQuery {
    h: Option<String>,
}

/// Same-site continuation of the ACS: the browser that started the sign-in presents its
/// binding cookie here, with the one-time handle.
pub async fn complete(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<HandleQuery>,
) -> Result<HttpResponse, PageError> {
    let binding = browser::existing_binding(&req);
    let session = browser::session_value(&state, &req);
    let (env, visitor) = (env(&state), visitor(&req));
    let done = use_case::complete_handle(
        &env,
        &visitor,
        &path,
        q.h.as_deref(),
        binding.as_deref(),
        session.as_deref(),
    )
    .await?;
    match done {
        Completion::Done(c) => completed(&state, c),
        Completion::Confirm {
            connection,
            identity,
        } => confirm_page(
            &state,
            &req,
            &connection,
            q.h.as_deref().unwrap_or(""),
            &identity,
        ),
    }
}

/// An IdP-initiated sign-in: nothing binds the response to this browser, so the person
/// confirms whose account they are entering (otherwise any page could sign a victim's browser
/// into the attacker's account: login CSRF).
fn confirm_page(
    state: &AppState,
    req: &HttpRequest,
    conn: &Connection,
    h: &str,
    identity: &FederatedIdentity,
) -> Result<HttpResponse, PageError> {
    let (binding, new_cookie) = browser::binding(state, req);
    let who = identity
        .email
        .clone()
        .or(identity.name.clone())
        .unwrap_or(identity.subject.clone());
    let mut resp = state.templates.page(
        StatusCode::OK,
        "confirm.html",
        minijinja::context! {
            title => "Continue signing in?",
            message => format!("Your identity provider signed you in as {who} ({}).", conn.name),
            hint => "Continue only if you started this sign-in yourself from your organisation's app portal.",
            action => format!("/federation/saml/{}/complete", conn.id),
            h => h,
            csrf => use_case::confirm_csrf(&binding, h),
        },
    );
    if let Some(c) = new_cookie {
        resp.add_cookie(&c).map_err(PageError::internal)?;
    }
    Ok(resp)
}

/// The confirmation of an IdP-initiated sign-in: a same-site POST carrying a token derived from
/// this browser's binding cookie. A session only, landing on /account; never an authorization
/// code.
pub async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let p = Params::parse(&body).ok();
    let h = p.as_ref().and_then(|p| p.get("h"));
    let binding = browser::existing_binding(&req);
    let verified = |h: &str| match (&binding, p.as_ref().and_then(|p| p.get("csrf"))) {
        (Some(b), Some(c)) => authz_core::crypto::hashes_equal(&use_case::confirm_csrf(b, h), c),
        _ => false,
    };
    let session = browser::session_value(&state, &req);
    let (env, visitor) = (env(&state), visitor(&req));
    let done = use_case::confirm(&env, &visitor, &path, h, verified, session.as_deref()).await?;
    completed(&state, done)
}
