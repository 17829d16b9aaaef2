//! `resource update`: compare a new spec with the stored catalogue and, unless it is a dry run,
//! apply it in one transaction with its version row and audit record. Removing a scope or
//! raising its tier revokes what carries it (`authz_core::resource::update`).
use authz_core::audit::{self, AuditEvent};
use authz_core::clock::Clock;
use authz_core::resource::update::{self as core_update, CatalogueDiff};
use authz_core::resource::{self, ResourceSpec};
use authz_core::{CoreError, CoreResult, Store};

use crate::principal::Operator;

/// Validates `spec` like `register`, and returns what it changes in the catalogue of
/// `resource` (its URI or id; the spec must name the same URI: a resource's URI never changes).
/// With `dry_run`, nothing is written. Otherwise, when something changes, the catalogue is
/// replaced, the version bumped and kept, what carries a withdrawn scope revoked, and
/// `resource.catalogue_updated` recorded — all in one transaction; this node then drops its
/// cached catalogue and the others reload within `resource::CATALOGUE_REFRESH_SECS`.
pub async fn update(
    store: &Store,
    clock: &dyn Clock,
    op: &Operator,
    resource_key: &str,
    spec: ResourceSpec,
    dry_run: bool,
) -> CoreResult<CatalogueDiff> {
    let uri = resource::validate(&spec)?;
    let res = resource::find_by_uri_or_id(&store.db, resource_key).await?;
    if uri != res.uri {
        return Err(CoreError::invalid(format!(
            "the file describes {uri}, not {}: a resource's URI cannot change",
            res.uri
        )));
    }
    let spec = ResourceSpec {
        uri,
        display_name: spec.display_name.trim().to_string(),
        ..spec
    };
    if dry_run {
        let (version, current) = resource::spec::stored(&store.db, &res.id).await?;
        return Ok(compared(&res, version, &current, &spec));
    }
    let txn = store.begin().await?;
    let (version, current) = resource::spec::stored(&txn, &res.id).await?;
    let mut d = compared(&res, version, &current, &spec);
    if d.is_empty() {
        return Ok(d);
    }
    let revoked = core_update::apply(&txn, clock, &res, version, &spec, &d, op.actor()).await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(None, "resource.catalogue_updated")
            .actor(op.actor())
            .resource(res.uri.clone())
            .scope(d.revoking.join(" "))
            .detail("from_version", version)
            .detail("version", d.to_version)
            .detail("summary", d.summary())
            .detail("scopes_added", d.scopes_added.len())
            .detail("scopes_removed", d.scopes_removed.len())
            .detail("tiers_changed", d.tiers_changed.len())
            .detail("tools_added", d.tools_added.len())
            .detail("tools_removed", d.tools_removed.len())
            .detail("tools_changed", d.tools_changed.len())
            .detail("grants_revoked", revoked.grants_revoked)
            .detail("tokens_revoked", revoked.tokens_revoked)
            .detail("org_grants_removed", revoked.org_grants_removed)
            .detail("consents_changed", revoked.consents_changed),
    )
    .await?;
    txn.commit().await?;
    resource::forget_cached(store, &res.id);
    d.applied = true;
    d.revoked = Some(revoked);
    Ok(d)
}

fn compared(
    res: &resource::Resource,
    version: i64,
    current: &ResourceSpec,
    spec: &ResourceSpec,
) -> CatalogueDiff {
    let mut d = core_update::diff(current, spec);
    d.resource_id = res.id.clone();
    d.from_version = version;
    d.to_version = if d.is_empty() { version } else { version + 1 };
    d
}
