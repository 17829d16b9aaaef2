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

/// The freshness window the IdP authentication must meet, when the request needs step-up.
pub fn step_up_window(tx: &LoginTx) -> Option<i64> {
    tx.request
        .step_up
        .then_some(authz_core::token::refresh::STEP_UP_WINDOW_SECS)
}
