//! Login transactions: the server-side state of one authorization request while the user signs
//! in upstream and consents. Stored in the database so any node can continue it; bound to the
//! browser that started it by a second random value kept in a cookie (DESIGN §6.8).
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, MICROS};
use crate::crypto::{hashes_equal, random_token, sha256_hex};
use crate::entities::login_transactions;
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

/// Ten minutes to sign in and consent.
pub const LOGIN_SECS: i64 = 600;

fn yes() -> bool {
    true
}

/// A validated authorization request (RFC 6749 §4.1.1 + PKCE + RFC 8707).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub resource_id: String,
    /// Requested scopes that are in the resource's catalogue.
    pub scopes: Vec<String>,
    pub login_hint: Option<String>,
    /// A critical-tier scope was requested: the user must have authenticated at the IdP within
    /// the step-up window (DESIGN §5).
    #[serde(default)]
    pub step_up: bool,
    /// Whether the client sent `redirect_uri` (RFC 6749 §4.1.3: only then must the token
    /// request repeat it).
    #[serde(default = "yes")]
    pub redirect_uri_given: bool,
    /// Why the user signs in: an OAuth authorization (default), the admin console, or an
    /// admin's "test connection" sign-in (shows the claims, starts no session).
    #[serde(default)]
    pub purpose: Purpose,
    /// A console sign-in started from an invitation's setup-only session: the invitation the
    /// admin role is bound to if the IdP-asserted email matches.
    #[serde(default)]
    pub invitation: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    #[default]
    Authorize,
    Admin,
    TestConnection,
    /// A person signing in directly at `/account` (issue 16 §3), to see their connected apps,
    /// manage their API keys and sign out: no client, no resource, no consent step.
    Account,
}

impl AuthorizeRequest {
    /// A direct sign-in to the person's account page; `back` is the `/account…` page to return
    /// to (the edge checks it again before redirecting).
    pub fn account(back: Option<String>) -> Self {
        let mut r = Self::admin(Purpose::Account, false, None);
        r.redirect_uri = back.unwrap_or_default();
        r
    }

    /// A sign-in to the admin console of a tenant (no client, no resource).
    pub fn admin(purpose: Purpose, step_up: bool, invitation: Option<String>) -> Self {
        AuthorizeRequest {
            client_id: String::new(),
            redirect_uri: String::new(),
            state: None,
            code_challenge: String::new(),
            resource_id: String::new(),
            scopes: Vec::new(),
            login_hint: None,
            step_up,
            redirect_uri_given: false,
            purpose,
            invitation,
        }
    }
}

#[derive(Clone, Debug)]
pub struct LoginTx {
    /// The transaction handle.
    pub id_hash: String,
    pub request: AuthorizeRequest,
    pub tenant: Option<TenantId>,
    pub connection_id: Option<String>,
    pub upstream_nonce: Option<String>,
    pub upstream_verifier: Option<String>,
    pub session_hash: Option<String>,
}

fn to_tx(m: login_transactions::Model) -> CoreResult<LoginTx> {
    Ok(LoginTx {
        request: serde_json::from_str(&m.request)
            .map_err(|_| CoreError::invalid("corrupt login transaction"))?,
        id_hash: m.id_hash,
        tenant: m.tenant_id.map(TenantId::from_stored),
        connection_id: m.connection_id,
        upstream_nonce: m.upstream_nonce,
        upstream_verifier: m.upstream_verifier,
        session_hash: m.session_hash,
    })
}

/// Starts a transaction. Returns its handle, which goes in URLs and forms: knowing it is not
/// enough to continue the transaction, the browser-binding cookie must match too.
pub async fn start<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    browser: &str,
    req: &AuthorizeRequest,
) -> CoreResult<String> {
    let handle = random_token();
    let now = clock.now_us();
    login_transactions::Entity::insert(login_transactions::ActiveModel {
        id_hash: Set(handle.clone()),
        browser_hash: Set(sha256_hex(browser)),
        request: Set(serde_json::to_string(req).unwrap_or_default()),
        tenant_id: Set(None),
        connection_id: Set(None),
        upstream_state_hash: Set(None),
        upstream_nonce: Set(None),
        upstream_verifier: Set(None),
        session_hash: Set(None),
        created_at: Set(now),
        expires_at: Set(now + LOGIN_SECS * MICROS),
        consumed_at: Set(None),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(handle)
}

/// Loads a live transaction without a browser check: only for a cross-site POST from an IdP
/// (SAML ACS), which carries no cookie; the browser binding is checked at the same-site step
/// that follows.
pub async fn load_unbound<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    handle: &str,
) -> CoreResult<LoginTx> {
    let m = login_transactions::Entity::find_by_id(handle.to_string())
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("sign-in request"))?;
    if m.consumed_at.is_some() || m.expires_at <= clock.now_us() {
        return Err(CoreError::invalid(
            "this sign-in request has expired or was already completed",
        ));
    }
    to_tx(m)
}

/// Loads a live transaction, checking that the same browser presents it.
pub async fn load<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    handle: &str,
    browser: Option<&str>,
) -> CoreResult<LoginTx> {
    let m = login_transactions::Entity::find_by_id(handle.to_string())
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("sign-in request"))?;
    check(&m, clock, browser)?;
    to_tx(m)
}

fn check(
    m: &login_transactions::Model,
    clock: &dyn Clock,
    browser: Option<&str>,
) -> CoreResult<()> {
    if m.consumed_at.is_some() || m.expires_at <= clock.now_us() {
        return Err(CoreError::invalid(
            "this sign-in request has expired or was already completed",
        ));
    }
    match browser {
        Some(b) if hashes_equal(&m.browser_hash, &sha256_hex(b)) => Ok(()),
        _ => Err(CoreError::invalid(
            "this sign-in request was started in another browser",
        )),
    }
}

/// Records the upstream leg: tenant, connection, and the state/nonce/PKCE verifier sent upstream.
pub async fn set_upstream<C: ConnectionTrait>(
    conn: &C,
    tx: &LoginTx,
    tenant: &TenantId,
    connection_id: &str,
    upstream_state: &str,
    nonce: &str,
    verifier: &str,
) -> CoreResult<()> {
    login_transactions::Entity::update_many()
        .col_expr(
            login_transactions::Column::TenantId,
            Some(tenant.to_string()).into(),
        )
        .col_expr(
            login_transactions::Column::ConnectionId,
            Some(connection_id.to_string()).into(),
        )
        .col_expr(
            login_transactions::Column::UpstreamStateHash,
            Some(sha256_hex(upstream_state)).into(),
        )
        .col_expr(
            login_transactions::Column::UpstreamNonce,
            Some(nonce.to_string()).into(),
        )
        .col_expr(
            login_transactions::Column::UpstreamVerifier,
            Some(verifier.to_string()).into(),
        )
        .filter(login_transactions::Column::IdHash.eq(tx.id_hash.clone()))
        .exec(conn)
        .await?;
    Ok(())
}

/// The transaction an upstream callback's `state` belongs to, checked against the browser.
/// Clears the upstream state so a callback cannot be replayed.
pub async fn take_by_upstream_state<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    state: &str,
    browser: Option<&str>,
) -> CoreResult<LoginTx> {
    let state_hash = sha256_hex(state);
    let m = login_transactions::Entity::find()
        .filter(login_transactions::Column::UpstreamStateHash.eq(state_hash.clone()))
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("sign-in request"))?;
    check(&m, clock, browser)?;
    let cleared = login_transactions::Entity::update_many()
        .col_expr(
            login_transactions::Column::UpstreamStateHash,
            Option::<String>::None.into(),
        )
        .filter(login_transactions::Column::IdHash.eq(m.id_hash.clone()))
        .filter(login_transactions::Column::UpstreamStateHash.eq(state_hash))
        .exec(conn)
        .await?;
    if cleared.rows_affected != 1 {
        return Err(CoreError::invalid("this sign-in response was already used"));
    }
    to_tx(m)
}

pub async fn set_session<C: ConnectionTrait>(
    conn: &C,
    tx: &LoginTx,
    tenant: &TenantId,
    session_id: &str,
) -> CoreResult<()> {
    login_transactions::Entity::update_many()
        .col_expr(
            login_transactions::Column::TenantId,
            Some(tenant.to_string()).into(),
        )
        .col_expr(
            login_transactions::Column::SessionHash,
            Some(session_id.to_string()).into(),
        )
        .filter(login_transactions::Column::IdHash.eq(tx.id_hash.clone()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Marks the transaction completed, exactly once (a conditional update: safe across nodes).
pub async fn consume<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tx: &LoginTx,
) -> CoreResult<()> {
    let r = login_transactions::Entity::update_many()
        .col_expr(
            login_transactions::Column::ConsumedAt,
            Some(clock.now_us()).into(),
        )
        .filter(login_transactions::Column::IdHash.eq(tx.id_hash.clone()))
        .filter(login_transactions::Column::ConsumedAt.is_null())
        .exec(conn)
        .await?;
    if r.rows_affected == 1 {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "this sign-in request was already completed",
        ))
    }
}
