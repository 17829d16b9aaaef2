//! Removing a protected resource (an MCP server), by the operator: every live grant for it (an
//! app's tokens, a personal API key, a service account's tokens) is revoked with its tokens and
//! unused codes, its org grants and consents are deleted, its catalogue, tools, rules and
//! versions go with its row, and its introspection secret stops working. The platform chain
//! records it; the revocations stay in the tokens' rows.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::Counts;
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::{
    auth_codes, consents, grant_families, org_grants, resource_catalogue_versions, resource_rules,
    resource_scopes, resource_tools, resources, tokens,
};
use crate::error::{CoreError, CoreResult};

/// Removes the resource `id`, or with `dry_run` counts what it would end.
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    id: &str,
    actor: &str,
    dry_run: bool,
) -> CoreResult<Counts> {
    let txn = store.begin().await?;
    let r = crate::resource::get(&txn, id).await?;
    let now = clock.now_us();
    let families: Vec<String> = grant_families::Entity::find()
        .filter(grant_families::Column::ResourceId.eq(id))
        .filter(grant_families::Column::RevokedAt.is_null())
        .all(&txn)
        .await?
        .into_iter()
        .map(|f| f.id)
        .collect();
    for chunk in families.chunks(500) {
        grant_families::Entity::update_many()
            .col_expr(grant_families::Column::RevokedAt, Some(now).into())
            .filter(grant_families::Column::Id.is_in(chunk.iter().cloned()))
            .exec(&txn)
            .await?;
        tokens::Entity::update_many()
            .col_expr(tokens::Column::RevokedAt, Some(now).into())
            .filter(tokens::Column::FamilyId.is_in(chunk.iter().cloned()))
            .filter(tokens::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
    }
    auth_codes::Entity::delete_many()
        .filter(auth_codes::Column::ResourceId.eq(id))
        .filter(auth_codes::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    let org = org_grants::Entity::delete_many()
        .filter(org_grants::Column::ResourceId.eq(id))
        .exec(&txn)
        .await?
        .rows_affected;
    let consented = consents::Entity::delete_many()
        .filter(consents::Column::ResourceId.eq(id))
        .exec(&txn)
        .await?
        .rows_affected;
    resource_scopes::Entity::delete_many()
        .filter(resource_scopes::Column::ResourceId.eq(id))
        .exec(&txn)
        .await?;
    resource_tools::Entity::delete_many()
        .filter(resource_tools::Column::ResourceId.eq(id))
        .exec(&txn)
        .await?;
    resource_rules::Entity::delete_many()
        .filter(resource_rules::Column::ResourceId.eq(id))
        .exec(&txn)
        .await?;
    resource_catalogue_versions::Entity::delete_many()
        .filter(resource_catalogue_versions::Column::ResourceId.eq(id))
        .exec(&txn)
        .await?;
    resources::Entity::delete_by_id(id.to_string())
        .exec(&txn)
        .await?;
    let counts = Counts {
        grants: families.len() as u64,
        credentials: 1,
        cascades: vec![("org grants".into(), org), ("consents".into(), consented)],
        ..Counts::default()
    };
    audit::record(
        &txn,
        clock,
        AuditEvent::new(None, "resource.removed")
            .actor(actor)
            .detail("resource_id", id)
            .detail("uri", r.uri.as_str())
            .detail("grants_revoked", counts.grants)
            .detail("org_grants_removed", org)
            .detail("consents_removed", consented),
    )
    .await?;
    super::finish(txn, dry_run).await?;
    if !dry_run {
        crate::resource::forget_cached(store, id);
    }
    Ok(counts)
}

/// Renames a resource (its display name on consent pages and in the console).
pub async fn rename(
    store: &Store,
    clock: &dyn Clock,
    id: &str,
    name: &str,
    actor: &str,
) -> CoreResult<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(CoreError::invalid(
            "the display name must be 1 to 200 characters",
        ));
    }
    let txn = store.begin().await?;
    let before = crate::resource::get(&txn, id).await?;
    resources::Entity::update_many()
        .col_expr(resources::Column::DisplayName, name.into())
        .filter(resources::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(None, "resource.renamed")
            .actor(actor)
            .detail("resource_id", id)
            .detail("previous_name", before.display_name.as_str())
            .detail("name", name),
    )
    .await?;
    txn.commit().await?;
    crate::resource::forget_cached(store, id);
    Ok(())
}
