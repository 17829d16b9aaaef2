//! Incident-response levers (issue 11 §3): revoke everything a tenant, one of its connections or
//! one client holds, and suspend a tenant. Each lever is one transaction with its audit record,
//! and returns what it cut off. Revocation is a committed UPDATE of the shared store, so every
//! node refuses the revoked sessions and tokens from its next lookup on (DESIGN §6.3).
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::Store;
use crate::entities::{auth_codes, browser_sessions, grant_families, tenants, tokens};
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

/// What a lever cut off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub sessions: u64,
    pub grants: u64,
    pub tokens: u64,
    pub codes: u64,
}

impl Counts {
    fn record(self, e: AuditEvent) -> AuditEvent {
        e.detail("sessions_revoked", self.sessions)
            .detail("grants_revoked", self.grants)
            .detail("tokens_revoked", self.tokens)
            .detail("codes_discarded", self.codes)
    }
}

/// Which sessions, grants and codes a lever reaches, within one tenant.
#[derive(Clone, Copy)]
enum Scope<'a> {
    Tenant,
    Connection(&'a str),
}

/// Revokes the sessions of `scope`, the grant families started from them (or, for a whole
/// tenant, every family), their tokens, and discards their unused codes.
async fn cut<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    scope: Scope<'_>,
) -> CoreResult<Counts> {
    let now = clock.now_us();
    // The sessions of the scope (subquery), so that grants and codes can follow them.
    let sessions = |q: &mut sea_orm::sea_query::SelectStatement| {
        q.column(browser_sessions::Column::IdHash)
            .from(browser_sessions::Entity)
            .and_where(browser_sessions::Column::TenantId.eq(tenant.to_string()));
        if let Scope::Connection(id) = scope {
            q.and_where(browser_sessions::Column::ConnectionId.eq(id));
        }
    };
    let mut of_scope = Query::select();
    sessions(&mut of_scope);
    let families_q = grant_families::Entity::find()
        .filter(grant_families::Column::TenantId.eq(tenant.to_string()))
        .filter(grant_families::Column::RevokedAt.is_null());
    let families_q = match scope {
        Scope::Tenant => families_q,
        Scope::Connection(_) => families_q
            .filter(Expr::col(grant_families::Column::SessionId).in_subquery(of_scope.clone())),
    };
    let families: Vec<String> = families_q
        .all(conn)
        .await?
        .into_iter()
        .map(|f| f.id)
        .collect();
    let mut counts = Counts {
        grants: families.len() as u64,
        ..Counts::default()
    };
    for chunk in families.chunks(500) {
        grant_families::Entity::update_many()
            .col_expr(grant_families::Column::RevokedAt, Some(now).into())
            .filter(grant_families::Column::Id.is_in(chunk.iter().cloned()))
            .exec(conn)
            .await?;
        counts.tokens += tokens::Entity::update_many()
            .col_expr(tokens::Column::RevokedAt, Some(now).into())
            .filter(tokens::Column::TenantId.eq(tenant.to_string()))
            .filter(tokens::Column::FamilyId.is_in(chunk.iter().cloned()))
            .filter(tokens::Column::RevokedAt.is_null())
            .exec(conn)
            .await?
            .rows_affected;
    }
    let codes = auth_codes::Entity::delete_many()
        .filter(auth_codes::Column::TenantId.eq(tenant.to_string()))
        .filter(auth_codes::Column::UsedAt.is_null());
    let codes = match scope {
        Scope::Tenant => codes,
        Scope::Connection(_) => {
            codes.filter(Expr::col(auth_codes::Column::SessionId).in_subquery(of_scope.clone()))
        }
    };
    counts.codes = codes.exec(conn).await?.rows_affected;
    let mut sessions_q = browser_sessions::Entity::update_many()
        .col_expr(browser_sessions::Column::RevokedAt, Some(now).into())
        .filter(browser_sessions::Column::TenantId.eq(tenant.to_string()))
        .filter(browser_sessions::Column::RevokedAt.is_null());
    if let Scope::Connection(id) = scope {
        sessions_q = sessions_q.filter(browser_sessions::Column::ConnectionId.eq(id));
    }
    counts.sessions = sessions_q.exec(conn).await?.rows_affected;
    Ok(counts)
}

/// Everything of one tenant: every session (console sessions included), grant, token and
/// unused code. Audited on the tenant's chain as `tenant.revoked_all`.
pub async fn revoke_tenant(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    actor: &str,
) -> CoreResult<Counts> {
    let txn = store.begin().await?;
    let counts = cut(&txn, clock, tenant, Scope::Tenant).await?;
    let e = AuditEvent::new(Some(tenant), "tenant.revoked_all").actor(actor);
    audit::record(&txn, clock, counts.record(e)).await?;
    txn.commit().await?;
    Ok(counts)
}

/// Everything that came through one connection: its sessions (console sessions included), the
/// grants started from them, their tokens and codes. Inside the caller's transaction, so that
/// disabling a connection and cutting off what it issued commit together (review F7).
pub async fn cut_connection<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    connection_id: &str,
    actor: &str,
) -> CoreResult<Counts> {
    let counts = cut(conn, clock, tenant, Scope::Connection(connection_id)).await?;
    let e = AuditEvent::new(Some(tenant), "connection.revoked_all")
        .actor(actor)
        .detail("connection_id", connection_id);
    audit::record(conn, clock, counts.record(e)).await?;
    Ok(counts)
}

/// Every session, grant, token and unused code of one tenant, inside the caller's transaction
/// (removing a tenant, which records its own audit event).
pub async fn cut_tenant<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
) -> CoreResult<Counts> {
    cut(conn, clock, tenant, Scope::Tenant).await
}

/// [`cut_connection`] in its own transaction (the operator's lever).
pub async fn revoke_connection(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    connection_id: &str,
    actor: &str,
) -> CoreResult<Counts> {
    crate::connection::get(&store.db, tenant, connection_id).await?;
    let txn = store.begin().await?;
    let counts = cut_connection(&txn, clock, tenant, connection_id, actor).await?;
    txn.commit().await?;
    Ok(counts)
}

/// Every grant, token and unused code of one client, in every tenant (each affected tenant's
/// chain records it). Sessions belong to people, not clients, and stay.
pub async fn revoke_client(
    store: &Store,
    clock: &dyn Clock,
    client_id: &str,
) -> CoreResult<Counts> {
    if crate::client::get(&store.db, client_id).await?.is_none() {
        return Err(CoreError::NotFound("client"));
    }
    let txn = store.begin().await?;
    let grants = grant_families::Entity::find()
        .filter(grant_families::Column::ClientId.eq(client_id))
        .filter(grant_families::Column::RevokedAt.is_null())
        .all(&txn)
        .await?
        .len() as u64;
    let codes = crate::token::code::discard_unused_everywhere(&txn, client_id).await?;
    let tokens = crate::token::revoke::revoke_client_tokens(&txn, clock, client_id).await?;
    txn.commit().await?;
    Ok(Counts {
        sessions: 0,
        grants,
        tokens,
        codes,
    })
}

/// Is the tenant suspended? (No cache: a suspension holds on every node at once.)
pub async fn is_suspended<C: ConnectionTrait>(conn: &C, tenant: &TenantId) -> CoreResult<bool> {
    use sea_orm::QuerySelect;
    let at: Option<Option<i64>> = tenants::Entity::find_by_id(tenant.to_string())
        .select_only()
        .column(tenants::Column::SuspendedAt)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(at.flatten().is_some())
}

/// Suspends a tenant: no sign-in, token, refresh or introspection succeeds until it is resumed.
/// Nothing is deleted or revoked: resuming restores what has not expired meanwhile.
pub async fn suspend(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    actor: &str,
) -> CoreResult<bool> {
    set_suspended(store, clock, tenant, actor, true).await
}

/// Lifts a suspension.
pub async fn resume(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    actor: &str,
) -> CoreResult<bool> {
    set_suspended(store, clock, tenant, actor, false).await
}

/// Returns whether anything changed (suspending a suspended tenant changes nothing).
async fn set_suspended(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    actor: &str,
    suspended: bool,
) -> CoreResult<bool> {
    let txn = store.begin().await?;
    let now = clock.now_us();
    let mut q = tenants::Entity::update_many()
        .col_expr(
            tenants::Column::SuspendedAt,
            suspended.then_some(now).into(),
        )
        .filter(tenants::Column::Id.eq(tenant.to_string()));
    q = if suspended {
        q.filter(tenants::Column::SuspendedAt.is_null())
    } else {
        q.filter(tenants::Column::SuspendedAt.is_not_null())
    };
    let changed = q.exec(&txn).await?.rows_affected == 1;
    if changed {
        let action = if suspended {
            "tenant.suspended"
        } else {
            "tenant.resumed"
        };
        audit::record(
            &txn,
            clock,
            AuditEvent::new(Some(tenant), action).actor(actor),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(changed)
}
