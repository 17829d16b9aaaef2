//! The operator's recovery grant: make an existing user of a tenant an administrator (when no
//! admin is left). Audited as the operator's decision.
use authz_core::admin::role;
use authz_core::clock::Clock;
use authz_core::{user, CoreError, Store, TenantId};

use crate::principal::Operator;

#[derive(Debug)]
pub enum GrantError {
    /// The user is not one of the tenant's.
    UnknownUser(CoreError),
    Core(CoreError),
}

impl From<CoreError> for GrantError {
    fn from(e: CoreError) -> Self {
        GrantError::Core(e)
    }
}

impl From<sea_orm::DbErr> for GrantError {
    fn from(e: sea_orm::DbErr) -> Self {
        GrantError::Core(e.into())
    }
}

pub async fn grant(
    store: &Store,
    clock: &dyn Clock,
    operator: &Operator,
    tenant: &TenantId,
    user_id: &str,
) -> Result<(), GrantError> {
    user::get(&store.db, tenant, user_id)
        .await
        .map_err(GrantError::UnknownUser)?;
    let txn = store.begin().await?;
    role::grant(
        &txn,
        clock,
        tenant,
        user_id,
        "operator",
        None,
        operator.actor(),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
