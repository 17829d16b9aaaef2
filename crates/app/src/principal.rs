//! Who calls a use case. Each type is produced only where the check behind it is made: the HTTP
//! crates' extractors (a verified session cookie, an admin key or console session, a SCIM token,
//! a resource server's client credentials) and the CLI (the operator at the machine). A use case
//! takes the one it needs, so a path that skipped the check has nothing to pass and does not
//! compile (STYLE §3).
use authz_core::session::Session;
use authz_core::TenantId;

/// A browser that has not signed in (yet): the start of a sign-in or an authorization request.
/// Carries where the request came from, for rate limits and the audit record.
#[derive(Debug, Clone)]
pub struct AnonymousBrowser {
    /// The caller's address as the edge determined it (trusted proxies applied), if known.
    pub ip: Option<String>,
}

/// A person with a live browser session of one tenant.
#[derive(Debug, Clone)]
pub struct SignedInUser {
    session: Session,
}

impl SignedInUser {
    /// For the extractor that has found a live, bound session for this user (issuer `browser`).
    /// The session as it was read is kept, so a use case does not read it again.
    pub fn from_verified_session(session: Session) -> Self {
        Self { session }
    }
    pub fn tenant(&self) -> &TenantId {
        &self.session.tenant
    }
    pub fn user_id(&self) -> &str {
        &self.session.user_id
    }
    pub fn session_id(&self) -> &str {
        &self.session.id
    }
    /// The session as the extractor found it (IdP sign-in time, connection).
    pub fn session(&self) -> &Session {
        &self.session
    }
    /// The audit actor.
    pub fn actor(&self) -> String {
        format!("user:{}", self.session.user_id)
    }
}

/// An admin of one tenant: by a tenant-admin API key, or by the admin console's session.
#[derive(Debug, Clone)]
pub struct TenantAdmin {
    tenant: TenantId,
    actor: String,
}

impl TenantAdmin {
    /// For the extractor that has checked the key's scope or the console session's admin role
    /// (admin-api `auth`, console `auth`). `actor` is how the audit log names who acts:
    /// `admin-key:<id>`, `admin:<user id>` or `invitation:<id>` (a setup session).
    pub fn verified(tenant: TenantId, actor: String) -> Self {
        Self { tenant, actor }
    }
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    pub fn actor(&self) -> &str {
        &self.actor
    }
}

/// The platform operator: an operator API key, or the CLI run on the machine.
#[derive(Debug, Clone)]
pub struct Operator {
    actor: String,
}

impl Operator {
    /// For the admin API's extractor, after the key's operator scope is checked.
    pub fn by_key(key_id: &str) -> Self {
        Self {
            actor: format!("operator-key:{key_id}"),
        }
    }
    /// For the CLI: whoever runs `gatehouse` on the machine holds the database and the keys;
    /// the audit log names it `operator`, as it always has.
    pub fn cli() -> Self {
        Self {
            actor: "operator".into(),
        }
    }
    pub fn actor(&self) -> &str {
        &self.actor
    }
}

/// A resource server (MCP server) authenticated by its client credentials: introspection, audit
/// events.
#[derive(Debug, Clone)]
pub struct ResourceServer {
    resource_id: String,
}

impl ResourceServer {
    /// For the extractor that has checked the resource's credentials.
    pub fn verified(resource_id: String) -> Self {
        Self { resource_id }
    }
    pub fn resource_id(&self) -> &str {
        &self.resource_id
    }
}

/// An IdP's SCIM client, authenticated by a SCIM token of the tenant named in the URL.
#[derive(Debug, Clone)]
pub struct ScimClient {
    tenant: TenantId,
    token_id: String,
}

impl ScimClient {
    /// For the SCIM extractor, after the token is checked against the tenant of the path.
    pub fn verified(tenant: TenantId, token_id: String) -> Self {
        Self { tenant, token_id }
    }
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    pub fn token_id(&self) -> &str {
        &self.token_id
    }
    /// The audit actor: the token, by id.
    pub fn actor(&self) -> String {
        format!("scim-token:{}", self.token_id)
    }
}
