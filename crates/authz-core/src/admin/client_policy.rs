//! Which MCP clients a tenant's users may use at all: a per-tenant allow list and block list.
//! A blocked client cannot start an authorization for the tenant's users, and its existing
//! grants and tokens in the tenant are revoked when it is blocked. With the tenant's
//! `client_policy` set to `allowlist`, only allowed clients may be used.
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::grant_families;
use crate::entities::tenant_client_policy::{self, Column, Entity};
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Block,
}

impl Decision {
    pub fn parse(s: &str) -> CoreResult<Decision> {
        match s {
            "allow" => Ok(Decision::Allow),
            "block" => Ok(Decision::Block),
            _ => Err(CoreError::invalid(
                "the decision must be 'allow' or 'block'",
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Block => "block",
        }
    }
}

/// The tenant's decision about a client, if it made one.
pub async fn decision<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    client_id: &str,
) -> CoreResult<Option<Decision>> {
    Entity::find_by_id((tenant.to_string(), client_id.to_string()))
        .one(conn)
        .await?
        .map(|m| Decision::parse(&m.decision))
        .transpose()
}

/// May the tenant's users use `client_id`?
pub async fn permits<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    client_id: &str,
) -> CoreResult<bool> {
    Ok(match decision(conn, tenant, client_id).await? {
        Some(d) => d == Decision::Allow,
        None => !super::settings::get(conn, tenant).await?.allowlist_only(),
    })
}

/// [`permits`]'s rule over what was read with the grant (ADR 0025): the tenant's stored
/// decision about the client, if any, and the tenant's settings.
pub(crate) fn permits_as_read(
    decision: Option<&str>,
    settings: &super::settings::TenantSettings,
) -> CoreResult<bool> {
    Ok(match decision.map(Decision::parse).transpose()? {
        Some(d) => d == Decision::Allow,
        None => !settings.allowlist_only(),
    })
}

/// Every decision of the tenant: (client id, decision).
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
) -> CoreResult<Vec<(String, Decision)>> {
    Entity::find()
        .filter(Column::TenantId.eq(tenant.to_string()))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| Ok((m.client_id, Decision::parse(&m.decision)?)))
        .collect()
}

/// Records a decision (or clears it with `None`), audited; blocking a client also revokes its
/// grants and tokens in the tenant, in the same transaction.
pub async fn set(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    client_id: &str,
    decision: Option<Decision>,
    actor: &str,
) -> CoreResult<()> {
    if crate::client::get(&store.db, client_id).await?.is_none() {
        return Err(CoreError::NotFound("client"));
    }
    let txn = store.begin().await?;
    if let Some(d) = decision {
        Entity::insert(tenant_client_policy::ActiveModel {
            tenant_id: Set(tenant.to_string()),
            client_id: Set(client_id.to_string()),
            decision: Set(d.as_str().to_string()),
            changed_by: Set(actor.to_string()),
            changed_at: Set(clock.now_us()),
        })
        .on_conflict(
            OnConflict::columns([Column::TenantId, Column::ClientId])
                .update_columns([Column::Decision, Column::ChangedBy, Column::ChangedAt])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    } else {
        Entity::delete_by_id((tenant.to_string(), client_id.to_string()))
            .exec(&txn)
            .await?;
    }
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "client.policy_changed")
            .actor(actor)
            .client(client_id.to_string())
            .detail("decision", decision.map(|d| d.as_str().to_string())),
    )
    .await?;
    txn.commit().await?;
    if decision == Some(Decision::Block) {
        crate::token::revoke::revoke_client_in_tenant(store, clock, tenant, client_id, actor)
            .await?;
    } else if decision.is_none() {
        // In allow-list mode, clearing an "allow" makes the client not permitted.
        enforce(store, clock, tenant, actor).await?;
    }
    Ok(())
}

/// Revokes the grants and tokens, in the tenant, of every client the tenant no longer permits
/// (after a switch to allow-list mode or a cleared "allow"). Returns how many clients.
pub async fn enforce(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    actor: &str,
) -> CoreResult<u64> {
    let live: Vec<String> = grant_families::Entity::find()
        .select_only()
        .column(grant_families::Column::ClientId)
        .distinct()
        .filter(grant_families::Column::TenantId.eq(tenant.to_string()))
        .filter(grant_families::Column::RevokedAt.is_null())
        // Service accounts are the tenant's own: the client policy is for OAuth clients.
        .filter(
            grant_families::Column::Kind
                .ne(crate::token::CredentialKind::ClientCredentials.as_str()),
        )
        .into_tuple()
        .all(&store.db)
        .await?;
    let mut n = 0;
    for client_id in live {
        if !permits(&store.db, tenant, &client_id).await? {
            crate::token::revoke::revoke_client_in_tenant(store, clock, tenant, &client_id, actor)
                .await?;
            n += 1;
        }
    }
    Ok(n)
}
