//! Removing an OAuth client (any kind: pre-registered, DCR, CIMD), by the operator: every grant
//! and token it holds, in every tenant, is revoked and its unused codes discarded (each tenant's
//! chain records the revocation); its secret stops working with its row. A CIMD client may
//! register again from its metadata document: removal is the incident lever, not a ban.
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::Counts;
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::{clients, grant_families};
use crate::error::{CoreError, CoreResult};

/// Removes the client `client_id`, or with `dry_run` counts what it would end.
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    client_id: &str,
    actor: &str,
    dry_run: bool,
) -> CoreResult<Counts> {
    let txn = store.begin().await?;
    let c = crate::client::get(&txn, client_id)
        .await?
        .ok_or(CoreError::NotFound("client"))?;
    let grants = grant_families::Entity::find()
        .filter(grant_families::Column::ClientId.eq(client_id))
        .filter(grant_families::Column::RevokedAt.is_null())
        .count(&txn)
        .await?;
    crate::token::revoke::revoke_client_tokens(&txn, clock, client_id).await?;
    clients::Entity::delete_many()
        .filter(clients::Column::ClientId.eq(client_id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(None, "client.removed")
            .actor(actor)
            .client(client_id.to_string())
            .detail("name", c.client_name.as_str())
            .detail("grants_revoked", grants),
    )
    .await?;
    super::finish(txn, dry_run).await?;
    Ok(Counts {
        grants,
        credentials: u64::from(c.is_confidential()),
        ..Counts::default()
    })
}

/// Renames a client (the name people see on the consent page), audited on the platform chain.
pub async fn rename(
    store: &Store,
    clock: &dyn Clock,
    client_id: &str,
    name: &str,
    actor: &str,
) -> CoreResult<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(CoreError::invalid("the name must be 1 to 200 characters"));
    }
    let txn = store.begin().await?;
    let before = crate::client::get(&txn, client_id)
        .await?
        .ok_or(CoreError::NotFound("client"))?;
    clients::Entity::update_many()
        .col_expr(clients::Column::ClientName, name.into())
        .filter(clients::Column::ClientId.eq(client_id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(None, "client.renamed")
            .actor(actor)
            .client(client_id.to_string())
            .detail("previous_name", before.client_name.as_str())
            .detail("name", name),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
