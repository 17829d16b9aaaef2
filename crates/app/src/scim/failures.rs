//! The audit record of a refused SCIM request (`scim.request_failed`), so the tenant admin sees
//! what their IdP's provisioning got wrong. Only authenticated requests are recorded: an
//! unauthenticated one names no tenant.
use authz_core::audit::{self, AuditEvent};
use authz_core::clock::Clock;
use authz_core::{CoreError, Store};

use crate::ScimClient;

/// A request the SCIM edge answered with an error (RFC 7644 §3.12).
#[derive(Debug, Clone)]
pub struct RefusedRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    /// The error's `scimType`, if it had one.
    pub scim_type: Option<&'a str>,
    /// The error's `detail`, if the response was an error the edge rendered.
    pub detail: Option<String>,
}

/// Records the refused request in the client's tenant's audit log, in its own transaction.
pub async fn record(
    store: &Store,
    clock: &dyn Clock,
    client: &ScimClient,
    refused: RefusedRequest<'_>,
) -> Result<(), CoreError> {
    let event = AuditEvent::new(Some(client.tenant()), "scim.request_failed")
        .result("failure")
        .actor(client.actor())
        .detail("method", refused.method)
        .detail("path", refused.path)
        .detail("status", refused.status)
        .detail("scim_type", refused.scim_type)
        .detail("detail", refused.detail);
    let txn = store.begin().await?;
    audit::record(&txn, clock, event).await?;
    txn.commit().await?;
    Ok(())
}
