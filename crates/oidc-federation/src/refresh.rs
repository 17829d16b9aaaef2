//! The upstream re-validation of a Gatehouse session (DESIGN §4b): Gatehouse redeems the
//! upstream refresh token it kept at sign-in (RFC 6749 §6) at the connection's token endpoint,
//! through the same SSRF-safe fetcher as the code exchange. Google, Entra and Okta revoke a
//! suspended or deleted user's refresh tokens, so `invalid_grant` (§5.2) means the person is no
//! longer let in; anything else that is not a token response says nothing either way.
use authz_core::connection::Connection;
use authz_core::upstream_session::{UpstreamAnswer, UpstreamRefresher};
use openidconnect::core::{CoreClient, CoreErrorResponseType};
use openidconnect::{ClientId, ClientSecret, OAuth2TokenResponse, RefreshToken, RequestTokenError};

use crate::{describe, OidcRp, Preset};

#[async_trait::async_trait]
impl UpstreamRefresher for OidcRp {
    async fn refresh(
        &self,
        conn: &Connection,
        client_secret: &str,
        refresh_token: &str,
    ) -> UpstreamAnswer {
        let unreachable = |detail: String| UpstreamAnswer::Unreachable { detail };
        let preset = Preset::from_stored(&conn.preset, &conn.settings);
        let meta = match self.discover(&conn.issuer, false, &preset).await {
            Ok(m) => m,
            Err(e) => return unreachable(e.to_string()),
        };
        let client = CoreClient::from_provider_metadata(
            meta,
            ClientId::new(conn.client_id.clone()),
            Some(ClientSecret::new(client_secret.to_string())),
        );
        let f = self.fetcher.clone();
        let http = move |req: openidconnect::HttpRequest| {
            let f = f.clone();
            async move { f.send(req).await }
        };
        let token = RefreshToken::new(refresh_token.to_string());
        let req = match client.exchange_refresh_token(&token) {
            Ok(r) => r,
            Err(e) => return unreachable(e.to_string()),
        };
        match req.request_async(&http).await {
            Ok(resp) => UpstreamAnswer::Valid {
                rotated: resp.refresh_token().map(|t| t.secret().clone()),
            },
            Err(RequestTokenError::ServerResponse(e))
                if *e.error() == CoreErrorResponseType::InvalidGrant =>
            {
                UpstreamAnswer::Revoked {
                    detail: format!(
                        "invalid_grant: {}",
                        e.error_description().map(String::as_str).unwrap_or("")
                    ),
                }
            }
            Err(e) => unreachable(describe(&e)),
        }
    }
}
