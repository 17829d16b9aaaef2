//! Admin console sign-in through the tenant's own SSO (issue "console" §2). The console is
//! addressed by tenant slug (like an IdP's org URL); being sent to a tenant's IdP grants nothing
//! by itself: the console checks the admin role on every request.
//!
//! - every console sign-in asks for a fresh authentication and requires the IdP's
//!   authentication time (admin writes need one within 15 minutes);
//! - `step_up`: sign in again through the connection of the current session;
//! - `connection`: sign in through that connection (the tenant may have several);
//! - `test` with `connection`: a test sign-in that shows the claims received and starts no
//!   session; only for the tenant's admins or an invitee's setup session.
//!
//! From an invitation's setup-only session, the transaction carries the invitation, so the
//! completed sign-in can bind the admin role to the invitee ([`authz_core::admin::invitation`]).
use authz_core::admin::{invitation, role};
use authz_core::login::{self, AuthorizeRequest, Purpose};
use authz_core::{connection, session, tenant, TenantId};

use super::{upstream, Env, SignInError};

/// The console sign-in's parameters (query of the page, fields of its form).
#[derive(Debug, Default, serde::Deserialize)]
pub struct ConsoleQuery {
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

/// The browser's cookies a console sign-in looks at.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleCookies<'a> {
    /// The setup-only session of an accepted invitation.
    pub setup: Option<&'a str>,
    /// The sign-in session.
    pub session: Option<&'a str>,
}

/// Where a console sign-in may go: the tenant's usable connections and the one chosen.
#[derive(Debug)]
pub struct Plan {
    pub tenant: tenant::Tenant,
    pub setup: Option<invitation::Invitation>,
    pub conns: Vec<connection::Connection>,
    /// (connection id, invitation id) of pending connections this browser may use.
    pending_via: Vec<(String, String)>,
    /// Index into `conns`.
    pub chosen: Option<usize>,
    pub test: bool,
    pub step_up: bool,
    /// A safe page of this tenant's console to continue at (`safe_return` is the edge's check).
    pub return_to: Option<String>,
    /// A connection was asked for that is not among `conns`.
    pub unknown_connection: bool,
}

/// The live setup session of `cookie` for `tenant`, if any.
async fn setup_invitation(
    env: &Env<'_>,
    cookie: Option<&str>,
    tenant: &TenantId,
) -> Result<Option<invitation::Invitation>, SignInError> {
    let Some(c) = cookie else { return Ok(None) };
    Ok(invitation::setup_session(env.db(), env.clock, c)
        .await?
        .filter(|i| &i.tenant == tenant))
}

/// The signed-in session of `cookie` for `tenant`, if any.
async fn tenant_session(
    env: &Env<'_>,
    cookie: Option<&str>,
    tenant: &TenantId,
) -> Result<Option<session::Session>, SignInError> {
    let Some(c) = cookie else { return Ok(None) };
    Ok(session::find_active(env.db(), env.clock, c)
        .await?
        .filter(|s| &s.tenant == tenant))
}

/// The plan of a console sign-in at tenant `slug`; `safe_return` is the edge's judgement of a
/// console return path for a slug.
pub async fn plan(
    env: &Env<'_>,
    slug: &str,
    q: &ConsoleQuery,
    cookies: ConsoleCookies<'_>,
    safe_return: impl Fn(&str, &str) -> bool,
) -> Result<Plan, SignInError> {
    let t = match tenant::find_by_slug(env.db(), slug).await {
        Ok(t) => t,
        Err(authz_core::CoreError::NotFound(_)) => return Err(SignInError::UnknownTenant),
        Err(e) => return Err(e.into()),
    };
    super::complete::refuse_if_suspended(env, &t.id).await?;
    let setup = setup_invitation(env, cookies.setup, &t.id).await?;
    let current = tenant_session(env, cookies.session, &t.id).await?;
    let test = truthy(&q.test);
    let return_to = q
        .return_to
        .as_deref()
        .filter(|r| safe_return(r, &t.slug))
        .map(str::to_string);
    // Re-authentication for the current session's connection (the console's "sign in again").
    let step_up = truthy(&q.step_up) && !test;
    if test {
        let is_admin = match &current {
            Some(s) => role::session_admin_via(env.db(), &t.id, s).await?.is_some(),
            None => false,
        };
        if !is_admin && setup.is_none() {
            return Err(SignInError::NotAdminForTest(t.name));
        }
    }
    // A test sign-in may use any connection (it starts no session: check one before enabling
    // it); a console sign-in only enabled ones.
    let mut conns: Vec<_> = if test {
        connection::list(env.db(), &t.id).await?
    } else {
        connection::list_enabled(env.db(), &t.id).await?
    }
    .into_iter()
    .filter(|c| c.kind == "oidc" || c.kind == "saml" || c.is_development())
    .collect();
    // Pending connections (added in a setup session) serve their invitee: the setup session
    // itself, and — once bound — the admin that invitation made, so that admin can sign in again
    // (step-up) through it before enabling it. The transaction then carries that invitation.
    let mut pending_via: Vec<(String, String)> = Vec::new();
    if !test {
        if let Some(inv) = &setup {
            for c in connection::pending_for_invitation(env.db(), &t.id, &inv.id).await? {
                pending_via.push((c.id.clone(), inv.id.clone()));
                conns.push(c);
            }
        }
        if let Some(s) = &current {
            let pending = connection::setup_invitations(env.db(), &t.id).await?;
            for c in connection::list(env.db(), &t.id).await? {
                if c.enabled || conns.iter().any(|x| x.id == c.id) {
                    continue;
                }
                let Some(inv_id) = pending.get(&c.id).cloned() else {
                    continue;
                };
                let bound = invitation::by_id(env.db(), &t.id, &inv_id)
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
        tenant: t,
        setup,
        conns,
        pending_via,
        chosen,
        test,
        step_up,
        return_to,
        unknown_connection: q.connection.is_some() && chosen.is_none(),
    })
}

/// What the console's sign-in form leads to.
#[derive(Debug)]
pub enum ConsoleSignIn {
    /// To the IdP of the chosen connection.
    Redirect(String),
    /// No connection chosen: the page again (an error when an unknown one was asked for).
    Page(Box<Plan>),
}

/// The person's click on the console's sign-in page: starts a login transaction of purpose
/// `admin` (or `test_connection`) bound to this browser (`binding`) and sends it upstream.
/// `verified` is the edge's check of the form for the tenant's slug (token and Fetch Metadata).
pub async fn sign_in(
    env: &Env<'_>,
    slug: &str,
    q: &ConsoleQuery,
    cookies: ConsoleCookies<'_>,
    safe_return: impl Fn(&str, &str) -> bool,
    binding: Option<&str>,
    verified: impl FnOnce(&str) -> bool,
) -> Result<ConsoleSignIn, SignInError> {
    let p = plan(env, slug, q, cookies, safe_return).await?;
    let binding = match binding {
        Some(b) if verified(&p.tenant.slug) => b,
        _ => return Err(SignInError::ConsoleFormUnverified),
    };
    let Some(conn) = p.chosen.map(|i| &p.conns[i]) else {
        return Ok(ConsoleSignIn::Page(Box::new(p)));
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
    // Every console sign-in asks the IdP for a fresh authentication (OIDC max_age, SAML
    // ForceAuthn) and requires its time back: admin writes need one within the step-up window
    // (DESIGN §5), so a sign-in that reused an old IdP session would only allow reading.
    let mut areq = AuthorizeRequest::admin(purpose, !p.test, invitation_for_tx);
    // Where the console continues after the sign-in (a page of this tenant's console only).
    areq.redirect_uri = p.return_to.clone().unwrap_or_default();
    let handle = login::start(env.db(), env.clock, binding, &areq).await?;
    let tx = login::load(env.db(), env.clock, &handle, Some(binding)).await?;
    Ok(ConsoleSignIn::Redirect(
        upstream::redirect(env, &tx, &p.tenant, conn, None).await?,
    ))
}
