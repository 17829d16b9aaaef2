//! Per-tenant SCIM bearer tokens (the IdP's credential for `/scim/v2/{tenant}`). Shown once,
//! stored as SHA-256 hashes, expiring, revocable, and rotatable with an overlap window so an
//! IdP can be switched to the new token without a provisioning gap. A token authenticates only
//! for its own tenant.
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::audit::{self, AuditEvent};
use crate::clock::{Clock, MICROS};
use crate::crypto::{hashes_equal, random_token, sha256_hex};
use crate::db::Store;
use crate::entities::scim_tokens::{self, Column, Entity};
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

/// Longest lifetime a token may be given.
pub const MAX_TTL_SECS: i64 = crate::crypto::MAX_CREDENTIAL_TTL_SECS;

#[derive(Clone, Debug)]
pub struct ScimToken {
    pub id: String,
    pub tenant: TenantId,
    pub name: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl From<scim_tokens::Model> for ScimToken {
    fn from(m: scim_tokens::Model) -> Self {
        ScimToken {
            id: m.id,
            tenant: TenantId::from_stored(m.tenant_id),
            name: m.name,
            created_at: m.created_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
            last_used_at: m.last_used_at,
        }
    }
}

async fn insert<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    name: &str,
    ttl_secs: i64,
) -> CoreResult<(ScimToken, String)> {
    let name = crate::crypto::check_credential("a SCIM token", name, ttl_secs)?;
    let secret = format!("ghscim_{}", random_token());
    let now = clock.now_us();
    let tok = ScimToken {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: tenant.clone(),
        name: name.to_string(),
        created_at: now,
        expires_at: now + ttl_secs * MICROS,
        revoked_at: None,
        last_used_at: None,
    };
    Entity::insert(scim_tokens::ActiveModel {
        id: Set(tok.id.clone()),
        tenant_id: Set(tenant.to_string()),
        name: Set(tok.name.clone()),
        token_hash: Set(sha256_hex(&secret)),
        created_at: Set(now),
        expires_at: Set(tok.expires_at),
        revoked_at: NotSet,
        last_used_at: NotSet,
        expiry_alerted_at: NotSet,
    })
    .exec_without_returning(conn)
    .await?;
    Ok((tok, secret))
}

/// Creates a token; the secret is returned once and never stored.
pub async fn create(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    name: &str,
    ttl_secs: i64,
) -> CoreResult<(ScimToken, String)> {
    create_by(store, clock, tenant, name, ttl_secs, "operator").await
}

/// [`create`] on behalf of `actor` (an admin key or console admin), audited as them.
pub async fn create_by(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    name: &str,
    ttl_secs: i64,
    actor: &str,
) -> CoreResult<(ScimToken, String)> {
    let txn = store.begin().await?;
    let (tok, secret) = insert(&txn, clock, tenant, name, ttl_secs).await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "scim_token.created")
            .actor(actor)
            .detail("token_id", tok.id.as_str())
            .detail("name", tok.name.as_str())
            .detail("expires_at", tok.expires_at),
    )
    .await?;
    txn.commit().await?;
    Ok((tok, secret))
}

/// The tenant's tokens (never their secrets), newest first.
pub async fn list<C: ConnectionTrait>(conn: &C, tenant: &TenantId) -> CoreResult<Vec<ScimToken>> {
    Ok(Entity::find()
        .filter(Column::TenantId.eq(tenant.to_string()))
        .order_by_desc(Column::CreatedAt)
        .all(conn)
        .await?
        .into_iter()
        .map(ScimToken::from)
        .collect())
}

/// One token of the tenant (another tenant's is not found).
pub async fn get<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    id: &str,
) -> CoreResult<ScimToken> {
    Entity::find_by_id(id)
        .filter(Column::TenantId.eq(tenant.to_string()))
        .one(conn)
        .await?
        .map(ScimToken::from)
        .ok_or(CoreError::NotFound("SCIM token"))
}

pub async fn revoke(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
) -> CoreResult<()> {
    revoke_by(store, clock, tenant, id, "operator").await
}

/// [`revoke`] on behalf of `actor`.
pub async fn revoke_by(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    actor: &str,
) -> CoreResult<()> {
    let txn = store.begin().await?;
    revoke_in(&txn, clock, tenant, id, actor).await?;
    txn.commit().await?;
    Ok(())
}

/// [`revoke`] inside the caller's transaction. Returns the token as it was and whether this
/// call stopped a working token (false: it was already revoked or expired).
pub async fn revoke_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    actor: &str,
) -> CoreResult<(ScimToken, bool)> {
    let tok = get(txn, tenant, id).await?;
    let now = clock.now_us();
    let live = tok.revoked_at.is_none() && tok.expires_at > now;
    Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .filter(Column::TenantId.eq(tenant.to_string()))
        .filter(Column::Id.eq(id))
        .filter(Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    audit::record(
        txn,
        clock,
        AuditEvent::new(Some(tenant), "scim_token.revoked")
            .actor(actor)
            .detail("token_id", id)
            .detail("name", tok.name.as_str())
            .detail("was_live", live),
    )
    .await?;
    Ok((tok, live))
}

/// Renames a token inside the caller's transaction (the name says which IdP or job holds it);
/// the secret and expiry do not change.
pub async fn rename_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    name: &str,
    actor: &str,
) -> CoreResult<ScimToken> {
    let before = get(txn, tenant, id).await?;
    let name = crate::crypto::check_credential("a SCIM token", name, 60)?;
    Entity::update_many()
        .col_expr(Column::Name, Expr::value(name))
        .filter(Column::TenantId.eq(tenant.to_string()))
        .filter(Column::Id.eq(id))
        .exec(txn)
        .await?;
    audit::record(
        txn,
        clock,
        AuditEvent::new(Some(tenant), "scim_token.renamed")
            .actor(actor)
            .detail("token_id", id)
            .detail("previous_name", before.name.as_str())
            .detail("name", name),
    )
    .await?;
    get(txn, tenant, id).await
}

/// Issues a successor and lets the old token live at most `overlap_secs` longer.
pub async fn rotate(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    overlap_secs: i64,
    ttl_secs: i64,
) -> CoreResult<(ScimToken, String)> {
    rotate_by(store, clock, tenant, id, overlap_secs, ttl_secs, "operator").await
}

/// [`rotate`] on behalf of `actor`.
pub async fn rotate_by(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    overlap_secs: i64,
    ttl_secs: i64,
    actor: &str,
) -> CoreResult<(ScimToken, String)> {
    if !(0..=30 * 86_400).contains(&overlap_secs) {
        return Err(CoreError::invalid("the overlap is at most 30 days"));
    }
    let txn = store.begin().await?;
    let old = get(&txn, tenant, id).await?;
    if old.revoked_at.is_some() {
        return Err(CoreError::invalid(
            "a revoked token cannot be rotated; create a new one",
        ));
    }
    let (new, secret) = insert(&txn, clock, tenant, &old.name, ttl_secs).await?;
    let until = old.expires_at.min(clock.now_us() + overlap_secs * MICROS);
    Entity::update_many()
        .col_expr(Column::ExpiresAt, Expr::value(until))
        .filter(Column::TenantId.eq(tenant.to_string()))
        .filter(Column::Id.eq(id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "scim_token.rotated")
            .actor(actor)
            .detail("token_id", id)
            .detail("successor_id", new.id.as_str())
            .detail("old_expires_at", until),
    )
    .await?;
    txn.commit().await?;
    Ok((new, secret))
}

/// The live token of `tenant` matching `presented`, if any. A token of another tenant never
/// authenticates, whatever it is.
pub async fn authenticate<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    presented: &str,
) -> CoreResult<Option<ScimToken>> {
    let hash = sha256_hex(presented);
    let Some(m) = Entity::find()
        .filter(Column::TokenHash.eq(hash.clone()))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let stored = m.token_hash.clone();
    let tok = ScimToken::from(m);
    let now = clock.now_us();
    if !hashes_equal(&stored, &hash)
        || tok.tenant != *tenant
        || tok.revoked_at.is_some()
        || tok.expires_at <= now
    {
        return Ok(None);
    }
    // Last use is kept to the minute (the console shows the last sync).
    if tok
        .last_used_at
        .map(|t| now - t > 60 * MICROS)
        .unwrap_or(true)
    {
        Entity::update_many()
            .col_expr(Column::LastUsedAt, Expr::value(now))
            .filter(Column::Id.eq(tok.id.clone()))
            .exec(conn)
            .await?;
    }
    Ok(Some(tok))
}

/// Parses `90d`, `12h`, `30m` or plain seconds.
pub fn parse_duration(s: &str) -> CoreResult<i64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('d') => (&s[..s.len() - 1], 86_400),
        Some('h') => (&s[..s.len() - 1], 3600),
        Some('m') => (&s[..s.len() - 1], 60),
        Some('s') => (&s[..s.len() - 1], 1),
        _ => (s, 1),
    };
    num.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| CoreError::invalid(format!("'{s}' is not a duration like 90d, 12h or 30m")))
}

/// Alert a SCIM token this long before it expires (an IdP with an expired token stops
/// provisioning, and Entra ID quarantines the job).
pub const EXPIRY_ALERT_SECS: i64 = 14 * 86_400;

/// Queues one "SCIM token nearing expiry" alert per live token that expires within
/// [`EXPIRY_ALERT_SECS`] and has not been alerted yet (every node may run this: the mark is
/// set in the same transaction, conditionally). Returns how many tokens were alerted.
pub async fn alert_expiring(store: &Store, clock: &dyn Clock) -> CoreResult<u64> {
    let now = clock.now_us();
    let due: Vec<ScimToken> = Entity::find()
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiryAlertedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .filter(Column::ExpiresAt.lte(now + EXPIRY_ALERT_SECS * MICROS))
        .all(&store.db)
        .await?
        .into_iter()
        .map(ScimToken::from)
        .collect();
    let mut n = 0;
    for tok in due {
        let txn = store.begin().await?;
        let marked = Entity::update_many()
            .col_expr(Column::ExpiryAlertedAt, Expr::value(now))
            .filter(Column::Id.eq(tok.id.clone()))
            .filter(Column::ExpiryAlertedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        if marked == 0 {
            continue; // another node got there first
        }
        let expires = crate::clock::rfc3339(tok.expires_at, chrono::SecondsFormat::Secs);
        crate::mail::alert(
            &txn,
            clock,
            &tok.tenant,
            "alert.scim_token_expiring",
            "A SCIM token expires soon",
            "scim_token.",
            &[
                ("Token", format!("{} ({})", tok.name, tok.id)),
                ("Expires", expires),
                ("What to do", "rotate it (gatehouse scim-token rotate) and paste the new token into your identity provider before then".into()),
            ],
        )
        .await?;
        txn.commit().await?;
        n += 1;
    }
    Ok(n)
}

/// Is a SCIM token of the tenant live (neither revoked nor expired)? Then the IdP can push a
/// deactivation, and a refresh family needs no default cap on its life without a fresh
/// sign-in (DESIGN §4b).
pub async fn any_live<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
) -> CoreResult<bool> {
    let live: Option<String> = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::TenantId.eq(tenant.to_string()))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(clock.now_us()))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(live.is_some())
}
