//! Completing a federated sign-in: the common end of the OIDC callback and the SAML completion.
//! Finds or creates the user by (connection, subject) under the tenant's admission rules,
//! starts a Gatehouse session carrying the IdP's authentication time, records when the IdP last
//! vouched for the person, audits `user.signed_in`, all in one transaction; then says where the
//! browser continues (consent, the console, or the account page).
use authz_core::audit::{self, AuditEvent};
use authz_core::connection::Connection;
use authz_core::login::{self, LoginTx};
use authz_core::user::FederatedIdentity;
use authz_core::{session, TenantId};
use oidc_federation::Preset;

use super::admin_test::{self, Tested};
use super::switch::{self, Pending};
use super::{Env, SignInError, Visitor};

/// One verified answer of the IdP, for the sign-in transaction `tx` (none: an IdP-initiated
/// SAML response, which starts a session only).
pub struct FederatedSignIn<'a> {
    pub tx: Option<&'a LoginTx>,
    pub tenant: &'a TenantId,
    pub conn: &'a Connection,
    pub identity: FederatedIdentity,
    /// The upstream refresh token the IdP granted (OIDC offline access), kept so refreshes can
    /// ask the IdP again whether the person may still sign in (DESIGN §4b).
    pub upstream_refresh: Option<&'a str>,
    /// This browser's current session cookie, if any (a switch of account is confirmed).
    pub current_session: Option<&'a str>,
}

/// Where the browser continues after the sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The consent step of this login transaction (its id hash).
    Consent(String),
    /// The tenant's admin console: `back` if the edge finds it a safe page of `slug`'s console.
    Console { slug: String, back: String },
    /// The person's account page (an IdP-initiated sign-in, or a direct one at `/account`):
    /// `back` is the `/account…` page the direct sign-in started from, if the edge finds it safe.
    Account { back: String },
}

#[derive(Debug)]
pub enum Completed {
    /// A connection's test sign-in: the claims to show, no session.
    Tested(Tested),
    /// Signed in: set the session cookie to `session_secret` and continue at `next`.
    SignedIn { next: Next, session_secret: String },
    /// Signed in as someone else than this browser's live session: the person confirms.
    Switch { next: Next, pending: Pending },
}

/// Completes the sign-in of `visitor` (see the module documentation).
pub async fn complete(
    env: &Env<'_>,
    visitor: &Visitor,
    s: FederatedSignIn<'_>,
) -> Result<Completed, SignInError> {
    let FederatedSignIn {
        tx,
        tenant,
        conn,
        identity,
        upstream_refresh,
        current_session,
    } = s;
    let clock = env.clock;
    refuse_if_suspended(env, tenant).await?;
    let purpose = tx.map(|t| t.request.purpose).unwrap_or_default();
    if purpose == login::Purpose::TestConnection {
        let tx = tx.expect("a test sign-in has a transaction");
        let tested = admin_test::record(env, visitor, tx, tenant, conn, identity).await?;
        return Ok(Completed::Tested(tested));
    }
    // Only an auth_time the IdP asserted counts for step-up; without one the session's
    // authentication time is unknown (0) and never fresh enough for critical scopes.
    let now_s = clock.now_s();
    let auth_time_us =
        identity.auth_time.map(|t| t.min(now_s)).unwrap_or(0) * authz_core::clock::MICROS;
    let txn = env.store.begin().await?;
    let (u, created) =
        match authz_core::directory::admission::admit(&txn, clock, tenant, conn, &identity).await {
            Ok(x) => x,
            Err(authz_core::CoreError::Invalid(m)) => return Err(SignInError::NotAdmitted(m)),
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
        env.master_key,
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
        Some(tx) if purpose == login::Purpose::Account => login::consume(&txn, clock, tx).await?,
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
            .source(Some(visitor.audit_ip()), visitor.user_agent.clone())
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
    txn.commit().await?;
    let next = match tx {
        Some(tx) if purpose == login::Purpose::Admin => Next::Console {
            slug: authz_core::tenant::get(env.db(), tenant).await?.slug,
            back: tx.request.redirect_uri.clone(),
        },
        Some(tx) if purpose == login::Purpose::Account => Next::Account {
            back: tx.request.redirect_uri.clone(),
        },
        Some(tx) => Next::Consent(tx.id_hash.clone()),
        None => Next::Account {
            back: String::new(),
        },
    };
    // A live session of another person or organisation is never replaced silently: the person
    // confirms the switch (review F1).
    if let Some(previous) = switch::other_session(env, current_session, tenant, &u.id).await? {
        let pending = switch::pending(env, &previous, &sess, cookie_value).await?;
        return Ok(Completed::Switch { next, pending });
    }
    Ok(Completed::SignedIn {
        next,
        session_secret: cookie_value,
    })
}

/// A suspended tenant signs nobody in (incident response, issue 11 §3).
pub async fn refuse_if_suspended(env: &Env<'_>, tenant: &TenantId) -> Result<(), SignInError> {
    if authz_core::incident::is_suspended(env.db(), tenant).await? {
        return Err(SignInError::Suspended);
    }
    Ok(())
}

/// May this sign-in use `conn`? An enabled connection, yes. A disabled one for a test sign-in
/// (started only by an admin or an invitee; it starts no session), or when it is pending on an
/// invitation's setup session and this is that invitee's console sign-in (ADR 0007).
pub async fn connection_usable(
    env: &Env<'_>,
    conn: &Connection,
    tx: Option<&LoginTx>,
) -> Result<bool, SignInError> {
    if conn.enabled {
        return Ok(true);
    }
    let Some(tx) = tx else { return Ok(false) };
    match tx.request.purpose {
        login::Purpose::Authorize | login::Purpose::Account => return Ok(false),
        // Only an admin or an invitee can start one, and it starts no session.
        login::Purpose::TestConnection => return Ok(true),
        login::Purpose::Admin => {}
    }
    let Some(inv) = tx.request.invitation.as_deref() else {
        return Ok(false);
    };
    Ok(
        authz_core::connection::setup_invitation(env.db(), &conn.tenant, &conn.id)
            .await?
            .as_deref()
            == Some(inv),
    )
}
