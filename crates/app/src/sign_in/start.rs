//! Home-realm discovery: the person gives a work email, its verified domain names the tenant,
//! the tenant's connection takes the person upstream. Tenants are never chosen by URL. The login
//! page never leaves for an IdP by itself: only the person's POST of its form does (review F1:
//! a third party can start any GET; a `login_hint` only pre-fills the form).
use authz_core::client::Client;
use authz_core::login::{self, LoginTx};
use authz_core::resource::{self, Resource};
use authz_core::{connection, tenant};

use super::{upstream, Env, Limit, Restart, SignInError, Visitor};

/// Sign-in form submissions accepted per source address and minute (shared by every node).
pub const LOGIN_PER_MINUTE: i64 = 60;

/// What the login page shows.
#[derive(Debug)]
pub struct LoginView {
    pub tx: LoginTx,
    /// The application asking, and the resource it wants; none for a direct sign-in at
    /// `/account` (purpose `account`).
    pub client: Option<Client>,
    pub resource: Option<Resource>,
    /// The address to pre-fill.
    pub email: String,
    /// Why the form was refused (shown with 400), if it was.
    pub error: Option<String>,
    /// The organisation (its name) of the choices, or of the signed-in person on step-up.
    pub org: Option<String>,
    /// The email's organisation offers several sign-in methods: (id, name) to choose from.
    pub choices: Vec<(String, String)>,
    /// Step-up of the signed-in person: sign in again through the same connection.
    pub reauth: bool,
}

/// The login transaction `tx` of this browser (its binding cookie).
async fn load_tx(
    env: &Env<'_>,
    tx: Option<&str>,
    binding: Option<&str>,
) -> Result<LoginTx, SignInError> {
    let expired = SignInError::Restart(Restart::LinkExpired);
    let tx = tx.ok_or(SignInError::Restart(Restart::LinkExpired))?;
    login::load(env.db(), env.clock, tx, binding)
        .await
        .map_err(|e| e.unless_unavailable(expired))
}

async fn view(
    env: &Env<'_>,
    tx: LoginTx,
    email: String,
    org: Option<String>,
) -> Result<LoginView, SignInError> {
    let (client, resource) = if tx.request.purpose == login::Purpose::Account {
        (None, None)
    } else {
        let client = authz_core::client::get(env.db(), &tx.request.client_id)
            .await?
            .ok_or(SignInError::Restart(Restart::LinkExpired))?;
        let resource = resource::get(env.db(), &tx.request.resource_id).await?;
        (Some(client), Some(resource))
    };
    Ok(LoginView {
        tx,
        client,
        resource,
        email,
        error: None,
        org,
        choices: vec![],
        reauth: false,
    })
}

/// The login page of transaction `tx`. On step-up with a live session (`current_session`), the
/// page offers one click to sign in again at the same connection.
pub async fn page(
    env: &Env<'_>,
    tx: Option<&str>,
    binding: Option<&str>,
    current_session: Option<&str>,
) -> Result<LoginView, SignInError> {
    let tx = load_tx(env, tx, binding).await?;
    if tx.request.step_up {
        if let Some(s) = live_session(env, current_session).await? {
            let u = authz_core::user::get(env.db(), &s.tenant, &s.user_id).await?;
            let t = tenant::get(env.db(), &s.tenant).await?;
            let mut v = view(env, tx, u.email.unwrap_or(u.subject), Some(t.name)).await?;
            v.reauth = true;
            return Ok(v);
        }
    }
    let hint = tx.request.login_hint.clone().unwrap_or_default();
    view(env, tx, hint, None).await
}

async fn live_session(
    env: &Env<'_>,
    cookie: Option<&str>,
) -> Result<Option<authz_core::session::Session>, SignInError> {
    Ok(match cookie {
        Some(c) => authz_core::session::find_active(env.db(), env.clock, c).await?,
        None => None,
    })
}

/// The login form as the edge parsed it.
pub struct LoginForm<'a> {
    pub tx: Option<&'a str>,
    pub email: Option<&'a str>,
    /// The connection chosen among several of the organisation.
    pub connection: Option<&'a str>,
    /// `1`: sign in again at the current session's connection (step-up).
    pub reauth: Option<&'a str>,
}

/// What the form leads to.
#[derive(Debug)]
pub enum Submitted {
    /// To the IdP.
    Redirect(String),
    /// The form again (400 when it carries an error; the organisation's choices otherwise).
    Form(Box<LoginView>),
}

/// The person's POST of the login form. `verified` is the edge's CSRF check of the form for a
/// transaction id hash (Fetch Metadata and the binding-derived token).
pub async fn submit(
    env: &Env<'_>,
    visitor: &Visitor,
    form: LoginForm<'_>,
    binding: Option<&str>,
    verified: impl FnOnce(&str) -> bool,
    current_session: Option<&str>,
) -> Result<Submitted, SignInError> {
    visitor
        .rate_limited(env, Limit::Login, 60, LOGIN_PER_MINUTE)
        .await?;
    let tx = load_tx(env, form.tx, binding).await?;
    if !verified(&tx.id_hash) {
        return Err(SignInError::LoginFormUnverified);
    }
    if form.reauth == Some("1") && tx.request.step_up {
        if let Some(s) = live_session(env, current_session).await? {
            let t = tenant::get(env.db(), &s.tenant).await?;
            let conn = connection::get(env.db(), &s.tenant, &s.connection_id).await?;
            return Ok(Submitted::Redirect(
                upstream::redirect(env, &tx, &t, &conn, None).await?,
            ));
        }
    }
    let email = form.email.unwrap_or("").trim().to_string();
    if !email.contains('@') || email.len() > 254 {
        let msg = "Enter your full work email address, like name@company.com.";
        return form_error(env, tx, email, msg.into()).await;
    }
    match discover(env, &email, form.connection).await? {
        Discovered::Connection(found) => {
            let (t, conn) = *found;
            let url = upstream::redirect(env, &tx, &t, &conn, Some(&email)).await?;
            Ok(Submitted::Redirect(url))
        }
        Discovered::Form(msg) => form_error(env, tx, email, msg).await,
        Discovered::Choose(org, choices) => {
            let mut v = view(env, tx, email, Some(org)).await?;
            v.choices = choices;
            Ok(Submitted::Form(Box::new(v)))
        }
    }
}

async fn form_error(
    env: &Env<'_>,
    tx: LoginTx,
    email: String,
    msg: String,
) -> Result<Submitted, SignInError> {
    let mut v = view(env, tx, email, None).await?;
    v.error = Some(msg);
    Ok(Submitted::Form(Box::new(v)))
}

enum Discovered {
    Connection(Box<(tenant::Tenant, connection::Connection)>),
    /// Shown on the login form so the person can correct the address.
    Form(String),
    /// The organisation (named) has several connections: (id, name) to choose from.
    Choose(String, Vec<(String, String)>),
}

/// The tenant of `email`'s domain and its connection (the one `chosen`, or the only one).
async fn discover(
    env: &Env<'_>,
    email: &str,
    chosen: Option<&str>,
) -> Result<Discovered, SignInError> {
    let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    let Some(t) = tenant::find_by_email_domain(env.db(), email).await? else {
        return Ok(Discovered::Form(format!(
            "No organisation signs in here with the domain '{domain}'. Check the address, or ask your IT administrator whether your organisation is set up."
        )));
    };
    if authz_core::incident::is_suspended(env.db(), &t.id).await? {
        return Ok(Discovered::Form(format!(
            "{}'s access to this service is suspended. Ask your IT administrator.",
            t.name
        )));
    }
    let conns: Vec<_> = connection::list_enabled(env.db(), &t.id)
        .await?
        .into_iter()
        .filter(|c| c.kind == "oidc" || c.kind == "saml" || c.is_development())
        .collect();
    let conn = match (chosen, conns.len()) {
        (_, 0) => {
            return Ok(Discovered::Form(format!(
                "{} has no sign-in method configured yet. Ask your IT administrator to connect your identity provider.",
                t.name
            )))
        }
        // Only a connection of the tenant the email's domain named can be chosen.
        (Some(id), _) => match conns.into_iter().find(|c| c.id == id) {
            Some(c) => c,
            None => {
                return Ok(Discovered::Form(
                    "That sign-in method is not available for this address.".into(),
                ))
            }
        },
        (None, 1) => conns.into_iter().next().expect("one connection"),
        (None, _) => {
            return Ok(Discovered::Choose(
                t.name.clone(),
                conns.into_iter().map(|c| (c.id, c.name)).collect(),
            ))
        }
    };
    Ok(Discovered::Connection(Box::new((t, conn))))
}
