//! The tenant's provisioning policy (DESIGN §6.4): `jit` creates a user on first sign-in;
//! `scim` admits only users the IdP provisioned and left active.
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::tenants;
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
    let p: String = tenants::Entity::find_by_id(tenant.to_string())
        .select_only()
        .column(tenants::Column::Provisioning)
        .into_tuple()
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("tenant"))?;
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
    tenants::Entity::update_many()
        .col_expr(tenants::Column::Provisioning, Expr::value(policy.as_str()))
        .filter(tenants::Column::Id.eq(tenant.to_string()))
        .exec(&txn)
        .await?;
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
