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

#[derive(serde::Deserialize)]
pub struct TxQuery {
    pub tx: Option<String>,
}

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
    render_choice(state, req, tx, email, error, status, &[]).await
}

/// The login page; with `choices`, the email's organisation has several sign-in methods and the
/// user picks one (e.g. during a move from one IdP to another).
async fn render_choice(
    state: &AppState,
    req: &HttpRequest,
    tx: &LoginTx,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
    choices: &[(String, String)],
) -> Result<HttpResponse, PageError> {
    let client = authz_core::client::get(&state.store.db, &tx.request.client_id)
        .await?
        .ok_or_else(expired)?;
    let res = resource::get(&state.store.db, &tx.request.resource_id).await?;
    let binding = browser::existing_binding(req).unwrap_or_default();
    Ok(state.templates.page(
        status,
        "login.html",
        context! {
            tx => tx.id_hash,
            csrf => browser::csrf(&binding, &tx.id_hash),
            email => email,
            error => error,
            client_name => client.client_name,
            client_unverified => client.kind != authz_core::client::ClientKind::Preregistered,
            resource_name => res.display_name,
            choices => choices.iter().map(|(id, name)| context! { id => id, name => name }).collect::<Vec<_>>(),
        },
    ))
}

pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<TxQuery>,
) -> Result<HttpResponse, PageError> {
    let tx = load_tx(&state, &req, q.tx.as_deref()).await?;
    // Step-up for a signed-in user: back to the same IdP connection, asking for a fresh login.
    if tx.request.step_up {
        if let Some(c) = req.cookie(browser::SESSION_COOKIE) {
            if let Some(s) =
                authz_core::session::find_active(&state.store.db, state.clock.as_ref(), c.value())
                    .await?
            {
                let t = tenant::get(&state.store.db, &s.tenant).await?;
                let conn = connection::get(&state.store.db, &s.tenant, &s.connection_id).await?;
                return match redirect_upstream(&state, &tx, &t, &conn, None).await {
                    Ok(r) => Ok(r),
                    Err(UpstreamError::Page(e)) => Err(e),
                    Err(UpstreamError::Form(m)) => {
                        render(&state, &req, &tx, "", Some(&m), StatusCode::BAD_REQUEST).await
                    }
                    Err(UpstreamError::Choose(_)) => Err(expired()),
                };
            }
        }
    }
    if let Some(hint) = tx.request.login_hint.clone() {
        return match go_upstream(&state, &tx, &hint, None).await {
            Ok(resp) => Ok(resp),
            Err(UpstreamError::Choose(choices)) => {
                render_choice(&state, &req, &tx, &hint, None, StatusCode::OK, &choices).await
            }
            Err(_) => render(&state, &req, &tx, &hint, None, StatusCode::OK).await,
        };
    }
    render(&state, &req, &tx, "", None, StatusCode::OK).await
}

pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let p = Params::parse(&body).map_err(|_| expired())?;
    let bucket = format!("login:{}", crate::params::peer_ip(&req));
    if authz_core::ratelimit::hit(&state.store.db, state.clock.as_ref(), &bucket, 60).await?
        > LOGIN_PER_MINUTE
    {
        return Err(PageError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts",
            "This network has started too many sign-ins in the last minute.",
            "Wait a minute, then go back to the application and try again.",
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
        Err(UpstreamError::Choose(choices)) => {
            render_choice(&state, &req, &tx, &email, None, StatusCode::OK, &choices).await
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
    /// The organisation has several connections: (id, name) to choose from.
    Choose(Vec<(String, String)>),
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
        Err(UpstreamError::Choose(_)) => Err(expired()),
    }
}
