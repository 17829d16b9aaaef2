//! Removing a connection: its sessions and the grants started from them are revoked (like
//! disabling it), and so is every other live grant of the people who sign in through it; its
//! sealed secret (client secret or SP key) is wiped; the row stays, marked removed, for the
//! users that refer to it.
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::Counts;
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::{connections, grant_families, tokens, users};
use crate::error::CoreResult;
use crate::tenant::TenantId;

/// Removes the connection `id` of `tenant` (`NotFound("connection")` if the tenant has none by
/// that id), or with `dry_run` counts what it would end without changing anything.
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    actor: &str,
    dry_run: bool,
) -> CoreResult<Counts> {
    let txn = store.begin().await?;
    let conn = crate::connection::get(&txn, tenant, id).await?;
    let now = clock.now_us();
    let cut = crate::incident::cut_connection(&txn, clock, tenant, &conn.id, actor).await?;
    // The people of this connection may hold grants started elsewhere (a personal API key):
    // they go too, since nobody can sign in through the connection again.
    let mut people = Query::select();
    people
        .column(users::Column::Id)
        .from(users::Entity)
        .and_where(users::Column::TenantId.eq(tenant.to_string()))
        .and_where(users::Column::ConnectionId.eq(conn.id.clone()));
    let other: Vec<String> = grant_families::Entity::find()
        .filter(grant_families::Column::TenantId.eq(tenant.to_string()))
        .filter(grant_families::Column::RevokedAt.is_null())
        .filter(Expr::col(grant_families::Column::UserId).in_subquery(people))
        .all(&txn)
        .await?
        .into_iter()
        .map(|f| f.id)
        .collect();
    for chunk in other.chunks(500) {
        grant_families::Entity::update_many()
            .col_expr(grant_families::Column::RevokedAt, Some(now).into())
            .filter(grant_families::Column::Id.is_in(chunk.iter().cloned()))
            .exec(&txn)
            .await?;
        tokens::Entity::update_many()
            .col_expr(tokens::Column::RevokedAt, Some(now).into())
            .filter(tokens::Column::TenantId.eq(tenant.to_string()))
            .filter(tokens::Column::FamilyId.is_in(chunk.iter().cloned()))
            .filter(tokens::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
    }
    let people = users::Entity::find()
        .filter(users::Column::TenantId.eq(tenant.to_string()))
        .filter(users::Column::ConnectionId.eq(conn.id.clone()))
        .count(&txn)
        .await?;
    connections::Entity::update_many()
        .col_expr(connections::Column::RemovedAt, Some(now).into())
        .col_expr(connections::Column::Enabled, false.into())
        .col_expr(connections::Column::ClientSecretEnc, String::new().into())
        .col_expr(
            connections::Column::SetupInvitation,
            Expr::value(Option::<String>::None),
        )
        .filter(connections::Column::Id.eq(conn.id.clone()))
        .filter(connections::Column::TenantId.eq(tenant.to_string()))
        .exec(&txn)
        .await?;
    let counts = Counts {
        grants: cut.grants + other.len() as u64,
        sessions: cut.sessions,
        credentials: 1,
        users: people,
        cascades: Vec::new(),
    };
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "connection.removed")
            .actor(actor)
            .detail("connection_id", conn.id.as_str())
            .detail("name", conn.name.as_str())
            .detail("grants_revoked", counts.grants)
            .detail("sessions_revoked", counts.sessions)
            .detail("users", counts.users),
    )
    .await?;
    super::finish(txn, dry_run).await?;
    Ok(counts)
}
