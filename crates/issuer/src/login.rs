//! Home-realm discovery: the user gives a work email, the verified domain names the tenant,
//! the tenant's connection takes the user upstream. Tenants are never chosen by URL.
use crate::upstream::{step_up_window, Upstream};
use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use authz_core::login::{self, LoginTx};
use authz_core::{connection, resource, tenant};
use minijinja::context;

use crate::browser;
use crate::pages::PageError;
use crate::params::Params;
use crate::state::AppState;

fn expired() -> PageError {
    PageError::bad_request(
        "Sign-in cannot continue",
        "This sign-in link is missing, has expired, or belongs to another browser.",
        "Go back to the application and start signing in again.",
    )
}

async fn load_tx(
    state: &AppState,
    req: &HttpRequest,
    tx: Option<&str>,
) -> Result<LoginTx, PageError> {
    let tx = tx.ok_or_else(expired)?;
    let binding = browser::existing_binding(req);
    login::load(
        &state.store.db,
        state.clock.as_ref(),
        tx,
        binding.as_deref(),
    )
    .await
    .map_err(|_| expired())
}

async fn render(
    state: &AppState,
    req: &HttpRequest,
    tx: &LoginTx,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let view = View {
        email,
        error,
        status,
        ..View::default()
    };
    render_view(state, req, tx, view).await
}

/// What the login page shows besides the request.
struct View<'a> {
    email: &'a str,
    error: Option<&'a str>,
    status: StatusCode,
    /// The email's organisation offers several sign-in methods: (id, name) to choose from.
    choices: &'a [(String, String)],
    /// The organisation the choices belong to.
    org: Option<&'a str>,
    /// Step-up of the signed-in person: sign in again through the same connection.
    reauth: bool,
}

impl Default for View<'_> {
    fn default() -> Self {
        View {
            email: "",
            error: None,
            status: StatusCode::OK,
            choices: &[],
            org: None,
            reauth: false,
        }
    }
}

/// The login page. It never leaves for an IdP by itself: only the person's POST of its form
/// does (review F1: a third party can start any GET; a `login_hint` only pre-fills the form).
async fn render_view(
    state: &AppState,
    req: &HttpRequest,
    tx: &LoginTx,
    v: View<'_>,
) -> Result<HttpResponse, PageError> {
    let client = authz_core::client::get(&state.store.db, &tx.request.client_id)
        .await?
        .ok_or_else(expired)?;
    let res = resource::get(&state.store.db, &tx.request.resource_id).await?;
    let (binding, new_cookie) = browser::binding(state, req);
    let mut resp = state.templates.page(
        v.status,
        "login.html",
        context! {
            tx => tx.id_hash,
            csrf => browser::csrf(&binding, &tx.id_hash),
            email => v.email,
            error => v.error,
            client_name => client.client_name,
            client_unverified => client.kind != authz_core::client::ClientKind::Preregistered,
            client_host => crate::cimd::verified_host(&client),
            resource_name => res.display_name,
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

async fn render_choice(
    state: &AppState,
    req: &HttpRequest,
    tx: &LoginTx,
    email: &str,
    choices: &[(String, String)],
    org: &str,
) -> Result<HttpResponse, PageError> {
    let view = View {
        email,
        choices,
        org: Some(org),
        ..View::default()
    };
    render_view(state, req, tx, view).await
}

pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<crate::transaction::TxQuery>,
) -> Result<HttpResponse, PageError> {
    let tx = load_tx(&state, &req, q.tx.as_deref()).await?;
    // Step-up for a signed-in person: one click to sign in again at the same connection.
    if tx.request.step_up {
        if let Some(s) = browser::live_session(&state, &req).await? {
            let u = authz_core::user::get(&state.store.db, &s.tenant, &s.user_id).await?;
            let t = tenant::get(&state.store.db, &s.tenant).await?;
            let email = u.email.unwrap_or(u.subject);
            let view = View {
                email: &email,
                org: Some(&t.name),
                reauth: true,
                ..View::default()
            };
            return render_view(&state, &req, &tx, view).await;
        }
    }
    let hint = tx.request.login_hint.clone().unwrap_or_default();
    render(&state, &req, &tx, &hint, None, StatusCode::OK).await
}

pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let p = Params::parse(&body).map_err(|_| expired())?;
    if let Some(wait) = crate::limits::exceeded(&state, &req, "login", 60, LOGIN_PER_MINUTE).await?
    {
        return Err(PageError::too_many(
            "Too many sign-in attempts",
            "This network has started too many sign-ins in the last minute.",
            "Wait a minute, then go back to the application and try again.",
            wait,
        ));
    }
    let tx = load_tx(&state, &req, p.get("tx")).await?;
    if !browser::csrf_ok(&req, &tx.id_hash, p.get("csrf")) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Sign-in cannot continue",
            "The form could not be verified (it may have been sent from another site or an old tab).",
            "Go back to the application and start signing in again.",
        ));
    }
    if p.get("reauth") == Some("1") && tx.request.step_up {
        if let Some(s) = browser::live_session(&state, &req).await? {
            let t = tenant::get(&state.store.db, &s.tenant).await?;
            let conn = connection::get(&state.store.db, &s.tenant, &s.connection_id).await?;
            return redirect_to_connection(&state, &tx, &t, &conn).await;
        }
    }
    let email = p.get("email").unwrap_or("").trim().to_string();
    if !email.contains('@') || email.len() > 254 {
        return render(
            &state,
            &req,
            &tx,
            &email,
            Some("Enter your full work email address, like name@company.com."),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    match go_upstream(&state, &tx, &email, p.get("connection")).await {
        Ok(resp) => Ok(resp),
        Err(UpstreamError::Page(e)) => Err(e),
        Err(UpstreamError::Choose(org, choices)) => {
            render_choice(&state, &req, &tx, &email, &choices, &org).await
        }
        Err(UpstreamError::Form(msg)) => {
            render(
                &state,
                &req,
                &tx,
                &email,
                Some(&msg),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

/// Sign-in form submissions accepted per source address and minute (shared by every node).
pub const LOGIN_PER_MINUTE: i64 = 60;

enum UpstreamError {
    /// Shown on the login form so the user can correct the address.
    Form(String),
    /// The organisation (named) has several connections: (id, name) to choose from.
    Choose(String, Vec<(String, String)>),
    Page(PageError),
}

impl From<authz_core::CoreError> for UpstreamError {
    fn from(e: authz_core::CoreError) -> Self {
        UpstreamError::Page(e.into())
    }
}

/// Finds the tenant for `email` and redirects to its connection's IdP.
async fn go_upstream(
    state: &AppState,
    tx: &LoginTx,
    email: &str,
    chosen: Option<&str>,
) -> Result<HttpResponse, UpstreamError> {
    let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    let Some(t) = tenant::find_by_email_domain(&state.store.db, email).await? else {
        return Err(UpstreamError::Form(format!(
            "No organisation signs in here with the domain '{domain}'. Check the address, or ask your IT administrator whether your organisation is set up."
        )));
    };
    if authz_core::incident::is_suspended(&state.store.db, &t.id).await? {
        return Err(UpstreamError::Form(format!(
            "{}'s access to this service is suspended. Ask your IT administrator.",
            t.name
        )));
    }
    let conns: Vec<_> = connection::list_enabled(&state.store.db, &t.id)
        .await?
        .into_iter()
        .filter(|c| c.kind == "oidc" || c.kind == "saml")
        .collect();
    let conn = match (chosen, conns.len()) {
        (_, 0) => {
            return Err(UpstreamError::Form(format!(
                "{} has no sign-in method configured yet. Ask your IT administrator to connect your identity provider.",
                t.name
            )))
        }
        // Only a connection of the tenant the email's domain named can be chosen.
        (Some(id), _) => conns.into_iter().find(|c| c.id == id).ok_or_else(|| {
            UpstreamError::Form("That sign-in method is not available for this address.".into())
        })?,
        (None, 1) => conns.into_iter().next().expect("one connection"),
        (None, _) => {
            return Err(UpstreamError::Choose(
                t.name.clone(),
                conns.into_iter().map(|c| (c.id, c.name)).collect(),
            ))
        }
    };
    redirect_upstream(state, tx, &t, &conn, Some(email)).await
}

/// Sends the browser to `conn`'s IdP, asking for a fresh authentication when the request
/// needs step-up.
async fn redirect_upstream(
    state: &AppState,
    tx: &LoginTx,
    t: &tenant::Tenant,
    conn: &connection::Connection,
    email: Option<&str>,
) -> Result<HttpResponse, UpstreamError> {
    if conn.kind == "saml" {
        return crate::saml_sp::redirect(state, tx, &t.id, conn)
            .await
            .map_err(UpstreamError::Page);
    }
    let up = Upstream::load(state, &t.id, conn)
        .await
        .map_err(UpstreamError::Page)?;
    let cfg = up.cfg(conn);
    let step_up = step_up_window(tx);
    let begin = state.rp_for(conn).begin(&cfg, email, step_up).await.map_err(|e| {
        tracing::warn!(code = "LOGIN0002", tenant = %t.id.0, connection = %conn.id, error = %e, "upstream sign-in could not start");
        UpstreamError::Page(PageError::new(
            StatusCode::BAD_GATEWAY,
            "Your organisation's sign-in is unavailable",
            format!("Gatehouse could not reach the identity provider of {}.", t.name),
            "Try again in a few minutes. If it persists, tell your IT administrator (error OIDC0002).",
        ))
    })?;
    login::set_upstream(
        &state.store.db,
        tx,
        &t.id,
        &conn.id,
        &begin.state,
        &begin.nonce,
        &begin.pkce_verifier,
    )
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, begin.url))
        .finish())
}

/// Sends the browser to `conn`'s IdP for transaction `tx` (the admin console's sign-in).
pub(crate) async fn redirect_to_connection(
    state: &AppState,
    tx: &LoginTx,
    t: &tenant::Tenant,
    conn: &connection::Connection,
) -> Result<HttpResponse, PageError> {
    match redirect_upstream(state, tx, t, conn, None).await {
        Ok(r) => Ok(r),
        Err(UpstreamError::Page(e)) => Err(e),
        Err(UpstreamError::Form(m)) => Err(PageError::bad_request(
            "Sign-in cannot continue",
            m,
            "Go back to the console and try again.",
        )),
        Err(UpstreamError::Choose(..)) => Err(expired()),
    }
}
