//! Removing a tenant (ADR 0021): everything it issued is revoked (sessions, grants, tokens,
//! codes), its admin keys and SCIM tokens stop working, its connections are removed, its
//! domains are released for another tenant, and it is suspended and marked removed. Its slug
//! is freed (the row is renamed to `~removed-<id>`, which no slug can be). The audit chain and
//! the directory rows stay in the database for the audit retention period; nothing of another
//! tenant refers to them.
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::Counts;
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::{api_keys, connections, scim_tokens, tenant_domains, tenants};
use crate::error::CoreResult;

/// Removes the tenant `slug`, or with `dry_run` counts what it would end.
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    slug: &str,
    actor: &str,
    dry_run: bool,
) -> CoreResult<Counts> {
    let txn = store.begin().await?;
    let t = crate::tenant::find_by_slug(&txn, slug).await?;
    let tid = t.id.to_string();
    let now = clock.now_us();
    let cut = crate::incident::cut_tenant(&txn, clock, &t.id).await?;
    let keys = api_keys::Entity::update_many()
        .col_expr(api_keys::Column::RevokedAt, Some(now).into())
        .filter(api_keys::Column::TenantId.eq(tid.clone()))
        .filter(api_keys::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    let scim = scim_tokens::Entity::update_many()
        .col_expr(scim_tokens::Column::RevokedAt, Some(now).into())
        .filter(scim_tokens::Column::TenantId.eq(tid.clone()))
        .filter(scim_tokens::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    let conns = connections::Entity::update_many()
        .col_expr(connections::Column::RemovedAt, Some(now).into())
        .col_expr(connections::Column::Enabled, false.into())
        .col_expr(connections::Column::ClientSecretEnc, String::new().into())
        .filter(connections::Column::TenantId.eq(tid.clone()))
        .filter(connections::Column::RemovedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    let domains = tenant_domains::Entity::delete_many()
        .filter(tenant_domains::Column::TenantId.eq(tid.clone()))
        .exec(&txn)
        .await?
        .rows_affected;
    let people = crate::entities::users::Entity::find()
        .filter(crate::entities::users::Column::TenantId.eq(tid.clone()))
        .all(&txn)
        .await?
        .len() as u64;
    tenants::Entity::update_many()
        .col_expr(tenants::Column::RemovedAt, Some(now).into())
        .col_expr(
            tenants::Column::SuspendedAt,
            Expr::col(tenants::Column::SuspendedAt).if_null(now),
        )
        .col_expr(tenants::Column::Slug, format!("~removed-{tid}").into())
        .filter(tenants::Column::Id.eq(tid.clone()))
        .exec(&txn)
        .await?;
    let counts = Counts {
        grants: cut.grants,
        sessions: cut.sessions,
        credentials: keys + scim,
        users: people,
        cascades: vec![("connections".into(), conns), ("domains".into(), domains)],
    };
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(&t.id), "tenant.removed")
            .actor(actor)
            .detail("slug", t.slug.as_str())
            .detail("grants_revoked", counts.grants)
            .detail("sessions_revoked", counts.sessions)
            .detail("credentials_revoked", counts.credentials)
            .detail("connections_removed", conns)
            .detail("domains_released", domains),
    )
    .await?;
    super::finish(txn, dry_run).await?;
    Ok(counts)
}
