//! The tenant's provisioning policy (DESIGN §6.4): `jit` creates a user on first sign-in;
//! `scim` admits only users the IdP provisioned and left active.
use sea_orm::sea_query::{Expr, Query};
use sea_orm::ConnectionTrait;

use super::{exec, t};
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::Store;
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provisioning {
    Jit,
    Scim,
}

impl Provisioning {
    pub fn as_str(self) -> &'static str {
        match self {
            Provisioning::Jit => "jit",
            Provisioning::Scim => "scim",
        }
    }
    pub fn parse(s: &str) -> CoreResult<Provisioning> {
        match s.trim().to_ascii_lowercase().as_str() {
            "jit" => Ok(Provisioning::Jit),
            "scim" => Ok(Provisioning::Scim),
            other => Err(CoreError::invalid(format!(
                "provisioning policy '{other}' is neither 'jit' nor 'scim'"
            ))),
        }
    }
}

pub async fn get<C: ConnectionTrait>(conn: &C, tenant: &TenantId) -> CoreResult<Provisioning> {
    let q = Query::select()
        .column(t("provisioning"))
        .from(t("tenants"))
        .and_where(Expr::col(t("id")).eq(tenant.0.clone()))
        .to_owned();
    let row = conn
        .query_one(conn.get_database_backend().build(&q))
        .await?
        .ok_or(CoreError::NotFound("tenant"))?;
    let p: String = row.try_get("", "provisioning")?;
    Provisioning::parse(&p)
}

/// Sets the policy, audited. Switching to `scim` does not touch existing users: JIT users not
/// linked to a SCIM user are refused at their next sign-in.
pub async fn set(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    policy: Provisioning,
    actor: &str,
) -> CoreResult<()> {
    let txn = store.begin().await?;
    let before = get(&txn, tenant).await?;
    let q = Query::update()
        .table(t("tenants"))
        .value(t("provisioning"), policy.as_str())
        .and_where(Expr::col(t("id")).eq(tenant.0.clone()))
        .to_owned();
    exec(&txn, &q).await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "tenant.provisioning_changed")
            .actor(actor)
            .detail("from", before.as_str())
            .detail("to", policy.as_str()),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
