//! Home-realm discovery: the user gives a work email, the verified domain names the tenant,
//! the tenant's connection takes the user upstream. Tenants are never chosen by URL. The steps
//! are [`app::sign_in::start`]; this renders the login page and redirects.
use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use app::sign_in::start::{self as use_case, LoginForm, LoginView, Submitted};
use app::sign_in::{Restart, SignInError};
use minijinja::context;

use crate::browser;
use crate::pages::PageError;
use crate::state::AppState;
use crate::upstream::{env, visitor};

/// The login page. It never leaves for an IdP by itself: only the person's POST of its form
/// does (review F1: a third party can start any GET; a `login_hint` only pre-fills the form).
fn render(state: &AppState, req: &HttpRequest, v: &LoginView) -> Result<HttpResponse, PageError> {
    let status = match v.error {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    let tx = &v.tx;
    let client = v.client.as_ref();
    let (binding, new_cookie) = browser::binding(state, req);
    let mut resp = state.templates.page(
        status,
        "login.html",
        context! {
            tx => tx.id_hash,
            csrf => browser::csrf(&binding, &tx.id_hash),
            email => v.email,
            error => v.error,
            // None for a direct sign-in at /account: the page names no application.
            client_name => client.map(|c| c.client_name.clone()),
            client_unverified => client.is_some_and(|c| c.kind != authz_core::client::ClientKind::Preregistered),
            client_host => client.and_then(crate::cimd::verified_host),
            resource_name => v.resource.as_ref().map(|r| r.display_name.clone()),
            org => v.org,
            reauth => v.reauth,
            choices => v.choices.iter().map(|(id, name)| context! { id => id, name => name }).collect::<Vec<_>>(),
        },
    );
    if let Some(c) = new_cookie {
        resp.add_cookie(&c).map_err(PageError::internal)?;
    }
    Ok(resp)
}

pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<crate::transaction::TxQuery>,
) -> Result<HttpResponse, PageError> {
    let binding = browser::existing_binding(&req);
    let session = browser::session_value(&state, &req);
    let view = use_case::page(
        &env(&state),
        q.tx.as_deref(),
        binding.as_deref(),
        session.as_deref(),
    )
    .await?;
    render(&state, &req, &view)
}

pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let p = crate::params::Params::parse(&body)
        .map_err(|_| SignInError::Restart(Restart::LinkExpired))?;
    let form = LoginForm {
        tx: p.get("tx"),
        email: p.get("email"),
        connection: p.get("connection"),
        reauth: p.get("reauth"),
    };
    let binding = browser::existing_binding(&req);
    let session = browser::session_value(&state, &req);
    let verified = |tx: &str| browser::csrf_ok(&req, tx, p.get("csrf"));
    let (env, visitor) = (env(&state), visitor(&req));
    let submitted = use_case::submit(
        &env,
        &visitor,
        form,
        binding.as_deref(),
        verified,
        session.as_deref(),
    )
    .await?;
    match submitted {
        Submitted::Redirect(url) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, url))
            .finish()),
        Submitted::Form(view) => render(&state, &req, &view),
    }
}
