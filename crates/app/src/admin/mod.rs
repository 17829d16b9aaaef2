//! A tenant's administrators: inviting one (by a tenant admin in the console or the admin API,
//! or by the operator for a tenant's first admin), accepting an invitation, and the operator's
//! recovery grant.
use authz_core::TenantId;

use crate::principal::{Operator, TenantAdmin};

pub mod accept;
pub mod grant;
pub mod invite;

/// Who acts on a tenant's administrators: one of its admins, or the operator (operator key in
/// the admin API, or the CLI) naming the tenant.
#[derive(Debug, Clone)]
pub enum AdminActor {
    Admin(TenantAdmin),
    Operator {
        operator: Operator,
        tenant: TenantId,
    },
}

impl AdminActor {
    pub fn tenant(&self) -> &TenantId {
        match self {
            AdminActor::Admin(a) => a.tenant(),
            AdminActor::Operator { tenant, .. } => tenant,
        }
    }

    /// The audit actor.
    pub fn actor(&self) -> &str {
        match self {
            AdminActor::Admin(a) => a.actor(),
            AdminActor::Operator { operator, .. } => operator.actor(),
        }
    }
}
