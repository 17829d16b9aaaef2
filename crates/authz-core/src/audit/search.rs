//! Searching a tenant's audit log (the customer admin's view, DESIGN §8): by time range, user,
//! client, action prefix and result, newest first, bounded. Always one tenant's chain.
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entities::{audit_events, audit_seals};
use crate::error::CoreResult;
use crate::tenant::TenantId;

/// A record as the admin sees it: the record, and its place in the chain once sealed (the
/// fields of the record are reached through `Deref`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub record: audit_events::Model,
    pub seq: Option<i64>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

impl std::ops::Deref for Listed {
    type Target = audit_events::Model;
    fn deref(&self) -> &audit_events::Model {
        &self.record
    }
}

/// The tenant's records with their seals (one read of `audit_seals` for the whole page).
async fn with_seals<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    records: Vec<audit_events::Model>,
) -> CoreResult<Vec<Listed>> {
    let mut seals: std::collections::HashMap<i64, audit_seals::Model> = if records.is_empty() {
        Default::default()
    } else {
        audit_seals::Entity::find()
            .filter(audit_seals::Column::TenantId.eq(tenant.to_string()))
            .filter(audit_seals::Column::EventId.is_in(records.iter().map(|r| r.id)))
            .all(conn)
            .await?
            .into_iter()
            .map(|s| (s.event_id, s))
            .collect()
    };
    Ok(records
        .into_iter()
        .map(|record| {
            let seal = seals.remove(&record.id);
            Listed {
                seq: seal.as_ref().map(|s| s.seq),
                prev_hash: seal.as_ref().map(|s| s.prev_hash.clone()),
                hash: seal.map(|s| s.hash),
                record,
            }
        })
        .collect())
}

/// Most records one search returns.
pub const MAX_LIMIT: u64 = 500;

#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Inclusive lower bound, microseconds since the epoch.
    pub from_us: Option<i64>,
    /// Exclusive upper bound.
    pub to_us: Option<i64>,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    /// `token.` finds every token action; an exact action matches itself.
    pub action_prefix: Option<String>,
    pub result: Option<String>,
    /// Tool calls (`tool.called`) of this tool only.
    pub tool: Option<String>,
    /// Records with an id below this one (the next page).
    pub before_id: Option<i64>,
    pub limit: u64,
}

pub async fn search<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    q: &AuditQuery,
) -> CoreResult<Vec<Listed>> {
    let mut s =
        audit_events::Entity::find().filter(audit_events::Column::TenantId.eq(tenant.to_string()));
    if let Some(f) = q.from_us {
        s = s.filter(audit_events::Column::OccurredAt.gte(f));
    }
    if let Some(t) = q.to_us {
        s = s.filter(audit_events::Column::OccurredAt.lt(t));
    }
    if let Some(u) = &q.user_id {
        s = s.filter(audit_events::Column::UserId.eq(u.clone()));
    }
    if let Some(c) = &q.client_id {
        s = s.filter(audit_events::Column::ClientId.eq(c.clone()));
    }
    if let Some(a) = &q.action_prefix {
        // A prefix, not a pattern: `_` in `user.sign_in` is a literal underscore.
        s = s.filter(
            sea_orm::sea_query::Expr::col(audit_events::Column::Action)
                .like(crate::db::literal_like(a, false)),
        );
    }
    if let Some(r) = &q.result {
        s = s.filter(audit_events::Column::Result.eq(r.clone()));
    }
    if let Some(tool) = &q.tool {
        // Details are stored as compact JSON: the tool is the exact member `"tool":"<name>"`.
        let member = format!("\"tool\":{}", serde_json::Value::from(tool.as_str()));
        s = s
            .filter(audit_events::Column::Action.eq("tool.called"))
            .filter(
                sea_orm::sea_query::Expr::col(audit_events::Column::Details)
                    .like(crate::db::literal_like(&member, true)),
            );
    }
    if let Some(b) = q.before_id {
        s = s.filter(audit_events::Column::Id.lt(b));
    }
    let records = s
        .order_by_desc(audit_events::Column::Id)
        .limit(q.limit.clamp(1, MAX_LIMIT))
        .all(conn)
        .await?;
    with_seals(conn, tenant, records).await
}

/// One record of the tenant's chain by id (another tenant's record is not found).
pub async fn get<C: ConnectionTrait>(conn: &C, tenant: &TenantId, id: i64) -> CoreResult<Listed> {
    let record = audit_events::Entity::find_by_id(id)
        .filter(audit_events::Column::TenantId.eq(tenant.to_string()))
        .one(conn)
        .await?
        .ok_or(crate::error::CoreError::NotFound("audit record"))?;
    Ok(with_seals(conn, tenant, vec![record]).await?.remove(0))
}

/// The newest sign-in (or refused sign-in) through one of the tenant's connections: what the
/// console shows beside each connection.
pub async fn last_sign_in<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    connection_id: &str,
) -> CoreResult<Option<audit_events::Model>> {
    // Connection ids are UUIDs: no LIKE wildcard can occur in them.
    let member = format!("\"connection_id\":\"{connection_id}\"");
    Ok(audit_events::Entity::find()
        .filter(audit_events::Column::TenantId.eq(tenant.to_string()))
        .filter(audit_events::Column::Action.is_in(["user.signed_in", "user.sign_in_failed"]))
        .filter(audit_events::Column::Details.contains(member.as_str()))
        .order_by_desc(audit_events::Column::Id)
        .one(conn)
        .await?)
}
