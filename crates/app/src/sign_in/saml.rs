//! The SAML legs of a sign-in (DESIGN §6.6, §6.8): the AuthnRequest out, the assertion consumer
//! service (SAML bindings §3.5, HTTP-POST: cross-site, so it carries no Lax cookie and is
//! checked against server-side state only), and the same-site completion that binds the answer
//! to the browser that started the sign-in.
use authz_core::connection::{self, Connection};
use authz_core::login::{self, LoginTx};
use authz_core::user::FederatedIdentity;
use authz_core::{saml_state, TenantId};
use saml::mapping;
use saml::sp::{acs_url, entity_id as sp_entity_id};
use saml::{Expectations, IdpMetadata, SamlError, SamlSettings};

use super::complete::{complete, connection_usable, Completed, FederatedSignIn};
use super::{failure, internal, Env, Limit, Restart, SignInError, Visitor};

/// SAML responses accepted per source address and minute.
pub const ACS_PER_MINUTE: i64 = 120;

/// The connection's settings and its IdP's metadata. Parsed (and its pinned certificates
/// checked) on every use: a stored connection without a signing certificate is refused here as
/// it was at configuration time.
pub fn settings(conn: &Connection) -> Result<(SamlSettings, IdpMetadata), SignInError> {
    let s: SamlSettings = serde_json::from_value(conn.settings.clone()).map_err(internal)?;
    let idp = IdpMetadata::parse(&s.idp_metadata).map_err(internal)?;
    Ok((s, idp))
}

/// The SAML connection of the SP endpoints' path (any tenant: the id is unguessable).
pub async fn connection(env: &Env<'_>, id: &str) -> Result<Connection, SignInError> {
    let c = connection::find_for_callback(env.db(), id)
        .await
        .map_err(|e| e.unless_unavailable(SignInError::UnknownConnection))?;
    if c.kind != "saml" {
        return Err(SignInError::UnknownConnection);
    }
    Ok(c)
}

/// An AuthnRequest for login transaction `tx`, its ID recorded (InResponseTo is checked at the
/// ACS): the IdP URL to send the browser to (HTTP-Redirect binding).
pub(crate) async fn redirect(
    env: &Env<'_>,
    tx: &LoginTx,
    tenant: &TenantId,
    conn: &Connection,
) -> Result<String, SignInError> {
    let (_, idp) = settings(conn)?;
    let id = saml::request::new_request_id();
    saml_state::record_request(env.db(), env.clock, tenant, &conn.id, &tx.id_hash, &id).await?;
    let now = chrono::DateTime::from_timestamp_micros(env.clock.now_us()).unwrap_or_default();
    saml::request::AuthnRequest {
        id: &id,
        sp_entity_id: &sp_entity_id(env.issuer, &conn.id),
        acs_url: &acs_url(env.issuer, &conn.id),
        idp_sso_url: &idp.sso_redirect_url,
        force_authn: tx.request.step_up,
        now,
    }
    .redirect_url(&tx.id_hash)
    .map_err(internal)
}

/// The ACS form as the edge parsed it.
pub enum AcsForm {
    /// The body could not be parsed.
    Malformed,
    Parsed {
        saml_response: Option<String>,
        relay_state: Option<String>,
    },
}

/// A validated response, waiting for its same-site completion under a one-time handle.
#[derive(Debug)]
pub struct Accepted {
    pub connection_id: String,
    pub handle: String,
}

async fn refuse(
    env: &Env<'_>,
    visitor: &Visitor,
    tenant: &TenantId,
    conn: &str,
    e: SamlError,
) -> SignInError {
    tracing::warn!(code = "SAML0100", tenant = %tenant.as_str(), connection = %conn, error = %e, "SAML response refused");
    match failure::record(env, visitor, tenant, conn, "saml", "reason", &e.to_string()).await {
        Ok(()) => SignInError::SamlRefused(e),
        Err(err) => err,
    }
}

/// The assertion consumer service: validates the response of connection `connection_id`
/// against the request it answers, consumes the request and the assertion (single use, on
/// every node), and stores the identity under a one-time handle.
pub async fn acs(
    env: &Env<'_>,
    visitor: &Visitor,
    connection_id: &str,
    form: AcsForm,
) -> Result<Accepted, SignInError> {
    let conn = connection(env, connection_id).await?;
    let tenant = conn.tenant.clone();
    // Cheap refusal first; a pending connection is checked again once the transaction is known.
    if !conn.enabled
        && connection::setup_invitation(env.db(), &tenant, &conn.id)
            .await?
            .is_none()
    {
        return Err(SignInError::Restart(Restart::Disabled));
    }
    // Parsing signed XML is costly (and samael keeps some memory of refused inputs, see
    // docs/fuzzing.md): posts are bounded per source address, on every node together.
    visitor
        .rate_limited(env, Limit::SamlAcs, 60, ACS_PER_MINUTE)
        .await?;
    let AcsForm::Parsed {
        saml_response,
        relay_state,
    } = form
    else {
        return Err(SignInError::Restart(Restart::Malformed));
    };
    let Some(encoded) = saml_response else {
        return Err(SignInError::Restart(Restart::NoSamlResponse));
    };
    let (s, idp) = settings(&conn)?;
    let clock = env.clock;
    // RelayState names a live login transaction, or the response is unsolicited (IdPs often
    // send a default RelayState with IdP-initiated SSO; it is never used as a URL).
    let tx = match relay_state {
        Some(r) => login::load_unbound(env.db(), clock, &r).await.ok(),
        None => None,
    };
    if !connection_usable(env, &conn, tx.as_ref()).await? {
        return Err(SignInError::Restart(Restart::Disabled));
    }
    let unsolicited = tx.is_none();
    if unsolicited && !s.allow_idp_initiated {
        return Err(refuse(env, visitor, &tenant, &conn.id, SamlError::Unsolicited).await);
    }
    let request_ids = match &tx {
        Some(t) => saml_state::pending_requests(env.db(), clock, &conn.id, &t.id_hash).await?,
        None => vec![],
    };
    let xml = saml::validate::decode_post(&encoded);
    let (sp, acs, now) = (
        sp_entity_id(env.issuer, &conn.id),
        acs_url(env.issuer, &conn.id),
        chrono::DateTime::from_timestamp_micros(clock.now_us()).unwrap_or_default(),
    );
    let skew = chrono::Duration::seconds(s.skew_secs);
    // XML parsing and signature checks are CPU work: off the async executor.
    let result = tokio::task::spawn_blocking(move || {
        let xml = xml?;
        let ex = Expectations {
            sp_entity_id: &sp,
            acs_url: &acs,
            idp: &idp,
            request_ids: &request_ids,
            allow_idp_initiated: unsolicited,
            skew,
            now,
        };
        // Defence in depth: whatever a parser below does with hostile input, the answer is a
        // refusal, never a 500 (fuzzing found overflow panics, now refused by the precheck).
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            saml::validate::validate(&xml, &ex)
        }))
        .unwrap_or_else(|_| {
            Err(SamlError::Malformed(
                "the response could not be processed".into(),
            ))
        })
    })
    .await
    .map_err(internal)?;
    let assertion = match result {
        Ok(a) => a,
        Err(e) => return Err(refuse(env, visitor, &tenant, &conn.id, e).await),
    };
    // Step-up: the IdP must have authenticated the user within the window (ForceAuthn was sent).
    // (A console sign-in asked for ForceAuthn too, but without a fresh AuthnInstant it is only
    // read-only: the console checks freshness at each write.)
    let step_up = tx
        .as_ref()
        .map(|t| t.request.step_up && t.request.purpose != login::Purpose::Admin)
        .unwrap_or(false);
    if step_up {
        let window = chrono::Duration::seconds(authz_core::token::refresh::STEP_UP_WINDOW_SECS);
        if !saml::validate::authn_is_fresh(&assertion, now, window, skew) {
            let e = SamlError::NotYetValid("AuthnInstant is not within the step-up window".into());
            return Err(match refuse(env, visitor, &tenant, &conn.id, e).await {
                SignInError::SamlRefused(_) => SignInError::SamlNotFresh,
                other => other,
            });
        }
    }
    let mapped = match mapping::map(&s.mapping, &assertion) {
        Ok(m) => m,
        Err(e) => return Err(refuse(env, visitor, &tenant, &conn.id, e).await),
    };
    let identity = FederatedIdentity {
        connection_id: conn.id.clone(),
        subject: mapped.subject,
        email: mapped.email,
        name: mapped.name,
        auth_time: assertion.authn_instant.map(|t| t.timestamp()),
        acr: None,
        amr: vec![],
        groups: mapped.groups,
        groups_overage: false,
    };
    // Single use of the request and of the assertion, on every node, in one transaction.
    let txn = env.store.begin().await?;
    let fresh_request = match &assertion.in_response_to {
        Some(id) => saml_state::consume_request(&txn, clock, id).await?,
        None => unsolicited,
    };
    let fresh_assertion = saml_state::remember_assertion(
        &txn,
        clock,
        &conn.id,
        &assertion.assertion_id,
        assertion.replay_until.timestamp_micros(),
    )
    .await?;
    if !fresh_request || !fresh_assertion {
        // Rolled back before the refusal is audited (SQLite has one writer).
        drop(txn);
        return Err(refuse(env, visitor, &tenant, &conn.id, SamlError::InResponseTo).await);
    }
    let handle = saml_state::create_handle(
        &txn,
        clock,
        &tenant,
        &conn.id,
        // Empty for IdP-initiated SSO: the completion then starts a session only.
        tx.as_ref().map(|t| t.id_hash.as_str()).unwrap_or(""),
        &serde_json::to_string(&identity).map_err(internal)?,
    )
    .await?;
    txn.commit().await?;
    Ok(Accepted {
        connection_id: conn.id,
        handle,
    })
}

/// What the same-site completion leads to.
#[derive(Debug)]
pub enum Completion {
    /// The sign-in completed (or its switch is to be confirmed, or it was a test).
    Done(Completed),
    /// An IdP-initiated response: nothing binds it to this browser, so the person confirms
    /// whose account they are entering (otherwise any page could sign a victim's browser into
    /// the attacker's account: login CSRF). The handle stays unused until then.
    Confirm {
        connection: Connection,
        identity: FederatedIdentity,
    },
}

/// The completion of the ACS at `connection_id`: handle `h` and this browser's binding cookie
/// (`binding`) must belong to the sign-in the browser started. `current_session` is the
/// browser's session cookie (an account switch is confirmed).
pub async fn complete_handle(
    env: &Env<'_>,
    visitor: &Visitor,
    connection_id: &str,
    h: Option<&str>,
    binding: Option<&str>,
    current_session: Option<&str>,
) -> Result<Completion, SignInError> {
    let restart = || SignInError::Restart(Restart::StepUsed);
    let conn = connection(env, connection_id).await?;
    let h = h.ok_or_else(restart)?;
    let peeked = saml_state::peek_handle(env.db(), env.clock, h)
        .await?
        .ok_or_else(restart)?;
    if peeked.connection_id != conn.id {
        return Err(restart());
    }
    if peeked.login_tx.is_empty() {
        let identity = serde_json::from_str(&peeked.identity_json).map_err(internal)?;
        return Ok(Completion::Confirm {
            connection: conn,
            identity,
        });
    }
    let handle = saml_state::take_handle(env.db(), env.clock, h)
        .await?
        .ok_or_else(restart)?;
    let identity: FederatedIdentity =
        serde_json::from_str(&handle.identity_json).map_err(internal)?;
    let tx = login::load(env.db(), env.clock, &handle.login_tx, binding)
        .await
        .map_err(|e| e.unless_unavailable(SignInError::OtherBrowser))?;
    let signed_in = FederatedSignIn {
        tx: Some(&tx),
        tenant: &handle.tenant,
        conn: &conn,
        identity,
        upstream_refresh: None,
        current_session,
    };
    Ok(Completion::Done(complete(env, visitor, signed_in).await?))
}

/// The person's confirmation of an IdP-initiated sign-in (handle `h`): `verified` is the edge's
/// check of the form token against this browser's binding. Starts a session only, landing on
/// the account page; never an authorization code.
pub async fn confirm(
    env: &Env<'_>,
    visitor: &Visitor,
    connection_id: &str,
    h: Option<&str>,
    verified: impl FnOnce(&str) -> bool,
    current_session: Option<&str>,
) -> Result<Completed, SignInError> {
    let conn = connection(env, connection_id).await?;
    let h = h.ok_or(SignInError::PortalRestart)?;
    if !verified(h) {
        return Err(SignInError::ConfirmUnverified);
    }
    let handle = saml_state::take_handle(env.db(), env.clock, h)
        .await?
        .ok_or(SignInError::PortalRestart)?;
    if handle.connection_id != conn.id || !handle.login_tx.is_empty() {
        return Err(SignInError::PortalRestart);
    }
    let identity: FederatedIdentity =
        serde_json::from_str(&handle.identity_json).map_err(internal)?;
    let signed_in = FederatedSignIn {
        tx: None,
        tenant: &handle.tenant,
        conn: &conn,
        identity,
        upstream_refresh: None,
        current_session,
    };
    complete(env, visitor, signed_in).await
}

/// The token of the IdP-initiated confirmation form: bound to this browser and this handle.
pub fn confirm_csrf(binding: &str, handle: &str) -> String {
    authz_core::crypto::sha256_hex(&format!("idp-initiated|{binding}|{handle}"))
}
