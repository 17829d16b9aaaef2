//! The `client_credentials` grant (RFC 6749 §4.4) for tenant service accounts: authenticate
//! the account (client secret, RFC 6749 §2.3.1, or `private_key_jwt`, RFC 7523 §2.2), then
//! issue an access token for one resource (RFC 8707) with the account's granted scopes. The
//! domain (checks, transaction, audit) is `authz_core::service_account::authenticate` and
//! `authz_core::token::client_credentials::grant`.
use authz_core::clock::Clock;
use authz_core::service_account::{self, KeySource, Presented};
use authz_core::token::client_credentials::{self as cc, ClientCredentials};
use authz_core::token::{IssuedTokens, TokenError};
use authz_core::Store;

/// How the caller authenticated, as the edge parsed it.
pub struct ServiceCredentials<'a> {
    pub client_id: &'a str,
    pub presented: Presented<'a>,
    /// The token endpoint URL and the issuer: a client assertion's acceptable `aud`.
    pub audiences: [&'a str; 2],
}

/// Authenticates a service account and issues its token. A failed authentication is
/// `invalid_client` whatever the reason (the reason is audited, never told); a client of the
/// `clients` table is `unauthorized_client` (the grant is for service accounts only).
pub async fn client_credentials(
    store: &Store,
    clock: &dyn Clock,
    keys: &dyn KeySource,
    creds: ServiceCredentials<'_>,
    g: ClientCredentials<'_>,
) -> Result<IssuedTokens, TokenError> {
    // An account this node remembers: no read of the account; its write's guard decides, and
    // when it fails, everything starts over below with a fresh read.
    if let Presented::Secret(secret) = creds.presented {
        if let Some(account) = service_account::remembered(clock, creds.client_id, secret) {
            authz_core::trace::caller(Some(&account.tenant), &account.actor());
            if let Some(done) = cc::grant_remembered(store, clock, &account, &g).await? {
                return Ok(done);
            }
            service_account::forget(creds.client_id);
        }
    }
    let account = match service_account::authenticate(
        store,
        clock,
        keys,
        creds.client_id,
        creds.presented,
        &creds.audiences,
    )
    .await?
    {
        Ok(a) => a,
        Err(f) if f.account.is_none() => {
            if authz_core::client::get(&store.db, creds.client_id)
                .await?
                .is_some()
            {
                return Err(TokenError::new(
                    "unauthorized_client",
                    "client_credentials is for service accounts; this client is not one",
                ));
            }
            return Err(TokenError::new(
                "invalid_client",
                "client authentication failed",
            ));
        }
        Err(_) => {
            return Err(TokenError::new(
                "invalid_client",
                "client authentication failed",
            ))
        }
    };
    authz_core::trace::caller(Some(&account.tenant), &account.actor());
    cc::grant(store, clock, &account, g).await
}
