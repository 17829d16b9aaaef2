//! The development IdP's legs of a sign-in (ADR 0017): the redirect to Gatehouse's own sign-in
//! page for the connection, and that page's form, which checks the email and password against
//! the connection's users and then completes the sign-in like an OIDC callback would
//! ([`complete`]), groups included. Every step refuses when Gatehouse's issuer is not a loopback
//! http URL (DEVIDP0002), so a development connection left in a database that is later served
//! on a public address signs nobody in.
use authz_core::connection::{self, Connection};
use authz_core::dev_idp;
use authz_core::login::{self, LoginTx};
use authz_core::user::FederatedIdentity;
use authz_core::TenantId;

use super::complete::{complete, connection_usable, Completed, FederatedSignIn};
use super::{failure, internal, Env, Limit, Restart, SignInError, Visitor};

/// The one answer to a wrong email or a wrong password (no user enumeration).
pub const WRONG_CREDENTIALS: &str = "That email and password do not match a development user.";

fn refuse_unless_loopback(env: &Env<'_>) -> Result<(), SignInError> {
    if dev_idp::loopback_issuer(env.issuer) {
        return Ok(());
    }
    tracing::warn!(
        code = "DEVIDP0002",
        issuer = env.issuer,
        "development sign-in refused: the issuer is not a loopback http URL"
    );
    Err(SignInError::DevIdpRefused)
}

/// The path of a development connection's sign-in page.
pub fn page_path(connection_id: &str) -> String {
    format!("/federation/dev/{connection_id}")
}

/// Sends transaction `tx` to the development sign-in page of `conn` (a one-time `state` bound
/// to the transaction and so to this browser, as for OIDC).
pub(crate) async fn redirect(
    env: &Env<'_>,
    tx: &LoginTx,
    tenant: &TenantId,
    conn: &Connection,
    email: Option<&str>,
) -> Result<String, SignInError> {
    refuse_unless_loopback(env)?;
    let state = authz_core::crypto::random_token();
    login::set_upstream(env.db(), tx, tenant, &conn.id, &state, "", "").await?;
    let mut url =
        url::Url::parse(&format!("{}{}", env.issuer, page_path(&conn.id))).map_err(internal)?;
    url.query_pairs_mut().append_pair("state", &state);
    if let Some(e) = email {
        url.query_pairs_mut().append_pair("login_hint", e);
    }
    Ok(url.to_string())
}

/// What the development sign-in page shows.
#[derive(Debug)]
pub struct DevView {
    pub connection_name: String,
    pub organisation: String,
    pub state: String,
    pub email: String,
    /// [`WRONG_CREDENTIALS`] after a refused attempt.
    pub error: Option<&'static str>,
}

async fn dev_connection(env: &Env<'_>, id: &str) -> Result<Connection, SignInError> {
    let c = connection::find_for_callback(env.db(), id)
        .await
        .map_err(|_| SignInError::UnknownConnection)?;
    if !c.is_development() {
        return Err(SignInError::UnknownConnection);
    }
    refuse_unless_loopback(env)?;
    Ok(c)
}

async fn view(
    env: &Env<'_>,
    conn: &Connection,
    state: &str,
    email: &str,
) -> Result<DevView, SignInError> {
    let t = authz_core::tenant::get(env.db(), &conn.tenant).await?;
    Ok(DevView {
        connection_name: conn.name.clone(),
        organisation: t.name,
        state: state.to_string(),
        email: email.to_string(),
        error: None,
    })
}

/// The sign-in page of development connection `connection_id`.
pub async fn page(
    env: &Env<'_>,
    connection_id: &str,
    state: Option<&str>,
    login_hint: Option<&str>,
) -> Result<DevView, SignInError> {
    let conn = dev_connection(env, connection_id).await?;
    let state = state.ok_or(SignInError::Restart(Restart::NoState))?;
    view(env, &conn, state, login_hint.unwrap_or("")).await
}

/// The development sign-in form as the edge parsed it.
pub struct DevForm<'a> {
    pub connection_id: &'a str,
    pub state: Option<&'a str>,
    pub email: Option<&'a str>,
    pub password: Option<&'a str>,
    /// This browser's binding cookie: the transaction must have been started by it.
    pub binding: Option<&'a str>,
    /// This browser's session cookie (an account switch is confirmed).
    pub current_session: Option<&'a str>,
}

/// What the form leads to.
#[derive(Debug)]
pub enum DevSubmitted {
    /// The form again, with [`WRONG_CREDENTIALS`].
    Refused(DevView),
    Done(Box<Completed>),
}

/// The person's POST of the form: the password is checked first (a wrong one shows the form
/// again, the sign-in still open), then the transaction is taken (once) and completed.
pub async fn submit(
    env: &Env<'_>,
    visitor: &Visitor,
    form: DevForm<'_>,
) -> Result<DevSubmitted, SignInError> {
    visitor
        .rate_limited(env, Limit::Login, 60, super::start::LOGIN_PER_MINUTE)
        .await?;
    let conn = dev_connection(env, form.connection_id).await?;
    let state = form.state.ok_or(SignInError::Restart(Restart::NoState))?;
    let email = form.email.unwrap_or("").trim();
    let users = conn.dev_users(env.master_key).map_err(internal)?;
    let password = form.password.unwrap_or("").to_string();
    let (users, email_owned) = (users, email.to_string());
    // Hashing is CPU work: off the async executor.
    let user = tokio::task::spawn_blocking(move || users.check(&email_owned, &password).cloned())
        .await
        .map_err(internal)?;
    let Some(user) = user else {
        failure::record(
            env,
            visitor,
            &conn.tenant,
            &conn.id,
            "dev",
            "reason",
            WRONG_CREDENTIALS,
        )
        .await?;
        let mut v = view(env, &conn, state, email).await?;
        v.error = Some(WRONG_CREDENTIALS);
        return Ok(DevSubmitted::Refused(v));
    };
    let tx = login::take_by_upstream_state(env.db(), env.clock, state, form.binding)
        .await
        .map_err(|_| SignInError::Restart(Restart::UnknownResponse))?;
    if tx.connection_id.as_deref() != Some(conn.id.as_str()) {
        return Err(SignInError::Restart(Restart::OtherConnection));
    }
    if !connection_usable(env, &conn, Some(&tx)).await? {
        return Err(SignInError::Restart(Restart::Disabled));
    }
    let identity = FederatedIdentity {
        connection_id: conn.id.clone(),
        subject: user.email.clone(),
        email: Some(user.email),
        name: user.name,
        auth_time: Some(env.clock.now_s()),
        acr: None,
        amr: vec!["pwd".into()],
        groups: user.groups,
        groups_overage: false,
    };
    let signed_in = FederatedSignIn {
        tx: Some(&tx),
        tenant: &conn.tenant,
        conn: &conn,
        identity,
        upstream_refresh: None,
        current_session: form.current_session,
    };
    Ok(DevSubmitted::Done(Box::new(
        complete(env, visitor, signed_in).await?,
    )))
}
