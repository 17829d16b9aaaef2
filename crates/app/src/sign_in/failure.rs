//! Recording a refused upstream sign-in: the IdP's error answer, or an answer Gatehouse's
//! checks refused. Audited in its own transaction (nothing else changed), so a tenant admin can
//! see why someone could not get in.
use authz_core::audit::{self, AuditEvent};
use authz_core::TenantId;

use super::{Env, SignInError, Visitor};

/// Audits `user.sign_in_failed` for `connection_id` with one detail (`key`: `value`) saying why.
pub async fn record(
    env: &Env<'_>,
    visitor: &Visitor,
    tenant: &TenantId,
    connection_id: &str,
    protocol: &str,
    key: &str,
    value: &str,
) -> Result<(), SignInError> {
    let txn = env.store.begin().await?;
    audit::record(
        &txn,
        env.clock,
        AuditEvent::new(Some(tenant), "user.sign_in_failed")
            .result("failure")
            .source(Some(visitor.audit_ip()), visitor.user_agent.clone())
            .detail("connection_id", connection_id)
            .detail("protocol", protocol)
            .detail(key, value),
    )
    .await?;
    Ok(txn.commit().await?)
}
