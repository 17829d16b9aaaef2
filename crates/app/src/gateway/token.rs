//! The bearer of an access token, checked in-process on every call: the token row by its
//! SHA-256 (as introspection reads it, RFC 7662 §2.2), issued for this resource (RFC 8707
//! audience), an access token, not revoked, not expired, its grant family not revoked, its
//! tenant not suspended. Nothing is cached: a revocation at one node holds at every other on
//! the next call (DESIGN §6.3).
use authz_core::clock::{Clock, MICROS};
use authz_core::crypto::sha256_hex;
use authz_core::entities::{grant_families, tenants, tokens};
use authz_core::resource::Resource;
use authz_core::token::refresh::STEP_UP_WINDOW_SECS;
use authz_core::token::CredentialKind;
use authz_core::{CoreResult, TenantId};
use sea_orm::{ConnectionTrait, EntityTrait};

/// A verified bearer of a live access token for one resource. Only [`authenticate`] makes one,
/// so an audit record or an upstream JWT built from it names who really called.
#[derive(Clone, Debug)]
pub struct TokenHolder {
    tenant: TenantId,
    user_id: String,
    client_id: String,
    session_id: String,
    scopes: Vec<String>,
    auth_time_us: i64,
    email: Option<String>,
    name: Option<String>,
    /// The grant family the token belongs to (for an API key: the key id).
    family_id: String,
    kind: CredentialKind,
    /// RFC 9449: the JWK thumbprint the token is bound to, when it is DPoP-bound.
    dpop_jkt: Option<String>,
}

impl TokenHolder {
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    pub fn user_id(&self) -> &str {
        &self.user_id
    }
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    pub fn session_id(&self) -> &str {
        &self.session_id
    }
    /// The scopes the token carries.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
    /// The user's email and name: only when the resource shares identity.
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    /// The grant family the token belongs to; for an API key, the key id of key lists.
    pub fn family_id(&self) -> &str {
        &self.family_id
    }
    /// Which credential made the token (issue 14).
    pub fn kind(&self) -> CredentialKind {
        self.kind
    }
    /// The DPoP key thumbprint (`cnf.jkt`, RFC 9449 §6) a bound token must be presented with.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.dpop_jkt.as_deref()
    }
    /// Whether the IdP sign-in behind the token lies within the step-up window, as a critical
    /// scope requires (the same window the token endpoint applies, `STEP_UP_WINDOW_SECS`).
    pub fn authenticated_recently(&self, now_us: i64) -> bool {
        now_us - self.auth_time_us <= STEP_UP_WINDOW_SECS * MICROS
    }
}

/// The holder of `token` if it is a live access token for `resource`; `None` for anything
/// else (unknown, refresh token, revoked, expired, another resource, a suspended tenant), all
/// of which the gateway answers alike with 401 (RFC 6750 §3.1 `invalid_token`).
/// `share_identity`: also read the user's email and name (the resource's setting).
pub async fn authenticate<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    resource: &Resource,
    token: &str,
    share_identity: bool,
) -> CoreResult<Option<TokenHolder>> {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, JoinType, QueryFilter, QuerySelect};
    let now = clock.now_us();
    // One statement (the hot path, DESIGN §10): the token by its primary key, its grant
    // family and its tenant by theirs, every condition of a live token in the WHERE clause.
    let family = tokens::Entity::belongs_to(grant_families::Entity)
        .from(tokens::Column::FamilyId)
        .to(grant_families::Column::Id)
        .into();
    let tenant = tokens::Entity::belongs_to(tenants::Entity)
        .from(tokens::Column::TenantId)
        .to(tenants::Column::Id)
        .into();
    #[allow(clippy::type_complexity)]
    let row: Option<(
        String,
        String,
        String,
        String,
        String,
        i64,
        String,
        String,
        Option<String>,
    )> = tokens::Entity::find_by_id(sha256_hex(token))
        .select_only()
        .column(tokens::Column::TenantId)
        .column(tokens::Column::UserId)
        .column(tokens::Column::ClientId)
        .column(tokens::Column::SessionId)
        .column(tokens::Column::Scopes)
        .column(grant_families::Column::AuthTime)
        .column(grant_families::Column::Id)
        .column(grant_families::Column::Kind)
        .column(grant_families::Column::DpopJkt)
        .join(JoinType::InnerJoin, family)
        .join(JoinType::InnerJoin, tenant)
        .filter(tokens::Column::Kind.eq("access"))
        .filter(tokens::Column::RevokedAt.is_null())
        .filter(tokens::Column::ExpiresAt.gt(now))
        .filter(tokens::Column::ResourceId.eq(resource.id.as_str()))
        .filter(Expr::col((grant_families::Entity, grant_families::Column::RevokedAt)).is_null())
        .filter(Expr::col((tenants::Entity, tenants::Column::SuspendedAt)).is_null())
        .into_tuple()
        .one(conn)
        .await?;
    let Some((tenant_id, user_id, client_id, session_id, scopes, auth_time, family_id, kind, jkt)) =
        row
    else {
        return Ok(None);
    };
    // A kind this node does not know (a newer node's) is refused, not guessed.
    let Some(kind) = CredentialKind::parse(&kind) else {
        return Ok(None);
    };
    let Ok(tenant) = TenantId::parse(&tenant_id) else {
        return Ok(None);
    };
    let (email, name) = if share_identity {
        authz_core::token::introspect::subject_identity(conn, &tenant, Some(kind), &user_id).await?
    } else {
        (None, None)
    };
    Ok(Some(TokenHolder {
        tenant,
        user_id,
        client_id,
        session_id,
        scopes: authz_core::scope::split(&scopes),
        auth_time_us: auth_time,
        email,
        name,
        family_id,
        kind,
        dpop_jkt: jkt,
    }))
}

/// An RFC 7662 §2.2 answer of a remote Gatehouse, as the gateway in introspection mode reads
/// it (the members Gatehouse's answer has; others are ignored).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct RemoteIntrospection {
    pub active: bool,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub sub: Option<String>,
    pub aud: Option<String>,
    pub exp: Option<i64>,
    pub tenant: Option<String>,
    pub session_id: Option<String>,
    /// Seconds (OpenID Connect Core §2); Gatehouse's answer carries it for the step-up window.
    pub auth_time: Option<i64>,
    pub email: Option<String>,
    pub name: Option<String>,
    /// Issue 14: absent in an older Gatehouse's answer, which only knew browser OAuth.
    pub credential_kind: Option<CredentialKind>,
    pub key_id: Option<String>,
    pub cnf: Option<authz_core::token::introspect::Confirmation>,
}

/// The holder named by a remote introspection answer for `resource`: only an active answer
/// for this resource (`aud`, RFC 8707), not expired by `exp`, that names tenant, user, client,
/// session and sign-in time. Anything else is `None` (401). Email and name only when the
/// resource shares identity.
pub fn from_introspection(
    clock: &dyn Clock,
    resource: &Resource,
    answer: RemoteIntrospection,
    share_identity: bool,
) -> Option<TokenHolder> {
    if !answer.active || answer.aud.as_deref() != Some(resource.uri.as_str()) {
        return None;
    }
    if answer.exp? * MICROS <= clock.now_us() {
        return None;
    }
    let tenant = TenantId::parse(&answer.tenant?).ok()?;
    let (email, name) = if share_identity {
        (answer.email, answer.name)
    } else {
        (None, None)
    };
    Some(TokenHolder {
        tenant,
        user_id: answer.sub?,
        client_id: answer.client_id?,
        session_id: answer.session_id?,
        scopes: authz_core::scope::split(answer.scope.as_deref().unwrap_or("")),
        auth_time_us: answer.auth_time? * MICROS,
        email,
        name,
        // The answer names no family; an API key's id stands in for it (key lists show it).
        family_id: answer.key_id.unwrap_or_default(),
        kind: answer
            .credential_kind
            .unwrap_or(CredentialKind::AuthorizationCode),
        dpop_jkt: answer.cnf.map(|c| c.jkt),
    })
}
