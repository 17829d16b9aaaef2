//! A tenant's email domains: show, re-check verification, remove. Verification is the one
//! thing that changes on a domain: by the TXT record at its challenge name (looked up by the
//! caller, which owns the resolver), or by the operator's documented override.
use authz_core::admin::domain::{self, Domain};
use authz_core::clock::Clock;
use authz_core::{CoreResult, Store, TenantId};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;

use super::{finish, time, Impact, Removed};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DomainView {
    pub domain: String,
    pub verified: bool,
    /// `dns` or `operator`.
    pub verified_by: Option<String>,
    pub verified_at: Option<String>,
    /// Where the TXT record that verifies it goes…
    pub txt_name: String,
    /// …and what it says.
    pub txt_value: Option<String>,
    pub created_at: String,
}

impl From<Domain> for DomainView {
    fn from(d: Domain) -> Self {
        DomainView {
            txt_name: domain::challenge_name(&d.domain),
            txt_value: d.txt_value(),
            verified: d.verified,
            verified_by: d.verified_by,
            verified_at: d.verified_at.map(time),
            created_at: time(d.created_at),
            domain: d.domain,
        }
    }
}

pub async fn list<C: ConnectionTrait>(conn: &C, tenant: &TenantId) -> CoreResult<Vec<DomainView>> {
    Ok(domain::list(conn, tenant)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

pub async fn show<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    name: &str,
) -> CoreResult<DomainView> {
    Ok(domain::get(conn, tenant, name).await?.into())
}

/// How a domain's verification is re-checked.
#[derive(Debug, Clone)]
pub enum Verification {
    /// The TXT records found at the challenge name.
    Dns(Vec<String>),
    /// The operator vouches for it (CLI only: a tenant admin cannot).
    Operator,
}

/// Re-checks the domain's verification; fails, changing nothing, when no record carries the
/// token. A verified domain stays verified.
pub async fn update(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    name: &str,
    how: Verification,
    actor: &str,
) -> CoreResult<DomainView> {
    match how {
        Verification::Dns(records) => {
            domain::verify_by_dns(store, clock, tenant, name, &records, actor).await?
        }
        Verification::Operator => {
            domain::verify_by_operator(store, clock, tenant, name, actor).await?
        }
    }
    show(&store.db, tenant, name).await
}

/// Removes the domain (`dry_run`: only says what it would end). Nothing depends on it but
/// sign-in routing by email: people of that domain are asked which organisation they belong to.
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    name: &str,
    actor: &str,
    dry_run: bool,
) -> CoreResult<Removed<DomainView>> {
    let txn = store.begin().await?;
    let d = domain::remove_in(&txn, clock, tenant, name, actor).await?;
    finish(txn, dry_run).await?;
    Ok(Removed {
        removed: d.into(),
        revoked: Impact::default(),
    })
}
