//! Per-tenant SCIM bearer tokens (the IdP's credential for `/scim/v2/{tenant}`). Shown once,
//! stored as SHA-256 hashes, expiring, revocable, and rotatable with an overlap window so an
//! IdP can be switched to the new token without a provisioning gap. A token authenticates only
//! for its own tenant.
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ConnectionTrait, Statement};

use crate::audit::{self, AuditEvent};
use crate::clock::{Clock, MICROS};
use crate::crypto::{hashes_equal, random_token, sha256_hex};
use crate::db::Store;
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

fn t(n: &str) -> Alias {
    Alias::new(n)
}

const COLUMNS: [&str; 8] = [
    "id",
    "tenant_id",
    "name",
    "token_hash",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
];

fn row(r: &sea_orm::QueryResult) -> CoreResult<(ScimToken, String)> {
    Ok((
        ScimToken {
            id: r.try_get("", "id")?,
            tenant: TenantId(r.try_get("", "tenant_id")?),
            name: r.try_get("", "name")?,
            created_at: r.try_get("", "created_at")?,
            expires_at: r.try_get("", "expires_at")?,
            revoked_at: r.try_get("", "revoked_at")?,
            last_used_at: r.try_get("", "last_used_at")?,
        },
        r.try_get("", "token_hash")?,
    ))
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
    let q = Query::insert()
        .into_table(t("scim_tokens"))
        .columns([
            t("id"),
            t("tenant_id"),
            t("name"),
            t("token_hash"),
            t("created_at"),
            t("expires_at"),
        ])
        .values_panic([
            tok.id.clone().into(),
            tenant.0.clone().into(),
            tok.name.clone().into(),
            sha256_hex(&secret).into(),
            now.into(),
            tok.expires_at.into(),
        ])
        .to_owned();
    let stmt: Statement = conn.get_database_backend().build(&q);
    conn.execute(stmt).await?;
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
    let q = Query::select()
        .columns(COLUMNS.map(t))
        .from(t("scim_tokens"))
        .and_where(Expr::col(t("tenant_id")).eq(tenant.0.clone()))
        .order_by(t("created_at"), sea_orm::sea_query::Order::Desc)
        .to_owned();
    let rows = conn
        .query_all(conn.get_database_backend().build(&q))
        .await?;
    rows.iter().map(|r| row(r).map(|(t, _)| t)).collect()
}

async fn get<C: ConnectionTrait>(conn: &C, tenant: &TenantId, id: &str) -> CoreResult<ScimToken> {
    let q = Query::select()
        .columns(COLUMNS.map(t))
        .from(t("scim_tokens"))
        .and_where(Expr::col(t("tenant_id")).eq(tenant.0.clone()))
        .and_where(Expr::col(t("id")).eq(id))
        .to_owned();
    let r = conn
        .query_one(conn.get_database_backend().build(&q))
        .await?
        .ok_or(CoreError::NotFound("SCIM token"))?;
    Ok(row(&r)?.0)
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
    get(&txn, tenant, id).await?;
    let q = Query::update()
        .table(t("scim_tokens"))
        .value(t("revoked_at"), clock.now_us())
        .and_where(Expr::col(t("tenant_id")).eq(tenant.0.clone()))
        .and_where(Expr::col(t("id")).eq(id))
        .and_where(Expr::col(t("revoked_at")).is_null())
        .to_owned();
    txn.execute(txn.get_database_backend().build(&q)).await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "scim_token.revoked")
            .actor(actor)
            .detail("token_id", id),
    )
    .await?;
    txn.commit().await?;
    Ok(())
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
    let q = Query::update()
        .table(t("scim_tokens"))
        .value(t("expires_at"), until)
        .and_where(Expr::col(t("tenant_id")).eq(tenant.0.clone()))
        .and_where(Expr::col(t("id")).eq(id))
        .to_owned();
    txn.execute(txn.get_database_backend().build(&q)).await?;
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
    let q = Query::select()
        .columns(COLUMNS.map(t))
        .from(t("scim_tokens"))
        .and_where(Expr::col(t("token_hash")).eq(hash.clone()))
        .to_owned();
    let Some(r) = conn
        .query_one(conn.get_database_backend().build(&q))
        .await?
    else {
        return Ok(None);
    };
    let (tok, stored) = row(&r)?;
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
        let u = Query::update()
            .table(t("scim_tokens"))
            .value(t("last_used_at"), now)
            .and_where(Expr::col(t("id")).eq(tok.id.clone()))
            .to_owned();
        conn.execute(conn.get_database_backend().build(&u)).await?;
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
    let q = Query::select()
        .columns(COLUMNS.map(t))
        .from(t("scim_tokens"))
        .and_where(Expr::col(t("revoked_at")).is_null())
        .and_where(Expr::col(t("expiry_alerted_at")).is_null())
        .and_where(Expr::col(t("expires_at")).gt(now))
        .and_where(Expr::col(t("expires_at")).lte(now + EXPIRY_ALERT_SECS * MICROS))
        .to_owned();
    let due = store
        .db
        .query_all(store.db.get_database_backend().build(&q))
        .await?
        .iter()
        .map(|r| row(r).map(|(tok, _)| tok))
        .collect::<CoreResult<Vec<_>>>()?;
    let mut n = 0;
    for tok in due {
        let txn = store.begin().await?;
        let mark = Query::update()
            .table(t("scim_tokens"))
            .value(t("expiry_alerted_at"), now)
            .and_where(Expr::col(t("id")).eq(tok.id.clone()))
            .and_where(Expr::col(t("expiry_alerted_at")).is_null())
            .to_owned();
        if txn
            .execute(txn.get_database_backend().build(&mark))
            .await?
            .rows_affected()
            == 0
        {
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
    let q = Query::select()
        .column(t("id"))
        .from(t("scim_tokens"))
        .and_where(Expr::col(t("tenant_id")).eq(tenant.0.clone()))
        .and_where(Expr::col(t("revoked_at")).is_null())
        .and_where(Expr::col(t("expires_at")).gt(clock.now_us()))
        .limit(1)
        .to_owned();
    Ok(conn
        .query_one(conn.get_database_backend().build(&q))
        .await?
        .is_some())
}
