//! The `refresh_token` grant (RFC 6749 §6). Only for clients registered for it; the IdP is asked
//! first whether the person may still sign in (DESIGN §4b).
use authz_core::client::Client;
use authz_core::clock::Clock;
use authz_core::token::refresh::{self, RefreshRequest};
use authz_core::token::upstream_check::Upstream;
use authz_core::token::{IssuedTokens, TokenError};
use authz_core::Store;

/// The grant's parameters as the client sent them.
pub struct RefreshGrant<'a> {
    pub refresh_token: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub resource: Option<&'a str>,
    /// The key of the request's checked DPoP proof (RFC 9449 §5), if it sent one.
    pub dpop_jkt: Option<String>,
}

/// Rotates `client`'s refresh token and issues a new access token. `upstream` is how the IdP
/// that signed the person in is asked.
pub async fn refresh(
    store: &Store,
    clock: &dyn Clock,
    upstream: Upstream<'_>,
    client: &Client,
    g: RefreshGrant<'_>,
) -> Result<IssuedTokens, TokenError> {
    if !client.allows_refresh() {
        return Err(TokenError::new(
            "unauthorized_client",
            "this client is not registered for the refresh_token grant",
        ));
    }
    let Some(rt) = g.refresh_token else {
        return Err(TokenError::new(
            "invalid_request",
            "refresh_token is required",
        ));
    };
    refresh::refresh_with(
        store,
        clock,
        upstream,
        client,
        RefreshRequest {
            refresh_token: rt,
            scope: g.scope,
            resource: g.resource,
            dpop_jkt: g.dpop_jkt,
        },
    )
    .await
}
