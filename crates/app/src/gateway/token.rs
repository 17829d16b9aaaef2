//! The bearer of an access token, checked in-process on every call: the token row by its
//! SHA-256 (as introspection reads it, RFC 7662 §2.2), issued for this resource (RFC 8707
//! audience), an access token, not revoked, not expired, its grant family not revoked, its
//! tenant not suspended. Nothing is cached: a revocation at one node holds at every other on
//! the next call (DESIGN §6.3).
use authz_core::clock::{Clock, MICROS};
use authz_core::crypto::sha256_hex;
use authz_core::resource::Resource;
use authz_core::token::bearer;
use authz_core::token::refresh::STEP_UP_WINDOW_SECS;
use authz_core::token::CredentialKind;
use authz_core::{CoreResult, Store, TenantId};

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
pub async fn authenticate(
    store: &Store,
    clock: &dyn Clock,
    resource: &Resource,
    token: &str,
    share_identity: bool,
) -> CoreResult<Option<TokenHolder>> {
    // One statement, with the node's concurrent calls (the hot path, DESIGN §10; ADR 0025).
    let Some(b) = bearer::live(store, &resource.id, sha256_hex(token), clock.now_us()).await?
    else {
        return Ok(None);
    };
    // A kind this node does not know (a newer node's) is refused, not guessed.
    let Some(kind) = CredentialKind::parse(&b.kind) else {
        return Ok(None);
    };
    let Ok(tenant) = TenantId::parse(&b.tenant_id) else {
        return Ok(None);
    };
    let (email, name) = if share_identity {
        authz_core::token::introspect::subject_identity(&store.db, &tenant, Some(kind), &b.user_id)
            .await?
    } else {
        (None, None)
    };
    Ok(Some(TokenHolder {
        tenant,
        user_id: b.user_id,
        client_id: b.client_id,
        session_id: b.session_id,
        scopes: authz_core::scope::split(&b.scopes),
        auth_time_us: b.auth_time,
        email,
        name,
        family_id: b.family_id,
        kind,
        dpop_jkt: b.dpop_jkt,
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
