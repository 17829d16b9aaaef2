//! Authorization codes, access and refresh tokens. Tokens are opaque 256-bit random strings;
//! only their SHA-256 is stored, with tenant, user, client, resource, scopes, session and family.
pub mod bearer;
pub mod client_credentials;
pub mod code;
pub(crate) mod code_reads;
pub(crate) mod group_commit;
pub mod introspect;
pub mod jwt_bearer;
pub(crate) mod lookup;
mod one_statement;
pub mod refresh;
mod refresh_grace;
pub(crate) mod refresh_reads;
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
        if e.is_unavailable() {
            // RFC 6749 §4.1.2.1 names the code; the issuer answers it 503 with Retry-After.
            crate::error::log_unavailable(&e);
            return TokenError::new(
                "temporarily_unavailable",
                "the service is temporarily unavailable; retry shortly",
            );
        }
        tracing::error!(code = "TOKEN0001", error = %e, "token operation failed");
        TokenError::new("server_error", "the server could not complete the request")
    }
}

impl From<sea_orm::DbErr> for TokenError {
    fn from(e: sea_orm::DbErr) -> Self {
        CoreError::from(e).into()
    }
}

/// The credential kinds that end in grant families and token rows (DESIGN §4b, issue 14). Every
/// revocation path (SCIM deactivation, "revoke all", grant removal, tenant suspension) works on
/// families, whatever their kind; introspection and the gateway name the kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// Browser OAuth 2.1: the `authorization_code` grant, then refreshes (pattern 1).
    AuthorizationCode,
    /// A personal API key for an IDE client (pattern 2): one long-lived access token row.
    ApiKey,
    /// Enterprise-managed authorization: an IdP's ID-JAG presented with the RFC 7523
    /// `jwt-bearer` grant (pattern 3).
    JwtBearer,
    /// A tenant service account's `client_credentials` grant (RFC 6749 §4.4).
    ClientCredentials,
}

impl CredentialKind {
    pub const ALL: [CredentialKind; 4] = [
        CredentialKind::AuthorizationCode,
        CredentialKind::ApiKey,
        CredentialKind::JwtBearer,
        CredentialKind::ClientCredentials,
    ];
    /// The stored name (`grant_families.kind`), also the `credential_kind` of introspection.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::AuthorizationCode => "authorization_code",
            CredentialKind::ApiKey => "api_key",
            CredentialKind::JwtBearer => "jwt_bearer",
            CredentialKind::ClientCredentials => "client_credentials",
        }
    }
    /// A stored name; an unknown one (a newer node's kind) reads as `None`.
    pub fn parse(s: &str) -> Option<CredentialKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// Who the subject is (DESIGN §8 "agent/service identity"): a directory user, or a tenant
    /// service account. Introspection says it as `subject_type`.
    pub fn subject_type(self) -> &'static str {
        match self {
            CredentialKind::ClientCredentials => "service",
            _ => "user",
        }
    }
}

/// What a new grant family is made of. `kind` names the credential; `dpop_jkt` binds the
/// family's tokens to a DPoP key (RFC 9449 §6).
pub struct NewFamily<'a> {
    pub id: String,
    pub tenant: &'a crate::TenantId,
    /// A directory user's id, or (for `ClientCredentials`) the service account's.
    pub subject: &'a str,
    pub client_id: &'a str,
    pub resource_id: &'a str,
    pub scopes: &'a [String],
    pub session_id: &'a str,
    /// When the subject last authenticated at the IdP (µs).
    pub auth_time: i64,
    /// The family's absolute end (µs).
    pub expires_at: i64,
    pub kind: CredentialKind,
    pub dpop_jkt: Option<String>,
}

/// Inserts a grant family, inside the caller's transaction, and returns it.
pub async fn start_family<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    f: NewFamily<'_>,
) -> Result<grant_families::Model, sea_orm::DbErr> {
    let family = new_family(clock, f);
    insert_family(conn, &family).await?;
    Ok(family)
}

/// Inserts a family made by [`new_family`], inside the caller's transaction.
pub(crate) async fn insert_family<C: ConnectionTrait>(
    conn: &C,
    family: &grant_families::Model,
) -> Result<(), sea_orm::DbErr> {
    let active: grant_families::ActiveModel = family.clone().into();
    grant_families::Entity::insert(active)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The row [`start_family`] inserts.
pub(crate) fn new_family(clock: &dyn Clock, f: NewFamily<'_>) -> grant_families::Model {
    grant_families::Model {
        id: f.id,
        tenant_id: f.tenant.to_string(),
        user_id: f.subject.to_string(),
        client_id: f.client_id.to_string(),
        resource_id: f.resource_id.to_string(),
        scopes: f.scopes.join(" "),
        session_id: f.session_id.to_string(),
        auth_time: f.auth_time,
        created_at: clock.now_us(),
        expires_at: f.expires_at,
        revoked_at: None,
        kind: f.kind.as_str().to_string(),
        dpop_jkt: f.dpop_jkt,
    }
}

/// A token row of `family` (`kind`: `access` or `refresh`), to insert. Every credential kind's
/// tokens are made here, so they all carry the family's tenant, subject, client, resource and
/// session.
pub fn token_row(
    family: &grant_families::Model,
    hash: String,
    kind: &str,
    scopes: &str,
    tier: Tier,
    issued_at: i64,
    expires_at: i64,
) -> tokens::ActiveModel {
    tokens::ActiveModel {
        token_hash: Set(hash),
        kind: Set(kind.to_string()),
        family_id: Set(family.id.clone()),
        tenant_id: Set(family.tenant_id.clone()),
        user_id: Set(family.user_id.clone()),
        client_id: Set(family.client_id.clone()),
        resource_id: Set(family.resource_id.clone()),
        scopes: Set(scopes.to_string()),
        tier: Set(tier.as_str().to_string()),
        session_id: Set(family.session_id.clone()),
        issued_at: Set(issued_at),
        expires_at: Set(expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
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
    let minted = mint(conn, clock, family, scopes, tier, with_refresh).await?;
    tokens::Entity::insert_many(minted.rows)
        .exec_without_returning(conn)
        .await?;
    Ok(minted.issued)
}

/// New tokens of a family: the rows to insert and the response that names them.
pub(crate) struct Minted {
    pub rows: Vec<tokens::ActiveModel>,
    pub issued: IssuedTokens,
}

/// Makes the tokens [`issue`] inserts, without writing them (the one-statement grants insert
/// them with their guard: [`one_statement`]).
pub(crate) async fn mint<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    family: &grant_families::Model,
    scopes: &[String],
    tier: Tier,
    with_refresh: bool,
) -> Result<Minted, TokenError> {
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
    let row = |hash: String, kind: &str, expires_at: i64| {
        token_row(family, hash, kind, &scope_str, tier, now, expires_at)
    };
    let mut rows = vec![row(sha256_hex(&access), "access", now + ttl * MICROS)];
    let refresh = with_refresh.then(random_token);
    if let Some(r) = &refresh {
        rows.push(row(sha256_hex(r), "refresh", family.expires_at));
    }
    Ok(Minted {
        rows,
        issued: IssuedTokens {
            access_token: access,
            // RFC 9449 §5: a bound family's tokens are `DPoP` tokens; others are bearer tokens.
            token_type: if family.dpop_jkt.is_some() {
                "DPoP"
            } else {
                "Bearer"
            },
            expires_in: ttl,
            scope: scope_str,
            refresh_token: refresh,
        },
    })
}
