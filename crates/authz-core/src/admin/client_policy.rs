//! Which MCP clients a tenant's users may use at all: a per-tenant allow list and block list.
//! A blocked client cannot start an authorization for the tenant's users, and its existing
//! grants and tokens in the tenant are revoked when it is blocked. With the tenant's
//! `client_policy` set to `allowlist`, only allowed clients may be used.
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::ConnectionTrait;

use super::t;
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::Store;
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
    let q = Query::select()
        .column(t("decision"))
        .from(t("tenant_client_policy"))
        .and_where(Expr::col(t("tenant_id")).eq(tenant.0.clone()))
        .and_where(Expr::col(t("client_id")).eq(client_id))
        .to_owned();
    match conn
        .query_one(conn.get_database_backend().build(&q))
        .await?
    {
        Some(r) => Ok(Some(Decision::parse(
            &r.try_get::<String>("", "decision")?,
        )?)),
        None => Ok(None),
    }
}

/// May the tenant's users use `client_id`?
pub async fn permits<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    client_id: &str,
) -> CoreResult<bool> {
    Ok(match decision(conn, tenant, client_id).await? {
        Some(Decision::Allow) => true,
        Some(Decision::Block) => false,
        None => !super::settings::get(conn, tenant).await?.allowlist_only(),
    })
}

/// Every decision of the tenant: (client id, decision).
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
) -> CoreResult<Vec<(String, Decision)>> {
    let q = Query::select()
        .columns([t("client_id"), t("decision")])
        .from(t("tenant_client_policy"))
        .and_where(Expr::col(t("tenant_id")).eq(tenant.0.clone()))
        .to_owned();
    conn.query_all(conn.get_database_backend().build(&q))
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("", "client_id")?,
                Decision::parse(&r.try_get::<String>("", "decision")?)?,
            ))
        })
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
    let del = Query::delete()
        .from_table(t("tenant_client_policy"))
        .and_where(Expr::col(t("tenant_id")).eq(tenant.0.clone()))
        .and_where(Expr::col(t("client_id")).eq(client_id))
        .to_owned();
    if let Some(d) = decision {
        let q = Query::insert()
            .into_table(t("tenant_client_policy"))
            .columns([
                t("tenant_id"),
                t("client_id"),
                t("decision"),
                t("changed_by"),
                t("changed_at"),
            ])
            .values_panic([
                tenant.0.clone().into(),
                client_id.into(),
                d.as_str().into(),
                actor.into(),
                clock.now_us().into(),
            ])
            .on_conflict(
                OnConflict::columns([t("tenant_id"), t("client_id")])
                    .update_columns([t("decision"), t("changed_by"), t("changed_at")])
                    .to_owned(),
            )
            .to_owned();
        txn.execute(txn.get_database_backend().build(&q)).await?;
    } else {
        txn.execute(txn.get_database_backend().build(&del)).await?;
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
    let q = Query::select()
        .distinct()
        .column(t("client_id"))
        .from(t("grant_families"))
        .and_where(Expr::col(t("tenant_id")).eq(tenant.0.clone()))
        .and_where(Expr::col(t("revoked_at")).is_null())
        .to_owned();
    let live: Vec<String> = store
        .db
        .query_all(store.db.get_database_backend().build(&q))
        .await?
        .iter()
        .map(|r| r.try_get::<String>("", "client_id"))
        .collect::<Result<_, _>>()?;
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
