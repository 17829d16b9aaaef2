//! OAuth clients: pre-registered by the operator, registered dynamically (RFC 7591/7592), or
//! identified by a Client ID Metadata Document URL (CIMD). Clients are platform-wide: a client
//! registers before anyone knows which tenant its user belongs to.
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::{self, AuditEvent};
use crate::clock::{Clock, MICROS};
use crate::crypto::{hashes_equal, random_hex16, random_token, sha256_hex};
use crate::db::{is_unique_violation, Store};
use crate::entities::clients;
use crate::error::CoreResult;
use crate::ratelimit;
use crate::redirect::RedirectPolicy;

pub(crate) mod lookup;
pub mod name;
mod unused;

pub use unused::{DCR_UNUSED_CLIENTS_PER_SOURCE, DCR_UNUSED_EXPIRY_SECS};

/// Dynamically registered clients unused this long are removed.
pub const DCR_IDLE_EXPIRY_DAYS: i64 = 90;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    Preregistered,
    Dcr,
    Cimd,
}

impl ClientKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ClientKind::Preregistered => "preregistered",
            ClientKind::Dcr => "dcr",
            ClientKind::Cimd => "cimd",
        }
    }
    fn parse(s: &str) -> ClientKind {
        match s {
            "dcr" => ClientKind::Dcr,
            "cimd" => ClientKind::Cimd,
            _ => ClientKind::Preregistered,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Client {
    pub client_id: String,
    pub kind: ClientKind,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub auth_method: String,
    pub scope: Option<String>,
    pub created_at: i64,
    pub last_used_at: i64,
    pub fetched_until: Option<i64>,
    /// When the first token was issued to the client (`None`: never used yet).
    pub first_used_at: Option<i64>,
    secret_hash: Option<String>,
    registration_token_hash: Option<String>,
}

impl Client {
    pub fn is_confidential(&self) -> bool {
        self.auth_method != "none"
    }
    /// Is the client's identity assured enough to apply remembered consent silently? Only for
    /// confidential clients or clients whose every redirect is https: a loopback or custom
    /// scheme redirect can be claimed by any local app (RFC 8252 §8.6).
    pub fn identity_assured(&self) -> bool {
        self.is_confidential() || self.redirect_uris.iter().all(|u| u.starts_with("https://"))
    }
    pub fn allows_refresh(&self) -> bool {
        self.grant_types.iter().any(|g| g == "refresh_token")
    }
    /// Checks a presented client secret in constant time.
    pub fn secret_matches(&self, presented: &str) -> bool {
        match &self.secret_hash {
            Some(h) => hashes_equal(h, &sha256_hex(presented)),
            None => false,
        }
    }
}

impl From<clients::Model> for Client {
    fn from(m: clients::Model) -> Self {
        Client {
            client_id: m.client_id,
            kind: ClientKind::parse(&m.kind),
            client_name: m.client_name,
            redirect_uris: serde_json::from_str(&m.redirect_uris).unwrap_or_default(),
            grant_types: serde_json::from_str(&m.grant_types).unwrap_or_default(),
            auth_method: m.auth_method,
            scope: m.scope,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            fetched_until: m.fetched_until,
            first_used_at: m.first_used_at,
            secret_hash: m.secret_hash,
            registration_token_hash: m.registration_token_hash,
        }
    }
}

/// Client metadata (RFC 7591 §2) as registered or fetched.
#[derive(Clone, Debug, Deserialize, Serialize, Default)]
pub struct ClientMetadata {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

/// RFC 7591 §3.2.2 error codes.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("{0}")]
    InvalidRedirectUri(String),
    #[error("{0}")]
    InvalidMetadata(String),
    /// The source holds [`DCR_UNUSED_CLIENTS_PER_SOURCE`] clients that were never used;
    /// `retry_after` is in seconds.
    #[error(
        "too many clients registered from this network have not been used yet; try again later"
    )]
    RateLimited { retry_after: i64 },
    #[error(transparent)]
    Core(#[from] crate::error::CoreError),
}

impl From<sea_orm::DbErr> for RegistrationError {
    fn from(e: sea_orm::DbErr) -> Self {
        RegistrationError::Core(e.into())
    }
}

/// Validated, normalised metadata.
#[derive(Clone, Debug)]
pub struct ValidMetadata {
    pub redirect_uris: Vec<String>,
    pub client_name: String,
    pub grant_types: Vec<String>,
    pub auth_method: String,
    pub scope: Option<String>,
}

pub fn validate_metadata(
    policy: &RedirectPolicy,
    m: &ClientMetadata,
    default_auth: &str,
) -> Result<ValidMetadata, RegistrationError> {
    if m.redirect_uris.is_empty() {
        return Err(RegistrationError::InvalidRedirectUri(
            "redirect_uris is required".into(),
        ));
    }
    if m.redirect_uris.len() > 10 {
        return Err(RegistrationError::InvalidRedirectUri(
            "at most 10 redirect_uris".into(),
        ));
    }
    for u in &m.redirect_uris {
        policy
            .validate_registration(u)
            .map_err(|e| RegistrationError::InvalidRedirectUri(e.to_string()))?;
    }
    let grant_types = m
        .grant_types
        .clone()
        .unwrap_or_else(|| vec!["authorization_code".into()]);
    for g in &grant_types {
        if g != "authorization_code" && g != "refresh_token" {
            return Err(RegistrationError::InvalidMetadata(format!(
                "grant_type '{g}' is not supported (supported: authorization_code, refresh_token)"
            )));
        }
    }
    if !grant_types.iter().any(|g| g == "authorization_code") {
        return Err(RegistrationError::InvalidMetadata(
            "grant_types must include authorization_code".into(),
        ));
    }
    if let Some(rt) = &m.response_types {
        if rt.iter().any(|r| r != "code") {
            return Err(RegistrationError::InvalidMetadata(
                "only response_type 'code' is supported".into(),
            ));
        }
    }
    let auth_method = m
        .token_endpoint_auth_method
        .clone()
        .unwrap_or_else(|| default_auth.to_string());
    if !["none", "client_secret_basic", "client_secret_post"].contains(&auth_method.as_str()) {
        return Err(RegistrationError::InvalidMetadata(format!(
            "token_endpoint_auth_method '{auth_method}' is not supported"
        )));
    }
    if let Some(c) = m.client_name.as_deref().and_then(name::forbidden_char) {
        return Err(RegistrationError::InvalidMetadata(format!(
            "client_name must not contain control, format or invisible characters (found U+{:04X})",
            c as u32
        )));
    }
    let client_name = m
        .client_name
        .clone()
        .unwrap_or_default()
        .trim()
        .chars()
        .take(100)
        .collect::<String>();
    let client_name = if client_name.is_empty() {
        "Unnamed client".to_string()
    } else {
        client_name
    };
    let mut redirect_uris = m.redirect_uris.clone();
    redirect_uris.dedup();
    Ok(ValidMetadata {
        redirect_uris,
        client_name,
        grant_types,
        auth_method,
        scope: m.scope.clone(),
    })
}

fn fingerprint(v: &ValidMetadata) -> String {
    let mut uris = v.redirect_uris.clone();
    uris.sort();
    let mut grants = v.grant_types.clone();
    grants.sort();
    let canon = serde_json::json!({"n": v.client_name, "r": uris, "g": grants, "a": v.auth_method});
    hex::encode(Sha256::digest(canon.to_string().as_bytes()))
}

pub struct Registered {
    pub client: Client,
    /// Shown once to a confidential client.
    pub client_secret: Option<String>,
    /// RFC 7592 management credential, confidential clients only.
    pub registration_access_token: Option<String>,
    /// An identical public registration already existed.
    pub reused: bool,
}

fn insert_model(id: &str, kind: ClientKind, v: &ValidMetadata, now: i64) -> clients::ActiveModel {
    clients::ActiveModel {
        client_id: Set(id.to_string()),
        kind: Set(kind.as_str().into()),
        client_name: Set(v.client_name.clone()),
        redirect_uris: Set(serde_json::to_string(&v.redirect_uris).unwrap_or_default()),
        grant_types: Set(serde_json::to_string(&v.grant_types).unwrap_or_default()),
        auth_method: Set(v.auth_method.clone()),
        secret_hash: Set(None),
        registration_token_hash: Set(None),
        fingerprint: Set(None),
        scope: Set(v.scope.clone()),
        created_at: Set(now),
        last_used_at: Set(now),
        fetched_until: Set(None),
        registered_from: Set(None),
        first_used_at: Set(None),
    }
}

/// RFC 7591 registration. Identical public registrations return the same client (hosted
/// connectors re-register often); confidential ones are never shared. What is bounded per
/// source (`source` is the caller's address, kept in full in the audit record and keyed by
/// [`ratelimit::source_key`]) is the number of clients it registered that were never used
/// (see `unused.rs`), not the number of registrations.
pub async fn register_dynamic(
    store: &Store,
    clock: &dyn Clock,
    policy: &RedirectPolicy,
    meta: &ClientMetadata,
    source: &str,
) -> Result<Registered, RegistrationError> {
    let v = validate_metadata(policy, meta, "client_secret_basic")?;
    let now = clock.now_us();
    let public = v.auth_method == "none";
    let fp = public.then(|| fingerprint(&v));
    if let Some(fp) = &fp {
        if let Some(m) = clients::Entity::find()
            .filter(clients::Column::Fingerprint.eq(fp.clone()))
            .one(&store.db)
            .await?
        {
            return Ok(Registered {
                client: m.into(),
                client_secret: None,
                registration_access_token: None,
                reused: true,
            });
        }
    }
    let source_key = ratelimit::source_key(source);
    if let Some(retry_after) = unused::cap_reached(&store.db, now, &source_key).await? {
        return Err(RegistrationError::RateLimited { retry_after });
    }
    let id = format!("dcr_{}", random_hex16());
    let mut row = insert_model(&id, ClientKind::Dcr, &v, now);
    row.fingerprint = Set(fp.clone());
    row.registered_from = Set(Some(source_key));
    let (secret, reg_token) = if public {
        (None, None)
    } else {
        let s = random_token();
        let t = random_token();
        row.secret_hash = Set(Some(sha256_hex(&s)));
        row.registration_token_hash = Set(Some(sha256_hex(&t)));
        (Some(s), Some(t))
    };
    let txn = store.begin().await?;
    if let Err(e) = clients::Entity::insert(row)
        .exec_without_returning(&txn)
        .await
    {
        drop(txn);
        if is_unique_violation(&e) {
            // A concurrent identical public registration won the race: return its client.
            if let Some(fp) = fp {
                if let Some(m) = clients::Entity::find()
                    .filter(clients::Column::Fingerprint.eq(fp))
                    .one(&store.db)
                    .await?
                {
                    return Ok(Registered {
                        client: m.into(),
                        client_secret: None,
                        registration_access_token: None,
                        reused: true,
                    });
                }
            }
        }
        return Err(e.into());
    }
    audit::record(
        &txn,
        clock,
        AuditEvent::new(None, "client.registered")
            .client(id.clone())
            .source(Some(source.to_string()), None)
            .detail("kind", "dcr")
            .detail("client_name", v.client_name.as_str())
            .detail("redirect_uris", v.redirect_uris.clone())
            .detail("auth_method", v.auth_method.as_str()),
    )
    .await?;
    txn.commit().await?;
    let client = get(&store.db, &id)
        .await?
        .ok_or(crate::error::CoreError::NotFound("client"))?;
    Ok(Registered {
        client,
        client_secret: secret,
        registration_access_token: reg_token,
        reused: false,
    })
}

/// Operator pre-registration (`gatehouse client add`).
pub async fn add_preregistered(
    store: &Store,
    clock: &dyn Clock,
    policy: &RedirectPolicy,
    name: &str,
    redirect_uris: &[String],
    confidential: bool,
) -> Result<Registered, RegistrationError> {
    let meta = ClientMetadata {
        redirect_uris: redirect_uris.to_vec(),
        client_name: Some(name.to_string()),
        grant_types: Some(vec!["authorization_code".into(), "refresh_token".into()]),
        token_endpoint_auth_method: Some(
            if confidential {
                "client_secret_basic"
            } else {
                "none"
            }
            .into(),
        ),
        ..Default::default()
    };
    let v = validate_metadata(policy, &meta, "none")?;
    let id = format!("pre_{}", random_hex16());
    let mut row = insert_model(&id, ClientKind::Preregistered, &v, clock.now_us());
    let secret = confidential.then(random_token);
    if let Some(s) = &secret {
        row.secret_hash = Set(Some(sha256_hex(s)));
    }
    let txn = store.begin().await?;
    clients::Entity::insert(row)
        .exec_without_returning(&txn)
        .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(None, "client.registered")
            .actor("operator")
            .client(id.clone())
            .detail("kind", "preregistered")
            .detail("client_name", name)
            .detail("redirect_uris", v.redirect_uris.clone()),
    )
    .await?;
    txn.commit().await?;
    let client = get(&store.db, &id)
        .await?
        .ok_or(crate::error::CoreError::NotFound("client"))?;
    Ok(Registered {
        client,
        client_secret: secret,
        registration_access_token: None,
        reused: false,
    })
}

/// The client `client_id` as it is now, read together with the node's concurrent reads on
/// PostgreSQL (`lookup`, ADR 0025): the token and revocation endpoints' client
/// authentication.
pub async fn find(store: &Store, client_id: &str) -> CoreResult<Option<Client>> {
    if !store.is_postgres() {
        return get(&store.db, client_id).await;
    }
    Ok(store
        .queues
        .clients
        .submit(&store.db, client_id.to_string())
        .await?
        .map(Client::from))
}

pub async fn get<C: ConnectionTrait>(conn: &C, client_id: &str) -> CoreResult<Option<Client>> {
    Ok(clients::Entity::find_by_id(client_id.to_string())
        .one(conn)
        .await?
        .map(Client::from))
}

/// Stores (or refreshes) a client described by a fetched metadata document; `fetched_until` is
/// when the cached copy must be fetched again.
pub async fn upsert_cimd(
    store: &Store,
    clock: &dyn Clock,
    url: &str,
    v: &ValidMetadata,
    fetched_until: i64,
) -> CoreResult<Client> {
    let now = clock.now_us();
    let txn = store.begin().await?;
    let existing = clients::Entity::find_by_id(url.to_string())
        .one(&txn)
        .await?;
    if existing.is_some() {
        set_metadata(url, v)
            .col_expr(clients::Column::FetchedUntil, Some(fetched_until).into())
            .exec(&txn)
            .await?;
    } else {
        let mut row = insert_model(url, ClientKind::Cimd, v, now);
        row.fetched_until = Set(Some(fetched_until));
        // Two first uses of one document racing: the loser keeps the winner's row.
        clients::Entity::insert(row)
            .on_conflict(
                sea_orm::sea_query::OnConflict::column(clients::Column::ClientId)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        audit::record(
            &txn,
            clock,
            AuditEvent::new(None, "client.registered")
                .client(url.to_string())
                .detail("kind", "cimd")
                .detail("client_name", v.client_name.as_str())
                .detail("redirect_uris", v.redirect_uris.clone()),
        )
        .await?;
    }
    txn.commit().await?;
    get(&store.db, url)
        .await?
        .ok_or(crate::error::CoreError::NotFound("client"))
}

/// An update replacing a client's registered metadata.
fn set_metadata(client_id: &str, v: &ValidMetadata) -> sea_orm::UpdateMany<clients::Entity> {
    let json = |x: &Vec<String>| serde_json::to_string(x).unwrap_or_default();
    clients::Entity::update_many()
        .col_expr(clients::Column::ClientName, v.client_name.clone().into())
        .col_expr(clients::Column::RedirectUris, json(&v.redirect_uris).into())
        .col_expr(clients::Column::GrantTypes, json(&v.grant_types).into())
        .col_expr(clients::Column::AuthMethod, v.auth_method.clone().into())
        .col_expr(clients::Column::Scope, v.scope.clone().into())
        .filter(clients::Column::ClientId.eq(client_id))
}

/// RFC 7592: the client behind `client_id` if `token` is its registration access token. Shared
/// public clients have no such token and cannot be managed (or deleted) this way.
pub async fn authorize_management<C: ConnectionTrait>(
    conn: &C,
    client_id: &str,
    token: &str,
) -> CoreResult<Option<Client>> {
    let Some(c) = get(conn, client_id).await? else {
        return Ok(None);
    };
    match &c.registration_token_hash {
        Some(h) if hashes_equal(h, &sha256_hex(token)) => Ok(Some(c)),
        _ => Ok(None),
    }
}

/// RFC 7592 §2.2 update: replaces the metadata (secret and id unchanged).
pub async fn update_managed(
    store: &Store,
    clock: &dyn Clock,
    policy: &RedirectPolicy,
    client: &Client,
    meta: &ClientMetadata,
) -> Result<Client, RegistrationError> {
    let v = validate_metadata(policy, meta, &client.auth_method)?;
    if v.auth_method == "none" {
        return Err(RegistrationError::InvalidMetadata(
            "a confidential client cannot become public".into(),
        ));
    }
    let txn = store.begin().await?;
    set_metadata(&client.client_id, &v).exec(&txn).await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(None, "client.updated").client(client.client_id.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(get(&store.db, &client.client_id)
        .await?
        .ok_or(crate::error::CoreError::NotFound("client"))?)
}

/// RFC 7592 §2.3 delete: the client and every token it holds go.
pub async fn delete_managed(store: &Store, clock: &dyn Clock, client: &Client) -> CoreResult<()> {
    let txn = store.begin().await?;
    crate::token::revoke::revoke_client_tokens(&txn, clock, &client.client_id).await?;
    clients::Entity::delete_by_id(client.client_id.clone())
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(None, "client.deleted").client(client.client_id.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Marks a client used (token issuance), which keeps it from expiring; the first use also
/// takes it out of its source's count of unused registrations.
pub async fn touch<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    client: &Client,
) -> CoreResult<()> {
    let client_id = client.client_id.as_str();
    if client.first_used_at.is_none() {
        unused::mark_used(conn, clock.now_us(), client_id).await?;
    }
    if client.last_used_at >= clock.now_us() - TOUCH_GRANULARITY_SECS * MICROS {
        return Ok(());
    }
    // Only a stale mark is rewritten: a client shared by many users (one CIMD or DCR client
    // per connector) would otherwise serialise every token request on its row lock.
    let now = clock.now_us();
    clients::Entity::update_many()
        .col_expr(clients::Column::LastUsedAt, now.into())
        .filter(clients::Column::ClientId.eq(client_id))
        .filter(clients::Column::LastUsedAt.lt(now - TOUCH_GRANULARITY_SECS * MICROS))
        .exec(conn)
        .await?;
    Ok(())
}

/// `last_used_at` is kept to this granularity (it drives expiry after 90 idle days).
pub const TOUCH_GRANULARITY_SECS: i64 = 3600;

/// Removes dynamically registered clients unused for [`DCR_IDLE_EXPIRY_DAYS`] (their refresh
/// tokens, 30 days at most, are long expired by then), and those never used within
/// [`DCR_UNUSED_EXPIRY_SECS`] of registering (they never held a token).
pub async fn expire_unused(store: &Store, clock: &dyn Clock) -> CoreResult<u64> {
    let now = clock.now_us();
    let cutoff = now - DCR_IDLE_EXPIRY_DAYS * 86_400 * MICROS;
    // Dynamically registered and metadata-document clients are created by anyone; both expire
    // when unused (a CIMD client comes back by fetching its document again).
    let stale: Vec<String> = clients::Entity::find()
        .filter(unused::expired(now, cutoff))
        .all(&store.db)
        .await?
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    if stale.is_empty() {
        return Ok(0);
    }
    let txn = store.begin().await?;
    let n = clients::Entity::delete_many()
        .filter(clients::Column::ClientId.is_in(stale.clone()))
        .filter(unused::expired(now, cutoff))
        .exec(&txn)
        .await?
        .rows_affected;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(None, "client.expired").detail("clients", stale),
    )
    .await?;
    txn.commit().await?;
    Ok(n)
}

/// The clients a tenant's admin sees: every pre-registered client, and every client the
/// tenant's users have used or the tenant made a decision about.
pub async fn list_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant: &crate::TenantId,
) -> CoreResult<Vec<Client>> {
    use crate::entities::{consents, grant_families, tenant_client_policy};
    use sea_orm::QuerySelect;
    let mut ids: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let used: Vec<String> = consents::Entity::find()
        .select_only()
        .column(consents::Column::ClientId)
        .distinct()
        .filter(consents::Column::TenantId.eq(tenant.to_string()))
        .into_tuple()
        .all(conn)
        .await?;
    ids.extend(used);
    let granted: Vec<String> = grant_families::Entity::find()
        .select_only()
        .column(grant_families::Column::ClientId)
        .distinct()
        .filter(grant_families::Column::TenantId.eq(tenant.to_string()))
        .into_tuple()
        .all(conn)
        .await?;
    ids.extend(granted);
    let decided: Vec<String> = tenant_client_policy::Entity::find()
        .select_only()
        .column(tenant_client_policy::Column::ClientId)
        .distinct()
        .filter(tenant_client_policy::Column::TenantId.eq(tenant.to_string()))
        .into_tuple()
        .all(conn)
        .await?;
    ids.extend(decided);
    let mut out: Vec<Client> = clients::Entity::find()
        .filter(clients::Column::Kind.eq("preregistered"))
        .all(conn)
        .await?
        .into_iter()
        .map(Client::from)
        .collect();
    for id in ids {
        if out.iter().any(|c| c.client_id == id) {
            continue;
        }
        if let Some(c) = get(conn, &id).await? {
            out.push(c);
        }
    }
    out.sort_by(|a, b| {
        a.client_name
            .to_lowercase()
            .cmp(&b.client_name.to_lowercase())
    });
    Ok(out)
}

/// Every pre-registered client (the operator's list), by name.
pub async fn list_preregistered<C: ConnectionTrait>(conn: &C) -> CoreResult<Vec<Client>> {
    let mut out: Vec<Client> = clients::Entity::find()
        .filter(clients::Column::Kind.eq("preregistered"))
        .all(conn)
        .await?
        .into_iter()
        .map(Client::from)
        .collect();
    out.sort_by(|a, b| {
        a.client_name
            .to_lowercase()
            .cmp(&b.client_name.to_lowercase())
    });
    Ok(out)
}
