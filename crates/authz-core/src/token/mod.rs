//! Authorization codes, access and refresh tokens. Tokens are opaque 256-bit random strings;
//! only their SHA-256 is stored, with tenant, user, client, resource, scopes, session and family.
pub mod code;
pub mod introspect;
pub mod refresh;
mod replay;
pub mod revoke;
pub mod standing;
pub mod upstream_check;

use sea_orm::{ConnectionTrait, EntityTrait, Set};

use crate::clock::{Clock, MICROS};
use crate::crypto::{random_token, sha256_hex};
use crate::entities::{grant_families, tokens};
use crate::error::CoreError;
use crate::resource::Scope;
use crate::scope::Tier;

/// An OAuth error (RFC 6749 §5.2 codes) raised by a token-endpoint operation.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {description}")]
pub struct TokenError {
    pub code: &'static str,
    pub description: String,
}

impl TokenError {
    pub fn new(code: &'static str, description: impl Into<String>) -> Self {
        TokenError {
            code,
            description: description.into(),
        }
    }
    pub fn grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }
}

impl From<CoreError> for TokenError {
    fn from(e: CoreError) -> Self {
        tracing::error!(code = "TOKEN0001", error = %e, "token operation failed");
        TokenError::new("server_error", "the server could not complete the request")
    }
}

impl From<sea_orm::DbErr> for TokenError {
    fn from(e: sea_orm::DbErr) -> Self {
        CoreError::from(e).into()
    }
}

/// What the token endpoint returns (RFC 6749 §5.1); `scope` is always stated (§3.3).
#[derive(Clone, Debug, serde::Serialize)]
pub struct IssuedTokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// Has `user_id` ever been issued a grant for `resource_id` in this tenant? Resource servers may
/// only report tool calls of users they were issued tokens for.
pub async fn user_has_grant<C: ConnectionTrait>(
    conn: &C,
    tenant: &crate::TenantId,
    user_id: &str,
    resource_id: &str,
) -> Result<bool, sea_orm::DbErr> {
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    let n = grant_families::Entity::find()
        .filter(grant_families::Column::TenantId.eq(tenant.to_string()))
        .filter(grant_families::Column::UserId.eq(user_id))
        .filter(grant_families::Column::ResourceId.eq(resource_id))
        .count(conn)
        .await?;
    Ok(n > 0)
}

/// Did `user_id` hold a grant family for `resource_id` through `client_id` (and, when given, in
/// `session_id`)? A resource server may attribute a tool call only to a client and a session
/// that were actually issued a token for it: anything else would let it blame another client or
/// session in a log admins trust (review F6). Revoked families count: a call may be reported
/// after the revocation that followed it.
pub async fn attribution_holds<C: ConnectionTrait>(
    conn: &C,
    tenant: &crate::TenantId,
    user_id: &str,
    resource_id: &str,
    client_id: &str,
    session_id: Option<&str>,
) -> Result<bool, sea_orm::DbErr> {
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    let mut q = grant_families::Entity::find()
        .filter(grant_families::Column::TenantId.eq(tenant.to_string()))
        .filter(grant_families::Column::UserId.eq(user_id))
        .filter(grant_families::Column::ResourceId.eq(resource_id))
        .filter(grant_families::Column::ClientId.eq(client_id));
    if let Some(s) = session_id {
        q = q.filter(grant_families::Column::SessionId.eq(s));
    }
    Ok(q.count(conn).await? > 0)
}

/// The most sensitive tier among `scopes` (unknown scopes count as critical).
pub fn max_tier(catalogue: &[Scope], scopes: &[String]) -> Tier {
    scopes
        .iter()
        .map(|s| {
            catalogue
                .iter()
                .find(|c| &c.name == s)
                .map(|c| c.tier)
                .unwrap_or(Tier::Critical)
        })
        .max()
        .unwrap_or(Tier::Routine)
}

/// Inserts an access token (and a refresh token) for a grant family. The access token lives as
/// long as its most sensitive scope allows; the refresh token never outlives the family.
pub(crate) async fn issue<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    family: &grant_families::Model,
    scopes: &[String],
    tier: Tier,
    with_refresh: bool,
) -> Result<IssuedTokens, TokenError> {
    let now = clock.now_us();
    let access = random_token();
    // The tenant may shorten lifetimes within the hard bounds of DESIGN §5.
    let tenant_settings = crate::admin::settings::get_cached(
        conn,
        &crate::TenantId::from_stored(family.tenant_id.clone()),
    )
    .await?;
    let ttl = tenant_settings
        .access_token_secs(tier)
        .min((family.expires_at - now) / MICROS)
        .max(1);
    let scope_str = scopes.join(" ");
    let row = |hash: String, kind: &str, expires_at: i64| tokens::ActiveModel {
        token_hash: Set(hash),
        kind: Set(kind.to_string()),
        family_id: Set(family.id.clone()),
        tenant_id: Set(family.tenant_id.clone()),
        user_id: Set(family.user_id.clone()),
        client_id: Set(family.client_id.clone()),
        resource_id: Set(family.resource_id.clone()),
        scopes: Set(scope_str.clone()),
        tier: Set(tier.as_str().to_string()),
        session_id: Set(family.session_id.clone()),
        issued_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
    };
    let mut rows = vec![row(sha256_hex(&access), "access", now + ttl * MICROS)];
    let refresh = with_refresh.then(random_token);
    if let Some(r) = &refresh {
        rows.push(row(sha256_hex(r), "refresh", family.expires_at));
    }
    tokens::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await?;
    Ok(IssuedTokens {
        access_token: access,
        token_type: "Bearer",
        expires_in: ttl,
        scope: scope_str,
        refresh_token: refresh,
    })
}
