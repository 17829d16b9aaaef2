//! The redirect out to a connection's IdP, and what both legs of an upstream OIDC sign-in (the
//! redirect out, the callback in) need about a connection: its opened secret, redirect URI,
//! preset and the tenant's domains.
use authz_core::connection::Connection;
use authz_core::login::{self, LoginTx};
use authz_core::{tenant, TenantId};
use oidc_federation::{Preset, RpConfig};

use super::{internal, Env, SignInError};

pub(crate) struct Upstream {
    pub preset: Preset,
    secret: String,
    redirect_uri: String,
    domains: Vec<String>,
}

impl Upstream {
    pub async fn load(
        env: &Env<'_>,
        tenant: &TenantId,
        conn: &Connection,
    ) -> Result<Self, SignInError> {
        Ok(Upstream {
            preset: Preset::from_stored(&conn.preset, &conn.settings),
            secret: conn.client_secret(env.master_key).map_err(internal)?,
            redirect_uri: callback_uri(env.issuer, &conn.id),
            domains: authz_core::tenant::domains(env.db(), tenant).await?,
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

/// The connection's OIDC redirect URI (the issuer's `/federation/oidc/{id}/callback` route).
pub(crate) fn callback_uri(issuer: &str, connection_id: &str) -> String {
    format!("{issuer}/federation/oidc/{connection_id}/callback")
}

/// The freshness window asked of the IdP (OIDC `max_age`), when the request needs step-up.
pub(crate) fn step_up_window(tx: &LoginTx) -> Option<i64> {
    tx.request
        .step_up
        .then_some(authz_core::token::refresh::STEP_UP_WINDOW_SECS)
}

/// The freshness window the answer must prove. A console sign-in asks for a fresh
/// authentication but is not refused without one: it is read-only until a fresh one (the
/// console's writes check the session's authentication time, ADR 0007).
pub(crate) fn enforced_window(tx: &LoginTx) -> Option<i64> {
    if tx.request.purpose == login::Purpose::Admin {
        return None;
    }
    step_up_window(tx)
}

/// Sends transaction `tx` to `conn`'s IdP, asking for a fresh authentication when the request
/// needs step-up: the URL to redirect the browser to.
pub(crate) async fn redirect(
    env: &Env<'_>,
    tx: &LoginTx,
    t: &tenant::Tenant,
    conn: &Connection,
    email: Option<&str>,
) -> Result<String, SignInError> {
    if conn.kind == "saml" {
        return super::saml::redirect(env, tx, &t.id, conn).await;
    }
    if conn.is_development() {
        return super::dev::redirect(env, tx, &t.id, conn, email).await;
    }
    let up = Upstream::load(env, &t.id, conn).await?;
    let cfg = up.cfg(conn);
    let step_up = step_up_window(tx);
    let begin = env.rp_for(conn).begin(&cfg, email, step_up).await.map_err(|e| {
        tracing::warn!(code = "LOGIN0002", tenant = %t.id.as_str(), connection = %conn.id, error = %e, "upstream sign-in could not start");
        SignInError::UpstreamUnavailable { org: t.name.clone() }
    })?;
    login::set_upstream(
        env.db(),
        tx,
        &t.id,
        &conn.id,
        &begin.state,
        &begin.nonce,
        &begin.pkce_verifier,
    )
    .await?;
    Ok(begin.url)
}
