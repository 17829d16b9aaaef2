//! A person signs in directly at `/account` (issue 16 §3): to see the applications they allowed,
//! create or revoke their API keys and sign out, without first going through an application.
//! The click on the account page's form starts a login transaction of purpose `account` bound
//! to this browser; the login page then finds the organisation from the work email (the same
//! home-realm discovery as an MCP sign-in) and the IdP's answer ends at the account page
//! instead of a consent step ([`super::complete`]). There is no client, so nothing is
//! authorised and no token is issued.
use authz_core::login::{self, AuthorizeRequest};

use super::{Env, Limit, SignInError, Visitor};

/// Starts the sign-in of this browser (`binding`, the form already checked by the edge) and
/// returns the login transaction's handle for the login page. `back` is the `/account…` page to
/// return to; the edge checks it again when the sign-in completes.
pub async fn start(
    env: &Env<'_>,
    visitor: &Visitor,
    binding: &str,
    back: Option<String>,
) -> Result<String, SignInError> {
    visitor
        .rate_limited(env, Limit::Login, 60, super::start::LOGIN_PER_MINUTE)
        .await?;
    let request = AuthorizeRequest::account(back);
    Ok(login::start(env.db(), env.clock, binding, &request).await?)
}
