//! Admin console sign-in through the tenant's own SSO (issue "console" §2):
//! `GET /admin/t/{tenant}/login` starts a login transaction of purpose `admin` (or
//! `test_connection`) and sends the browser to one of the tenant's connections. The admin
//! console is addressed by tenant slug (like an IdP's org URL); being sent to a tenant's IdP
//! grants nothing by itself: the console checks the admin role on every request.
//!
//! - every console sign-in asks for a fresh authentication and requires the IdP's
//!   authentication time (admin writes need one within 15 minutes);
//! - `?step_up=1`: sign in again through the connection of the current session.
//! - `?connection=ID`: sign in through that connection (the tenant may have several).
//! - `?test=1&connection=ID`: a test sign-in that shows the claims received and starts no
//!   session; only for the tenant's admins or an invitee's setup session.
//!
//! From an invitation's setup-only session, the transaction carries the invitation, so the
//! completed sign-in can bind the admin role to the invitee ([`authz_core::admin::invitation`]).
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use authz_core::admin::{invitation, role};
use authz_core::login::{self, AuthorizeRequest, Purpose};
use authz_core::{connection, session, tenant};
use minijinja::context;

use crate::browser;
use crate::pages::PageError;
use crate::state::AppState;

/// The setup-only session cookie of an accepted invitation (named by the console, which sets it).
fn setup_cookie_name(state: &AppState) -> String {
    session::cookie_name("gh_setup", state.config.secure_cookies())
}

#[derive(serde::Deserialize)]
pub struct LoginQuery {
    pub connection: Option<String>,
    pub step_up: Option<String>,
    pub test: Option<String>,
    /// A console page of this tenant to continue at after signing in.
    #[serde(rename = "return")]
    pub return_to: Option<String>,
}

fn truthy(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("1" | "true" | "yes"))
}

fn unknown_tenant() -> PageError {
    PageError::new(
        StatusCode::NOT_FOUND,
        "Unknown organisation",
        "There is no organisation at this address.",
        "Check the console address your administrator or the invitation gave you.",
    )
}

/// The live setup session in this browser for `tenant`, if any.
pub async fn setup_invitation(
    state: &AppState,
    req: &HttpRequest,
    tenant: &authz_core::TenantId,
) -> Result<Option<invitation::Invitation>, PageError> {
    let Some(c) = req.cookie(&setup_cookie_name(state)) else {
        return Ok(None);
    };
    Ok(
        invitation::setup_session(&state.store.db, state.clock.as_ref(), c.value())
            .await?
            .filter(|i| &i.tenant == tenant),
    )
}

/// The signed-in session in this browser for `tenant`, if any.
pub async fn tenant_session(
    state: &AppState,
    req: &HttpRequest,
    tenant: &authz_core::TenantId,
) -> Result<Option<session::Session>, PageError> {
    Ok(browser::live_session(state, req)
        .await?
        .filter(|s| &s.tenant == tenant))
}

/// Where a console sign-in may go: the tenant's usable connections and the one chosen.
struct Plan {
    t: tenant::Tenant,
    setup: Option<invitation::Invitation>,
    conns: Vec<connection::Connection>,
    /// (connection id, invitation id) of pending connections this browser may use.
    pending_via: Vec<(String, String)>,
    chosen: Option<usize>,
    test: bool,
    step_up: bool,
    return_to: Option<String>,
}

async fn plan(
    state: &AppState,
    req: &HttpRequest,
    slug: &str,
    q: &LoginQuery,
) -> Result<Plan, PageError> {
    let t = match tenant::find_by_slug(&state.store.db, slug).await {
        Ok(t) => t,
        Err(authz_core::CoreError::NotFound(_)) => return Err(unknown_tenant()),
        Err(e) => return Err(e.into()),
    };
    crate::upstream::refuse_if_suspended(state, &t.id).await?;
    let setup = setup_invitation(state, req, &t.id).await?;
    let current = tenant_session(state, req, &t.id).await?;
    let test = truthy(&q.test);
    let return_to = q
        .return_to
        .as_deref()
        .filter(|r| crate::console_path::safe_return(r, &t.slug))
        .map(str::to_string);
    // Re-authentication for the current session's connection (the console's "sign in again").
    let step_up = truthy(&q.step_up) && !test;
    if test {
        let is_admin = match &current {
            Some(s) => role::session_admin_via(&state.store.db, &t.id, s)
                .await?
                .is_some(),
            None => false,
        };
        if !is_admin && setup.is_none() {
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                "Only administrators can test a connection",
                format!("You are not signed in as an administrator of {}.", t.name),
                "Sign in to the admin console first, then use “Test sign-in” on the connection.",
            ));
        }
    }
    // A test sign-in may use any connection (it starts no session: check one before enabling
    // it); a console sign-in only enabled ones.
    let mut conns: Vec<_> = if test {
        connection::list(&state.store.db, &t.id).await?
    } else {
        connection::list_enabled(&state.store.db, &t.id).await?
    }
    .into_iter()
    .filter(|c| c.kind == "oidc" || c.kind == "saml")
    .collect();
    // Pending connections (added in a setup session) serve their invitee: the setup session
    // itself, and — once bound — the admin that invitation made, so that admin can sign in again
    // (step-up) through it before enabling it. The transaction then carries that invitation.
    let mut pending_via: Vec<(String, String)> = Vec::new();
    if !test {
        if let Some(inv) = &setup {
            for c in connection::pending_for_invitation(&state.store.db, &t.id, &inv.id).await? {
                pending_via.push((c.id.clone(), inv.id.clone()));
                conns.push(c);
            }
        }
        if let Some(s) = &current {
            let pending = connection::setup_invitations(&state.store.db, &t.id).await?;
            for c in connection::list(&state.store.db, &t.id).await? {
                if c.enabled || conns.iter().any(|x| x.id == c.id) {
                    continue;
                }
                let Some(inv_id) = pending.get(&c.id).cloned() else {
                    continue;
                };
                let bound = invitation::by_id(&state.store.db, &t.id, &inv_id)
                    .await?
                    .and_then(|i| i.bound_user_id);
                if bound.as_deref() == Some(s.user_id.as_str()) {
                    pending_via.push((c.id.clone(), inv_id));
                    conns.push(c);
                }
            }
        }
    }
    let current_conn = step_up
        .then_some(current.as_ref())
        .flatten()
        .and_then(|s| conns.iter().position(|c| c.id == s.connection_id));
    let chosen = match (&q.connection, current_conn) {
        (_, Some(i)) => Some(i),
        (Some(id), None) => conns.iter().position(|c| &c.id == id),
        (None, None) if conns.len() == 1 => Some(0),
        (None, None) => None,
    };
    Ok(Plan {
        t,
        setup,
        conns,
        pending_via,
        chosen,
        test,
        step_up,
        return_to,
    })
}

fn form_csrf(binding: &str, slug: &str) -> String {
    browser::csrf(binding, &format!("admin-login|{slug}"))
}

/// The sign-in page: what is about to happen, and a button. It never leaves for an IdP by
/// itself: a third party can start any GET (review F1); only the person's same-origin POST does.
async fn render(
    state: &AppState,
    req: &HttpRequest,
    p: &Plan,
    unknown_connection: bool,
) -> Result<HttpResponse, PageError> {
    if unknown_connection {
        return Err(PageError::bad_request(
            "This sign-in method is not available",
            "The connection does not exist or is disabled.",
            "Go back to the console and choose an enabled connection.",
        ));
    }
    let (binding, new_cookie) = browser::binding(state, req);
    let chosen = p.chosen.map(|i| &p.conns[i]);
    let mut resp = state.templates.page(
        StatusCode::OK,
        "admin_login.html",
        context! {
            tenant_name => p.t.name,
            slug => p.t.slug,
            setup => p.setup.is_some(),
            csrf => form_csrf(&binding, &p.t.slug),
            test => p.test,
            step_up => p.step_up,
            back => p.return_to.clone(),
            chosen => chosen.map(|c| context! { id => c.id, name => c.name, kind => c.kind }),
            connections => p.conns.iter().map(|c| context! { id => c.id, name => c.name, kind => c.kind }).collect::<Vec<_>>(),
        },
    );
    if let Some(c) = new_cookie {
        resp.add_cookie(&c).map_err(PageError::internal)?;
    }
    Ok(resp)
}

/// `GET /admin/t/{tenant}/login`: the console's sign-in page (see [`render`]).
pub async fn start(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LoginQuery>,
) -> Result<HttpResponse, PageError> {
    let p = plan(&state, &req, &path, &q).await?;
    let unknown = q.connection.is_some() && p.chosen.is_none();
    render(&state, &req, &p, unknown).await
}

/// `POST /admin/t/{tenant}/login`: the person's click starts the sign-in at the connection.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = crate::params::Params::parse(&body).map_err(|e| {
        PageError::bad_request(
            "Sign-in cannot continue",
            e.description,
            "Go back to the console and try again.",
        )
    })?;
    let q = LoginQuery {
        connection: form.get("connection").map(str::to_string),
        step_up: form.get("step_up").map(str::to_string),
        test: form.get("test").map(str::to_string),
        return_to: form.get("return").map(str::to_string),
    };
    let p = plan(&state, &req, &path, &q).await?;
    let verified = browser::existing_binding(&req).is_some_and(|b| {
        authz_core::crypto::hashes_equal(&form_csrf(&b, &p.t.slug), form.get("csrf").unwrap_or(""))
    });
    if !verified || browser::cross_site(&req) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Sign-in cannot continue",
            "The form could not be verified (it may have been sent from another site or an old tab).",
            "Open the console's sign-in page again and use its button.",
        ));
    }
    let Some(conn) = p.chosen.map(|i| &p.conns[i]) else {
        return render(&state, &req, &p, q.connection.is_some()).await;
    };
    let invitation_for_tx = p
        .pending_via
        .iter()
        .find(|(cid, _)| cid == &conn.id)
        .map(|(_, inv)| inv.clone())
        .or_else(|| p.setup.as_ref().map(|i| i.id.clone()));
    let purpose = if p.test {
        Purpose::TestConnection
    } else {
        Purpose::Admin
    };
    let (binding, _) = browser::binding(&state, &req);
    // Every console sign-in asks the IdP for a fresh authentication (OIDC max_age, SAML
    // ForceAuthn) and requires its time back: admin writes need one within the step-up window
    // (DESIGN §5), so a sign-in that reused an old IdP session would only allow reading.
    let mut areq = AuthorizeRequest::admin(purpose, !p.test, invitation_for_tx);
    // Where the console continues after the sign-in (a page of this tenant's console only).
    areq.redirect_uri = p.return_to.clone().unwrap_or_default();
    let clock = state.clock.as_ref();
    let handle = login::start(&state.store.db, clock, &binding, &areq).await?;
    let tx = login::load(&state.store.db, clock, &handle, Some(&binding)).await?;
    crate::login::redirect_to_connection(&state, &tx, &p.t, conn).await
}
