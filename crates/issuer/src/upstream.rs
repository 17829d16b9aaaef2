//! What both legs of an upstream OIDC sign-in (the redirect out, the callback in) need about a
//! connection: its opened secret, redirect URI, preset and the tenant's domains.
use authz_core::connection::Connection;
use authz_core::login::LoginTx;
use authz_core::TenantId;
use oidc_federation::{Preset, RpConfig};

use crate::pages::PageError;
use crate::state::AppState;

pub struct Upstream {
    pub preset: Preset,
    secret: String,
    redirect_uri: String,
    domains: Vec<String>,
}

impl Upstream {
    pub async fn load(
        state: &AppState,
        tenant: &TenantId,
        conn: &Connection,
    ) -> Result<Self, PageError> {
        Ok(Upstream {
            preset: Preset::from_stored(&conn.preset, &conn.settings),
            secret: conn
                .client_secret(&state.master_key)
                .map_err(PageError::internal)?,
            redirect_uri: state.config.callback_uri(&conn.id),
            domains: authz_core::tenant::domains(&state.store.db, tenant).await?,
        })
    }

    pub fn cfg<'a>(&'a self, conn: &'a Connection) -> RpConfig<'a> {
        RpConfig {
            connection_id: &conn.id,
            issuer: &conn.issuer,
            client_id: &conn.client_id,
            client_secret: &self.secret,
            redirect_uri: &self.redirect_uri,
            preset: &self.preset,
            tenant_domains: &self.domains,
        }
    }
}

/// The freshness window asked of the IdP (OIDC `max_age`), when the request needs step-up.
pub fn step_up_window(tx: &LoginTx) -> Option<i64> {
    tx.request
        .step_up
        .then_some(authz_core::token::refresh::STEP_UP_WINDOW_SECS)
}

/// The freshness window the answer must prove. A console sign-in asks for a fresh
/// authentication but is not refused without one: it is read-only until a fresh one (the
/// console's writes check the session's authentication time, ADR 0007).
pub fn enforced_window(tx: &LoginTx) -> Option<i64> {
    if tx.request.purpose == authz_core::login::Purpose::Admin {
        return None;
    }
    step_up_window(tx)
}

/// The common end of every upstream sign-in (OIDC callback, SAML completion): find or create
/// the user by (connection, subject), start a Gatehouse session carrying the IdP's
/// authentication time, audit it, and continue to consent.
pub async fn complete_sign_in(
    state: &AppState,
    req: &actix_web::HttpRequest,
    tx: Option<&LoginTx>,
    tenant: &TenantId,
    conn: &Connection,
    identity: authz_core::user::FederatedIdentity,
) -> Result<actix_web::HttpResponse, PageError> {
    complete_sign_in_with(state, req, tx, tenant, conn, identity, None).await
}

/// [`complete_sign_in`] keeping the upstream refresh token the IdP granted (OIDC offline
/// access), so refreshes can ask the IdP again whether the person may still sign in (DESIGN §4b).
pub async fn complete_sign_in_with(
    state: &AppState,
    req: &actix_web::HttpRequest,
    tx: Option<&LoginTx>,
    tenant: &TenantId,
    conn: &Connection,
    identity: authz_core::user::FederatedIdentity,
    upstream_refresh: Option<&str>,
) -> Result<actix_web::HttpResponse, PageError> {
    use actix_web::http::{header, StatusCode};
    use authz_core::audit::{self, AuditEvent};
    use authz_core::{login, session};

    use crate::browser;
    use crate::params::{peer_ip, user_agent};

    let clock = state.clock.as_ref();
    refuse_if_suspended(state, tenant).await?;
    let purpose = tx.map(|t| t.request.purpose).unwrap_or_default();
    if purpose == login::Purpose::TestConnection {
        let tx = tx.expect("a test sign-in has a transaction");
        return crate::admin_test::test_result(state, req, tx, tenant, conn, &identity).await;
    }
    // Only an auth_time the IdP asserted counts for step-up; without one the session's
    // authentication time is unknown (0) and never fresh enough for critical scopes.
    let now_s = clock.now_s();
    let auth_time_us =
        identity.auth_time.map(|t| t.min(now_s)).unwrap_or(0) * authz_core::clock::MICROS;
    let txn = state.store.begin().await.map_err(PageError::internal)?;
    let (u, created) =
        match authz_core::directory::admission::admit(&txn, clock, tenant, conn, &identity).await {
            Ok(x) => x,
            Err(authz_core::CoreError::Invalid(m)) => {
                return Err(PageError::new(
                    StatusCode::FORBIDDEN,
                    "Access is not allowed",
                    m,
                    "Ask your IT administrator.",
                ));
            }
            Err(e) => return Err(e.into()),
        };
    let origin = session::Origin {
        auth_time: auth_time_us,
        acr: identity.acr.as_deref(),
        amr: &identity.amr,
        idp_initiated: tx.is_none(),
    };
    let (cookie_value, sess) =
        session::create_with_context(&txn, clock, tenant, &u.id, &conn.id, &origin).await?;
    session::set_idp_groups(&txn, &sess.id, &identity.groups).await?;
    // When the IdP last vouched for the person, and (MCP sign-ins only) its refresh token.
    let authorizing = purpose == login::Purpose::Authorize;
    authz_core::upstream_session::record_sign_in(
        &txn,
        clock,
        &state.master_key,
        &authz_core::upstream_session::SignIn {
            tenant,
            session_id: &sess.id,
            connection_id: &conn.id,
            user_id: &u.id,
            refresh_token: upstream_refresh.filter(|_| authorizing),
            reuse_previous: authorizing
                && conn.kind == "oidc"
                && Preset::from_stored(&conn.preset, &conn.settings)
                    .offline_access()
                    .reuse_previous,
        },
    )
    .await?;
    let mut admin_bound = false;
    match tx {
        Some(tx) if purpose == login::Purpose::Admin => {
            login::consume(&txn, clock, tx).await?;
            if let Some(inv) = &tx.request.invitation {
                admin_bound = authz_core::admin::invitation::bind(
                    &txn,
                    clock,
                    tenant,
                    inv,
                    &u.id,
                    identity.email.as_deref(),
                )
                .await?;
            }
        }
        Some(tx) => login::set_session(&txn, tx, tenant, &sess.id).await?,
        None => {}
    }
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "user.signed_in")
            .user(u.id.clone())
            .session(sess.id.clone())
            .source(Some(peer_ip(req)), user_agent(req))
            .detail("connection_id", conn.id.as_str())
            .detail("protocol", conn.kind.as_str())
            .detail("auth_time", identity.auth_time)
            .detail("acr", identity.acr.clone())
            .detail("amr", identity.amr.clone())
            .detail("step_up", tx.map(|t| t.request.step_up).unwrap_or(false))
            .detail("idp_initiated", tx.is_none())
            .detail("groups", identity.groups.clone())
            .detail("groups_overage", identity.groups_overage)
            .detail("jit_created", created)
            .detail("purpose", format!("{purpose:?}").to_lowercase())
            .detail("admin_role_bound", admin_bound)
            .detail("upstream_refresh_token", upstream_refresh.is_some()),
    )
    .await?;
    txn.commit().await.map_err(PageError::internal)?;
    let next = match tx {
        Some(tx) if purpose == login::Purpose::Admin => {
            let slug = authz_core::tenant::get(&state.store.db, tenant).await?.slug;
            let back = &tx.request.redirect_uri;
            if crate::console_path::safe_return(back, &slug) {
                format!("{}{back}", state.issuer())
            } else {
                format!("{}/admin/t/{slug}/", state.issuer())
            }
        }
        Some(tx) => crate::transaction::consent_url(state.issuer(), &tx.id_hash),
        None => format!("{}/account", state.issuer()),
    };
    // A live session of another person or organisation is never replaced silently: the person
    // confirms the switch (review F1).
    if let Some(previous) = crate::switch::other_session(state, req, tenant, &u.id).await? {
        return crate::switch::confirm_page(state, &previous, &sess, cookie_value, &next).await;
    }
    let mut resp = actix_web::HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next))
        .finish();
    resp.add_cookie(&browser::cookie(
        state,
        &browser::session_cookie_name(state),
        cookie_value,
        authz_core::session::SESSION_SECS,
    ))
    .map_err(PageError::internal)?;
    Ok(resp)
}

/// A suspended tenant signs nobody in (incident response, issue 11 §3).
pub async fn refuse_if_suspended(state: &AppState, tenant: &TenantId) -> Result<(), PageError> {
    if authz_core::incident::is_suspended(&state.store.db, tenant).await? {
        return Err(PageError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "Sign-in is suspended",
            "Your organisation's access to this service is suspended.",
            "Ask your IT administrator.",
        ));
    }
    Ok(())
}

/// Audits a refused upstream sign-in (its own transaction: nothing else changed).
pub async fn record_failure(
    state: &AppState,
    req: &actix_web::HttpRequest,
    tenant: &TenantId,
    connection_id: &str,
    protocol: &str,
    key: &str,
    value: &str,
) -> Result<(), PageError> {
    use authz_core::audit::{self, AuditEvent};
    let txn = state.store.begin().await.map_err(PageError::internal)?;
    audit::record(
        &txn,
        state.clock.as_ref(),
        AuditEvent::new(Some(tenant), "user.sign_in_failed")
            .result("failure")
            .source(
                Some(crate::params::peer_ip(req)),
                crate::params::user_agent(req),
            )
            .detail("connection_id", connection_id)
            .detail("protocol", protocol)
            .detail(key, value),
    )
    .await?;
    txn.commit().await.map_err(PageError::internal)
}

/// May this sign-in use `conn`? An enabled connection, yes. A disabled one for a test sign-in
/// (started only by an admin or an invitee; it starts no session), or when it is pending on an
/// invitation's setup session and this is that invitee's console sign-in (ADR 0007).
pub async fn connection_usable(
    state: &AppState,
    conn: &Connection,
    tx: Option<&LoginTx>,
) -> Result<bool, PageError> {
    if conn.enabled {
        return Ok(true);
    }
    let Some(tx) = tx else { return Ok(false) };
    match tx.request.purpose {
        authz_core::login::Purpose::Authorize => return Ok(false),
        // Only an admin or an invitee can start one, and it starts no session.
        authz_core::login::Purpose::TestConnection => return Ok(true),
        authz_core::login::Purpose::Admin => {}
    }
    let Some(inv) = tx.request.invitation.as_deref() else {
        return Ok(false);
    };
    Ok(
        authz_core::connection::setup_invitation(&state.store.db, &conn.tenant, &conn.id)
            .await?
            .as_deref()
            == Some(inv),
    )
}
