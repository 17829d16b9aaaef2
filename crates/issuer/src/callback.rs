//! The upstream OIDC redirect URI. Validates `state` against the server-side login transaction
//! and the browser binding, redeems the code, validates the ID token, then finds or creates the
//! user by (connection, subject) and starts a Gatehouse session.
use crate::upstream::{enforced_window, Upstream};
use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};

use authz_core::{connection, login};

use crate::browser;
use crate::pages::PageError;
use crate::params::Params;
use crate::state::AppState;

fn restart(msg: &str) -> PageError {
    PageError::bad_request(
        "Sign-in cannot continue",
        msg.to_string(),
        "Go back to the application and start signing in again.",
    )
}

pub async fn oidc(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let connection_id = path.into_inner();
    let p = Params::parse(req.query_string().as_bytes())
        .map_err(|_| restart("The identity provider's answer is malformed."))?;
    let Some(upstream_state) = p.get("state") else {
        return Err(restart("The identity provider's answer has no state."));
    };
    let clock = state.clock.as_ref();
    let binding = browser::existing_binding(&req);
    let tx = login::take_by_upstream_state(&state.store.db, clock, upstream_state, binding.as_deref())
        .await
        .map_err(|_| restart("This sign-in response is unknown, expired, already used, or belongs to another browser."))?;
    let (Some(tenant), Some(tx_conn)) = (tx.tenant.clone(), tx.connection_id.clone()) else {
        return Err(restart(
            "This sign-in response does not match a sign-in in progress.",
        ));
    };
    if tx_conn != connection_id {
        return Err(restart(
            "This sign-in response arrived for a different connection.",
        ));
    }
    let conn = connection::get(&state.store.db, &tenant, &connection_id).await?;
    if !crate::upstream::connection_usable(&state, &conn, Some(&tx)).await? {
        return Err(restart(
            "This sign-in method has been disabled by your organisation.",
        ));
    }
    if let Some(err) = p.get("error") {
        let desc = p.get("error_description").unwrap_or("");
        crate::upstream::record_failure(
            &state,
            &req,
            &tenant,
            &conn.id,
            "oidc",
            "upstream_error",
            err,
        )
        .await?;
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Your identity provider did not sign you in",
            format!("It answered: {err} {desc}"),
            "If you expected access, ask your IT administrator to assign you to this application in your identity provider.",
        ));
    }
    let Some(code) = p.get("code") else {
        return Err(restart("The identity provider's answer has no code."));
    };
    let up = Upstream::load(&state, &tenant, &conn).await?;
    let cfg = up.cfg(&conn);
    let step_up = enforced_window(&tx);
    let nonce = tx.upstream_nonce.clone().unwrap_or_default();
    let verifier = tx.upstream_verifier.clone().unwrap_or_default();
    let signed_in = match state
        .rp_for(&conn)
        .finish(&cfg, code, &nonce, &verifier, clock.now_s(), step_up)
        .await
    {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(code = "LOGIN0003", tenant = %tenant.0, connection = %conn.id, error = %e, "upstream sign-in rejected");
            crate::upstream::record_failure(
                &state,
                &req,
                &tenant,
                &conn.id,
                "oidc",
                "reason",
                &e.to_string(),
            )
            .await?;
            return Err(sign_in_refused(&e, &up.preset));
        }
    };
    crate::upstream::complete_sign_in_with(
        &state,
        &req,
        Some(&tx),
        &tenant,
        &conn,
        signed_in.identity,
        signed_in.refresh_token.as_deref(),
    )
    .await
}

/// The page for an upstream answer Gatehouse refused, saying what can be done about it.
fn sign_in_refused(
    e: &oidc_federation::FederationError,
    preset: &oidc_federation::Preset,
) -> PageError {
    use oidc_federation::FederationError as F;
    match e {
        F::StepUp(why) => {
            let admin = match preset {
                oidc_federation::Preset::Entra { .. } => {
                    "Ask your administrator to add the optional claim auth_time to the ID token of the Gatehouse app registration (Entra admin center → App registrations → Token configuration)."
                }
                _ => "Ask your administrator to make the identity provider include auth_time in ID tokens and honour prompt=login.",
            };
            PageError::new(
                StatusCode::FORBIDDEN,
                "A fresh sign-in is required",
                format!("This permission needs you to have signed in within the last 15 minutes, but {why}."),
                admin,
            )
        }
        F::Claims(why) => PageError::new(
            StatusCode::FORBIDDEN,
            "This account cannot sign in here",
            format!("{why}."),
            "Sign in with your organisation's work account, or ask your IT administrator.",
        ),
        _ => PageError::new(
            StatusCode::BAD_GATEWAY,
            "Sign-in could not be verified",
            "Your identity provider's answer did not pass Gatehouse's checks.",
            "Try again. If it keeps failing, tell your IT administrator the time it happened.",
        ),
    }
}
