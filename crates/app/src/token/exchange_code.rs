//! The `authorization_code` grant (RFC 6749 §4.1.3, with PKCE, RFC 7636 §4.5, and the
//! resource indicator, RFC 8707 §2.2).
use authz_core::client::Client;
use authz_core::clock::Clock;
use authz_core::token::code::{self, CodeExchange};
use authz_core::token::{IssuedTokens, TokenError};
use authz_core::Store;

/// The grant's parameters as the client sent them.
pub struct CodeGrant<'a> {
    pub code: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub resource: Option<&'a str>,
    /// The key of the request's checked DPoP proof (RFC 9449 §5): the tokens are bound to it.
    pub dpop_jkt: Option<String>,
}

/// Redeems an authorization code for `client`: single use (a second redemption revokes
/// everything issued from it, RFC 6749 §4.1.2).
pub async fn exchange_code(
    store: &Store,
    clock: &dyn Clock,
    client: &Client,
    g: CodeGrant<'_>,
) -> Result<IssuedTokens, TokenError> {
    let Some(c) = g.code else {
        return Err(TokenError::new("invalid_request", "code is required"));
    };
    code::exchange(
        store,
        clock,
        client,
        CodeExchange {
            code: c,
            redirect_uri: g.redirect_uri,
            code_verifier: g.code_verifier,
            resource: g.resource,
            dpop_jkt: g.dpop_jkt,
        },
    )
    .await
}
