//! A tenant's email domains and their verification. A domain names the tenant at home-realm
//! discovery only once verified: by a DNS TXT record `gatehouse-verification=<token>` at
//! `_gatehouse-challenge.<domain>` (the admin proves control of the zone), or by the operator's
//! override (`gatehouse domain verify --tenant T --domain D`, audited). A domain belongs to at
//! most one tenant, and consumer mail domains are refused (DESIGN §6.1).
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::crypto::random_hex16;
use crate::db::{is_unique_violation, Store};
use crate::entities::tenant_domains::{self, Column, Entity};
use crate::error::{CoreError, CoreResult};
use crate::tenant::{normalize_domain, TenantId};

/// How long an unverified domain stays reserved for the tenant that added it.
pub const UNVERIFIED_HOLD_SECS: i64 = 7 * 86_400;

/// The DNS name the TXT record goes on.
pub fn challenge_name(domain: &str) -> String {
    format!("_gatehouse-challenge.{domain}")
}

#[derive(Clone, Debug)]
pub struct Domain {
    pub domain: String,
    pub verified: bool,
    pub verification_token: Option<String>,
    pub verified_at: Option<i64>,
    pub verified_by: Option<String>,
    pub created_at: i64,
}

impl Domain {
    /// The TXT record value that proves control.
    pub fn txt_value(&self) -> Option<String> {
        self.verification_token
            .as_ref()
            .map(|t| format!("gatehouse-verification={t}"))
    }
}

impl From<tenant_domains::Model> for Domain {
    fn from(m: tenant_domains::Model) -> Self {
        Domain {
            domain: m.domain,
            verified: m.verified,
            verification_token: m.verification_token,
            verified_at: m.verified_at,
            verified_by: m.verified_by,
            created_at: m.created_at,
        }
    }
}

pub async fn list<C: ConnectionTrait>(conn: &C, tenant: &TenantId) -> CoreResult<Vec<Domain>> {
    Ok(Entity::find()
        .filter(Column::TenantId.eq(tenant.to_string()))
        .order_by_asc(Column::Domain)
        .all(conn)
        .await?
        .into_iter()
        .map(Domain::from)
        .collect())
}

pub async fn get<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    domain: &str,
) -> CoreResult<Domain> {
    Entity::find_by_id(domain.to_ascii_lowercase())
        .filter(Column::TenantId.eq(tenant.to_string()))
        .one(conn)
        .await?
        .map(Domain::from)
        .ok_or(CoreError::NotFound("domain"))
}

/// Adds an unverified domain with a fresh verification token.
pub async fn add(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    domain: &str,
    actor: &str,
) -> CoreResult<Domain> {
    let d = normalize_domain(domain)?;
    let token = random_hex16();
    let now = clock.now_us();
    let txn = store.begin().await?;
    // An unverified claim does not hold a domain forever: after UNVERIFIED_HOLD_SECS another
    // tenant may claim it (and whoever publishes the DNS record first owns it).
    if let Some(existing) = Entity::find_by_id(d.clone()).one(&txn).await? {
        let owner = TenantId::from_stored(existing.tenant_id);
        let (verified, created) = (existing.verified, existing.created_at);
        let stale = !verified && created < now - UNVERIFIED_HOLD_SECS * crate::clock::MICROS;
        if !stale || &owner == tenant {
            return Err(CoreError::conflict(format!(
                "the domain '{d}' is already registered (by this or another organisation)"
            )));
        }
        Entity::delete_many()
            .filter(Column::Domain.eq(d.clone()))
            .filter(Column::Verified.eq(false))
            .exec(&txn)
            .await?;
        audit::record(
            &txn,
            clock,
            AuditEvent::new(Some(&owner), "domain.released")
                .actor(actor)
                .detail("domain", d.as_str())
                .detail(
                    "reason",
                    "unverified for too long; claimed by another organisation",
                ),
        )
        .await?;
    }
    let inserted = Entity::insert(tenant_domains::ActiveModel {
        domain: Set(d.clone()),
        tenant_id: Set(tenant.to_string()),
        verified: Set(false),
        created_at: Set(now),
        verification_token: Set(Some(token.clone())),
        verified_at: NotSet,
        verified_by: NotSet,
    })
    .exec_without_returning(&txn)
    .await;
    if let Err(e) = inserted {
        if is_unique_violation(&e) {
            return Err(CoreError::conflict(format!(
                "the domain '{d}' is already registered (by this or another organisation)"
            )));
        }
        return Err(e.into());
    }
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "domain.added")
            .actor(actor)
            .detail("domain", d.as_str()),
    )
    .await?;
    txn.commit().await?;
    get(&store.db, tenant, &d).await
}

async fn mark_verified(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    domain: &str,
    method: &str,
    actor: &str,
) -> CoreResult<()> {
    let txn = store.begin().await?;
    Entity::update_many()
        .col_expr(Column::Verified, Expr::value(true))
        .col_expr(Column::VerifiedAt, Expr::value(clock.now_us()))
        .col_expr(Column::VerifiedBy, Expr::value(format!("{method}:{actor}")))
        .filter(Column::TenantId.eq(tenant.to_string()))
        .filter(Column::Domain.eq(domain))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "domain.verified")
            .actor(actor)
            .detail("domain", domain)
            .detail("method", method),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Verifies `domain` against the TXT records found at its challenge name (looked up by the
/// caller). Fails, changing nothing, when no record carries the token.
pub async fn verify_by_dns(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    domain: &str,
    txt_records: &[String],
    actor: &str,
) -> CoreResult<()> {
    let d = get(&store.db, tenant, domain).await?;
    if d.verified {
        return Ok(());
    }
    let Some(expected) = d.txt_value() else {
        return Err(CoreError::invalid("this domain has no verification token"));
    };
    if !txt_records.iter().any(|r| r.trim() == expected) {
        return Err(CoreError::invalid(format!(
            "no TXT record '{expected}' was found at {} (found {} record(s)); DNS changes can take a while to appear",
            challenge_name(&d.domain),
            txt_records.len()
        )));
    }
    mark_verified(store, clock, tenant, &d.domain, "dns", actor).await
}

/// The operator vouches for the domain (documented override for tenants that cannot publish
/// DNS records), audited.
pub async fn verify_by_operator(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    domain: &str,
    actor: &str,
) -> CoreResult<()> {
    let d = get(&store.db, tenant, domain).await?;
    mark_verified(store, clock, tenant, &d.domain, "operator", actor).await
}

/// Removes a domain of the tenant, audited.
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    domain: &str,
    actor: &str,
) -> CoreResult<()> {
    let txn = store.begin().await?;
    remove_in(&txn, clock, tenant, domain, actor).await?;
    txn.commit().await?;
    Ok(())
}

/// [`remove`] inside the caller's transaction; returns the domain as it was.
pub async fn remove_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    domain: &str,
    actor: &str,
) -> CoreResult<Domain> {
    let d = get(txn, tenant, domain).await?;
    Entity::delete_many()
        .filter(Column::TenantId.eq(tenant.to_string()))
        .filter(Column::Domain.eq(d.domain.clone()))
        .exec(txn)
        .await?;
    audit::record(
        txn,
        clock,
        AuditEvent::new(Some(tenant), "domain.removed")
            .actor(actor)
            .detail("domain", d.domain.as_str()),
    )
    .await?;
    Ok(d)
}
