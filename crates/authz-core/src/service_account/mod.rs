//! Tenant service accounts (issue 14 §3; DESIGN §8 "agent/service identity"): machine clients
//! of one tenant that obtain tokens with the `client_credentials` grant (RFC 6749 §4.4). The
//! tenant admin grants an account scopes per resource (never a critical-tier scope: those need
//! a person's fresh sign-in, DESIGN §5) and gives it one credential: a client secret
//! (`client_secret_basic`/`client_secret_post`, RFC 6749 §2.3.1, rotatable with an overlap) or
//! public keys for `private_key_jwt` (RFC 7523 §2.2). An account is its own principal, not a
//! row of the platform-wide `clients` table (ADR 0015): its tokens' subject and client are the
//! account, and every revocation path reaches them through their grant families.
use std::collections::BTreeMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::crypto::{random_hex16, random_token, sha256_hex};
use crate::db::{is_unique_violation, Store};
use crate::entities::service_accounts::{self, Column, Entity};
use crate::error::{CoreError, CoreResult};
use crate::scope::Tier;
use crate::tenant::TenantId;

pub mod auth;
mod keys;
mod lifecycle;

pub use auth::{authenticate, forget, remembered, AuthFailure, KeySource, Presented};
pub use keys::{set_keys, Keys};
pub use lifecycle::{
    remove, remove_in, rename_in, rotate_secret, set_enabled, set_enabled_in, set_grants,
    set_grants_in, Removed, RotatedSecret,
};

/// The prefix of every service-account secret, so secret scanners can match a leaked one.
pub const SECRET_PREFIX: &str = "ghsvc_";
/// The prefix of service-account client ids (never a URL, never a DCR id).
pub const CLIENT_ID_PREFIX: &str = "svc_";

/// How an account authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A client secret, sent by HTTP Basic or in the body (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// A JWT signed with the account's private key (RFC 7523 §2.2).
    PrivateKeyJwt,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::ClientSecretBasic => "client_secret_basic",
            Method::PrivateKeyJwt => "private_key_jwt",
        }
    }
    pub fn parse(s: &str) -> CoreResult<Method> {
        match s {
            "client_secret_basic" | "client_secret_post" | "secret" => {
                Ok(Method::ClientSecretBasic)
            }
            "private_key_jwt" => Ok(Method::PrivateKeyJwt),
            other => Err(CoreError::invalid(format!(
                "unknown authentication method '{other}' (use client_secret_basic or private_key_jwt)"
            ))),
        }
    }
}

/// Granted scopes by resource id.
pub type Grants = BTreeMap<String, Vec<String>>;

/// A service account as admins see it (never its secret).
#[derive(Clone, Debug)]
pub struct ServiceAccount {
    pub id: String,
    pub tenant: TenantId,
    pub name: String,
    pub client_id: String,
    pub method: Method,
    pub grants: Grants,
    pub jwks: Option<serde_json::Value>,
    pub jwks_uri: Option<String>,
    /// Until when the secret a rotation replaced still works (µs).
    pub previous_secret_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub disabled_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// The `updated_at` of a change to `m` at `now`: always later than the stored one, even when
/// the clock has not moved (a fixed test clock, two changes in one microsecond). A grant's
/// write checks that the account is unchanged by this value (`token::client_credentials`), and
/// a node's remembered account (`auth::remembered`) is only as good as that check.
pub(crate) fn next_version(m: &service_accounts::Model, now: i64) -> i64 {
    now.max(m.updated_at + 1)
}

impl ServiceAccount {
    pub fn enabled(&self) -> bool {
        self.disabled_at.is_none()
    }
    /// The audit actor of what the account itself does (its token requests).
    pub fn actor(&self) -> String {
        format!("service:{}", self.id)
    }
    /// The session id its grant families carry (there is no sign-in session).
    pub fn session_id(&self) -> String {
        format!("sa:{}", self.id)
    }
}

impl TryFrom<service_accounts::Model> for ServiceAccount {
    type Error = CoreError;
    fn try_from(m: service_accounts::Model) -> CoreResult<Self> {
        Ok(ServiceAccount {
            method: Method::parse(&m.auth_method)?,
            grants: serde_json::from_str(&m.grants).map_err(|_| {
                CoreError::Config("a service account's grants are unreadable".into())
            })?,
            jwks: m.jwks.as_deref().and_then(|j| serde_json::from_str(j).ok()),
            id: m.id,
            tenant: TenantId::from_stored(m.tenant_id),
            name: m.name,
            client_id: m.client_id,
            jwks_uri: m.jwks_uri,
            previous_secret_until: m.prev_secret_until,
            created_at: m.created_at,
            updated_at: m.updated_at,
            disabled_at: m.disabled_at,
            last_used_at: m.last_used_at,
        })
    }
}

/// What a tenant admin asks for. `grants` names resources by URI or id.
pub struct NewAccount<'a> {
    pub name: &'a str,
    pub grants: &'a [(String, Vec<String>)],
    pub method: Method,
    /// For `PrivateKeyJwt`: the keys (exactly one of an inline set or a URL).
    pub keys: Option<Keys>,
}

/// A created account; `secret` (for `ClientSecretBasic`) is shown once, only its hash is kept.
pub struct Created {
    pub account: ServiceAccount,
    pub secret: Option<String>,
}

pub(crate) fn check_name(name: &str) -> CoreResult<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "the name must be 1 to 100 printable characters",
        ));
    }
    Ok(name)
}

/// Checks requested grants against the catalogues: known resources, scopes of their
/// catalogue, and never a critical-tier scope (those need a person's recent sign-in).
pub async fn resolve_grants<C: ConnectionTrait>(
    conn: &C,
    asked: &[(String, Vec<String>)],
) -> CoreResult<Grants> {
    let mut out = Grants::new();
    for (key, scopes) in asked {
        let res = crate::resource::find_by_uri_or_id(conn, key.trim()).await?;
        let catalogue = crate::resource::catalogue(conn, &res.id).await?;
        let entry = out.entry(res.id.clone()).or_default();
        for s in scopes {
            match catalogue.iter().find(|c| &c.name == s) {
                None => {
                    return Err(CoreError::invalid(format!(
                        "'{s}' is not a scope of {}",
                        res.uri
                    )))
                }
                Some(c) if c.tier == Tier::Critical => {
                    return Err(CoreError::invalid(format!(
                        "'{s}' is a critical scope of {}: it needs a person's recent sign-in and is never granted to a service account",
                        res.uri
                    )))
                }
                Some(_) if !entry.contains(s) => entry.push(s.clone()),
                Some(_) => {}
            }
        }
        entry.sort();
        if entry.is_empty() {
            return Err(CoreError::invalid(format!(
                "grant at least one scope of {}",
                res.uri
            )));
        }
    }
    if out.is_empty() {
        return Err(CoreError::invalid(
            "grant the service account at least one scope of one resource",
        ));
    }
    Ok(out)
}

pub(crate) fn grants_json(g: &Grants) -> String {
    serde_json::to_string(g).unwrap_or_else(|_| "{}".into())
}

/// Creates an account, audited (`service_account.created`).
pub async fn create(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    new: NewAccount<'_>,
    actor: &str,
) -> CoreResult<Created> {
    let name = check_name(new.name)?;
    let txn = store.begin().await?;
    let grants = resolve_grants(&txn, new.grants).await?;
    let (secret, keys) =
        match (new.method, new.keys) {
            (Method::ClientSecretBasic, None) => (Some(new_secret()), None),
            (Method::ClientSecretBasic, Some(_)) => return Err(CoreError::invalid(
                "keys are for private_key_jwt accounts; a secret account gets a generated secret",
            )),
            (Method::PrivateKeyJwt, Some(k)) => (None, Some(k.checked()?)),
            (Method::PrivateKeyJwt, None) => {
                return Err(CoreError::invalid(
                    "a private_key_jwt account needs a JWKS or a jwks_uri",
                ))
            }
        };
    let now = clock.now_us();
    let id = uuid::Uuid::new_v4().to_string();
    let model = service_accounts::Model {
        id: id.clone(),
        tenant_id: tenant.to_string(),
        name: name.to_string(),
        client_id: format!("{CLIENT_ID_PREFIX}{}", random_hex16()),
        auth_method: new.method.as_str().to_string(),
        secret_hash: secret.as_deref().map(sha256_hex),
        prev_secret_hash: None,
        prev_secret_until: None,
        jwks: keys.as_ref().and_then(Keys::inline_json),
        jwks_uri: keys.as_ref().and_then(|k| k.uri().map(str::to_string)),
        grants: grants_json(&grants),
        created_at: now,
        updated_at: now,
        disabled_at: None,
        last_used_at: None,
    };
    let am: service_accounts::ActiveModel = model.clone().into();
    if let Err(e) = Entity::insert(am).exec_without_returning(&txn).await {
        return Err(if is_unique_violation(&e) {
            CoreError::Conflict(format!("a service account named '{name}' already exists"))
        } else {
            e.into()
        });
    }
    let account = ServiceAccount::try_from(model)?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "service_account.created")
            .actor(actor)
            .client(account.client_id.clone())
            .detail("service_account_id", account.id.as_str())
            .detail("name", account.name.as_str())
            .detail("auth_method", account.method.as_str())
            .detail(
                "grants",
                serde_json::to_value(&account.grants).unwrap_or_default(),
            ),
    )
    .await?;
    txn.commit().await?;
    Ok(Created { account, secret })
}

/// The tenant's accounts, by name.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
) -> CoreResult<Vec<ServiceAccount>> {
    Entity::find()
        .filter(Column::TenantId.eq(tenant.to_string()))
        .order_by_asc(Column::Name)
        .all(conn)
        .await?
        .into_iter()
        .map(ServiceAccount::try_from)
        .collect()
}

/// One account of the tenant, by id, client id or name.
pub async fn get<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    key: &str,
) -> CoreResult<ServiceAccount> {
    ServiceAccount::try_from(find(conn, tenant, key).await?)
}

pub(crate) async fn find<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    key: &str,
) -> CoreResult<service_accounts::Model> {
    find_locked(conn, tenant, key, false).await
}

/// [`find`], locking the row for update (PostgreSQL; SQLite serialises writers anyway) until
/// the caller's transaction ends. A change that revokes the account's tokens (disable, scope
/// change, removal) takes this lock *before* it revokes: a token grant holds the row's share
/// lock until it commits (`token::client_credentials`), so every grant either commits before
/// the revocation reads the families, or waits and then finds the changed row and is refused.
pub(crate) async fn find_for_update<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    key: &str,
) -> CoreResult<service_accounts::Model> {
    find_locked(conn, tenant, key, true).await
}

async fn find_locked<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    key: &str,
    for_update: bool,
) -> CoreResult<service_accounts::Model> {
    use sea_orm::{Condition, QuerySelect};
    let q = Entity::find()
        .filter(Column::TenantId.eq(tenant.to_string()))
        .filter(
            Condition::any()
                .add(Column::Id.eq(key))
                .add(Column::ClientId.eq(key))
                .add(Column::Name.eq(key)),
        );
    let q = if for_update { q.lock_exclusive() } else { q };
    q.one(conn)
        .await?
        .ok_or(CoreError::NotFound("service account"))
}

/// The account's name, for introspection and the gateway when a resource shares identity (a
/// service has no email).
pub async fn name_of<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    id: &str,
) -> CoreResult<Option<String>> {
    Ok(Entity::find_by_id(id.to_string())
        .filter(Column::TenantId.eq(tenant.to_string()))
        .one(conn)
        .await?
        .map(|m| m.name))
}

/// Records a new secret on `am` (hash only) and returns it.
pub(crate) fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", random_token())
}

#[cfg(test)]
mod tests;
