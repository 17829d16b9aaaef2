//! Exporting the audit log is itself audited (DESIGN §8): who took which slice, in which format.
use authz_core::audit::{self, AuditEvent};
use authz_core::clock::Clock;
use authz_core::{CoreResult, Store};

use crate::principal::TenantAdmin;

/// Records `audit.exported` before the export streams: `filter` is the export's query string.
pub async fn exported(
    store: &Store,
    clock: &dyn Clock,
    admin: &TenantAdmin,
    format: &str,
    filter: String,
) -> CoreResult<()> {
    let txn = store.begin().await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(admin.tenant()), "audit.exported")
            .actor(admin.actor())
            .detail("format", format)
            .detail("filter", filter),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
