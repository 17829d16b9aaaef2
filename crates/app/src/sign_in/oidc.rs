//! The upstream OIDC callback (the connection's redirect URI): validates `state` against the
//! server-side login transaction and the browser binding, redeems the code, validates the ID
//! token (OpenID Connect Core §3.1.3.7), then completes the sign-in.
use authz_core::connection;
use authz_core::login;

use super::complete::{complete, connection_usable, Completed, FederatedSignIn};
use super::upstream::{enforced_window, Upstream};
use super::{failure, Env, Restart, SignInError, Visitor};

/// The IdP's answer as the edge read it from the query (RFC 6749 §4.1.2).
pub struct Callback<'a> {
    /// The connection of the redirect URI's path.
    pub connection_id: &'a str,
    pub state: &'a str,
    pub code: Option<&'a str>,
    pub error: Option<&'a str>,
    pub error_description: Option<&'a str>,
    /// This browser's binding cookie: the transaction must have been started by it.
    pub binding: Option<&'a str>,
    /// This browser's session cookie (an account switch is confirmed).
    pub current_session: Option<&'a str>,
}

/// Completes the sign-in the IdP answered, or audits and refuses its answer.
pub async fn callback(
    env: &Env<'_>,
    visitor: &Visitor,
    cb: Callback<'_>,
) -> Result<Completed, SignInError> {
    let restart = |r| SignInError::Restart(r);
    let clock = env.clock;
    let tx = login::take_by_upstream_state(env.db(), clock, cb.state, cb.binding)
        .await
        .map_err(|e| e.unless_unavailable(restart(Restart::UnknownResponse)))?;
    let (Some(tenant), Some(tx_conn)) = (tx.tenant.clone(), tx.connection_id.clone()) else {
        return Err(restart(Restart::NotInProgress));
    };
    if tx_conn != cb.connection_id {
        return Err(restart(Restart::OtherConnection));
    }
    let conn = connection::get(env.db(), &tenant, cb.connection_id).await?;
    if !connection_usable(env, &conn, Some(&tx)).await? {
        return Err(restart(Restart::Disabled));
    }
    if let Some(err) = cb.error {
        let desc = cb.error_description.unwrap_or("");
        failure::record(
            env,
            visitor,
            &tenant,
            &conn.id,
            "oidc",
            "upstream_error",
            err,
        )
        .await?;
        return Err(SignInError::UpstreamError {
            error: err.to_string(),
            description: desc.to_string(),
        });
    }
    let Some(code) = cb.code else {
        return Err(restart(Restart::NoCode));
    };
    let up = Upstream::load(env, &tenant, &conn).await?;
    let cfg = up.cfg(&conn);
    let step_up = enforced_window(&tx);
    let nonce = tx.upstream_nonce.clone().unwrap_or_default();
    let verifier = tx.upstream_verifier.clone().unwrap_or_default();
    let signed_in = match env
        .rp_for(&conn)
        .finish(&cfg, code, &nonce, &verifier, clock.now_s(), step_up)
        .await
    {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(code = "LOGIN0003", tenant = %tenant.as_str(), connection = %conn.id, error = %e, "upstream sign-in rejected");
            let reason = e.to_string();
            failure::record(env, visitor, &tenant, &conn.id, "oidc", "reason", &reason).await?;
            return Err(SignInError::OidcRefused {
                error: e,
                preset: up.preset,
            });
        }
    };
    let s = FederatedSignIn {
        tx: Some(&tx),
        tenant: &tenant,
        conn: &conn,
        identity: signed_in.identity,
        upstream_refresh: signed_in.refresh_token.as_deref(),
        current_session: cb.current_session,
    };
    complete(env, visitor, s).await
}
