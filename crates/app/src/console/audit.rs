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

/// One page of the audit log as the console shows it: the records, the names of the people
/// and clients they mention, and (on the first page) the chain's verification.
pub struct Listing {
    pub records: Vec<audit::search::Listed>,
    pub names: audit::names::Names,
    pub chain: Option<audit::VerifyReport>,
}

/// The records `q` selects in `tenant`'s log, with names; the whole chain is verified when
/// `verify_with` holds the tenant's checkpoint keys (the first page only: it recomputes it).
pub async fn listing(
    store: &Store,
    tenant: &authz_core::TenantId,
    q: &audit::search::AuditQuery,
    verify_with: Option<&[audit::VerifyingKey]>,
) -> CoreResult<Listing> {
    let records = audit::search::search(&store.db, tenant, q).await?;
    let names = audit::names::resolve(&store.db, tenant, &records).await?;
    let chain = match verify_with {
        Some(keys) => Some(audit::verify_chain_with_keys(store, tenant.as_str(), keys).await?),
        None => None,
    };
    Ok(Listing {
        records,
        names,
        chain,
    })
}

/// One record, with the names of the people and client it mentions.
pub async fn event(
    store: &Store,
    tenant: &authz_core::TenantId,
    id: i64,
) -> CoreResult<(audit::search::Listed, audit::names::Names)> {
    let r = audit::search::get(&store.db, tenant, id).await?;
    let names = audit::names::resolve(&store.db, tenant, std::slice::from_ref(&r)).await?;
    Ok((r, names))
}
