//! Revocation (RFC 7009) and service-initiated revocation. A revoke is a committed UPDATE of the
//! shared store, so every node refuses the token from the next lookup on (DESIGN §6.3).
//!
//! **Codes before families.** Every revocation that ends a person's or a client's grants
//! discards the unused authorization codes *before* it revokes the families. A code exchange in
//! flight has burnt its code (a row lock it holds until it commits) and adds a family; deleting
//! the unused codes first waits for that exchange to commit, so the family revocation that
//! follows (a new statement, which sees what committed meanwhile) revokes the family it added,
//! and an exchange that comes later finds its code gone. In the other order a family committed
//! between the revocation's read and its commit survived it (found by
//! `token_lifecycle::a_revocation_racing_code_exchanges_leaves_no_live_token`).
use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::audit::{self, AuditEvent};
use crate::client::Client;
use crate::clock::Clock;
use crate::crypto::sha256_hex;
use crate::db::Store;
use crate::entities::{grant_families, tokens};
use crate::error::CoreResult;
use crate::session;
use crate::tenant::TenantId;

/// The ids of the grant families of a tenant, a user and a client (each where given): the way
/// to "every token of this user" or "of this client". A token's user and client are always its
/// family's, and `tokens` has no index of its own on them (`m20261205_000024_lean_grant_rows`,
/// ADR 0029): the family indexes and `tokens_family` lead there instead.
pub(crate) fn families_of(
    tenant: Option<&TenantId>,
    user_id: Option<&str>,
    client_id: Option<&str>,
) -> SelectStatement {
    let mut q = Query::select();
    q.column(grant_families::Column::Id)
        .from(grant_families::Entity);
    if let Some(t) = tenant {
        q.and_where(grant_families::Column::TenantId.eq(t.to_string()));
    }
    if let Some(u) = user_id {
        q.and_where(grant_families::Column::UserId.eq(u));
    }
    if let Some(c) = client_id {
        q.and_where(grant_families::Column::ClientId.eq(c));
    }
    q.to_owned()
}

/// Revokes a grant family and every token in it. Returns the number of tokens revoked.
pub async fn revoke_family<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    family_id: &str,
) -> CoreResult<u64> {
    let now = clock.now_us();
    grant_families::Entity::update_many()
        .col_expr(grant_families::Column::RevokedAt, Some(now).into())
        .filter(grant_families::Column::Id.eq(family_id))
        .filter(grant_families::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(tokens::Entity::update_many()
        .col_expr(tokens::Column::RevokedAt, Some(now).into())
        .filter(tokens::Column::FamilyId.eq(family_id))
        .filter(tokens::Column::RevokedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected)
}

/// What kind of token a revocation hit.
#[derive(Debug, PartialEq, Eq)]
pub enum Revoked {
    /// Unknown, or not the caller's: RFC 7009 §2.2 answers 200 all the same.
    Nothing,
    Access,
    /// A refresh token: its whole grant (and the access tokens issued from it) went with it.
    Grant(u64),
}

/// RFC 7009 revocation by the client the token was issued to.
pub async fn revoke_by_client(
    store: &Store,
    clock: &dyn Clock,
    client: &Client,
    token: &str,
) -> CoreResult<Revoked> {
    revoke_token(store, clock, Some(client), token, "client").await
}

/// Service-initiated revocation of one token value (operator CLI).
pub async fn revoke_by_operator(
    store: &Store,
    clock: &dyn Clock,
    token: &str,
) -> CoreResult<Revoked> {
    revoke_token(store, clock, None, token, "operator").await
}

async fn revoke_token(
    store: &Store,
    clock: &dyn Clock,
    client: Option<&Client>,
    token: &str,
    actor: &str,
) -> CoreResult<Revoked> {
    let txn = store.begin().await?;
    let Some(t) = tokens::Entity::find_by_id(sha256_hex(token))
        .one(&txn)
        .await?
    else {
        return Ok(Revoked::Nothing);
    };
    if let Some(c) = client {
        if c.client_id != t.client_id {
            return Ok(Revoked::Nothing);
        }
    }
    let tenant = TenantId::from_stored(t.tenant_id.clone());
    let outcome = if t.kind == "refresh" {
        Revoked::Grant(revoke_family(&txn, clock, &t.family_id).await?)
    } else {
        tokens::Entity::update_many()
            .col_expr(tokens::Column::RevokedAt, Some(clock.now_us()).into())
            .filter(tokens::Column::TokenHash.eq(t.token_hash.clone()))
            .filter(tokens::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        Revoked::Access
    };
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(&tenant), "token.revoked")
            .actor(actor)
            .user(t.user_id.clone())
            .client(t.client_id.clone())
            .session(t.session_id.clone())
            .scope(t.scopes.clone())
            .detail("token_kind", t.kind.as_str()),
    )
    .await?;
    txn.commit().await?;
    Ok(outcome)
}

/// Revokes every grant, token and sign-in session of a user (operator CLI; SCIM deactivation).
pub async fn revoke_user<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    user_id: &str,
    actor: &str,
) -> CoreResult<u64> {
    let now = clock.now_us();
    // Codes first (module docs).
    let codes = super::code::discard_unused(conn, tenant, Some(user_id), None).await?;
    grant_families::Entity::update_many()
        .col_expr(grant_families::Column::RevokedAt, Some(now).into())
        .filter(grant_families::Column::TenantId.eq(tenant.to_string()))
        .filter(grant_families::Column::UserId.eq(user_id))
        .filter(grant_families::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    let n = tokens::Entity::update_many()
        .col_expr(tokens::Column::RevokedAt, Some(now).into())
        .filter(tokens::Column::TenantId.eq(tenant.to_string()))
        .filter(tokens::Column::FamilyId.in_subquery(families_of(
            Some(tenant),
            Some(user_id),
            None,
        )))
        .filter(tokens::Column::RevokedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected;
    let s = session::revoke_for_user(conn, clock, tenant, user_id).await?;
    audit::record(
        conn,
        clock,
        AuditEvent::new(Some(tenant), "user.tokens_revoked")
            .actor(actor)
            .user(user_id.to_string())
            .detail("tokens_revoked", n)
            .detail("sessions_revoked", s)
            .detail("codes_discarded", codes),
    )
    .await?;
    Ok(n)
}

/// Revokes every token of a client, in every tenant; each affected tenant's log records it.
pub async fn revoke_client_tokens<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    client_id: &str,
) -> CoreResult<u64> {
    let now = clock.now_us();
    let tenants: Vec<String> = grant_families::Entity::find()
        .select_only()
        .column(grant_families::Column::TenantId)
        .filter(grant_families::Column::ClientId.eq(client_id))
        .filter(grant_families::Column::RevokedAt.is_null())
        .distinct()
        .into_tuple()
        .all(conn)
        .await?;
    grant_families::Entity::update_many()
        .col_expr(grant_families::Column::RevokedAt, Some(now).into())
        .filter(grant_families::Column::ClientId.eq(client_id))
        .filter(grant_families::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    let n = tokens::Entity::update_many()
        .col_expr(tokens::Column::RevokedAt, Some(now).into())
        .filter(tokens::Column::FamilyId.in_subquery(families_of(None, None, Some(client_id))))
        .filter(tokens::Column::RevokedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected;
    super::code::discard_unused_everywhere(conn, client_id).await?;
    for t in tenants {
        audit::record(
            conn,
            clock,
            AuditEvent::new(Some(&TenantId::from_stored(t)), "client.tokens_revoked")
                .actor("operator")
                .client(client_id.to_string()),
        )
        .await?;
    }
    Ok(n)
}

/// Operator revocation of all of a client's tokens, in one transaction.
pub async fn revoke_client(store: &Store, clock: &dyn Clock, client_id: &str) -> CoreResult<u64> {
    let txn = store.begin().await?;
    let n = revoke_client_tokens(&txn, clock, client_id).await?;
    txn.commit().await?;
    Ok(n)
}

/// Revokes every grant and token one client holds in one tenant (a tenant admin cutting off an
/// MCP client for the whole organisation). Returns the number of tokens revoked.
pub async fn revoke_client_in_tenant(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    client_id: &str,
    actor: &str,
) -> CoreResult<u64> {
    let now = clock.now_us();
    let txn = store.begin().await?;
    // Codes first (module docs).
    super::code::discard_unused(&txn, tenant, None, Some(client_id)).await?;
    grant_families::Entity::update_many()
        .col_expr(grant_families::Column::RevokedAt, Some(now).into())
        .filter(grant_families::Column::TenantId.eq(tenant.to_string()))
        .filter(grant_families::Column::ClientId.eq(client_id))
        .filter(grant_families::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    let n = tokens::Entity::update_many()
        .col_expr(tokens::Column::RevokedAt, Some(now).into())
        .filter(tokens::Column::TenantId.eq(tenant.to_string()))
        .filter(tokens::Column::FamilyId.in_subquery(families_of(
            Some(tenant),
            None,
            Some(client_id),
        )))
        .filter(tokens::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "client.tokens_revoked")
            .actor(actor)
            .client(client_id.to_string())
            .detail("tokens_revoked", n),
    )
    .await?;
    txn.commit().await?;
    Ok(n)
}

/// The person signs out of one browser session: the session ends and, with `disconnect`, every
/// grant family started from it is revoked with its tokens. Audited as `user.signed_out`.
pub async fn sign_out(
    store: &Store,
    clock: &dyn Clock,
    s: &crate::session::Session,
    disconnect: bool,
) -> CoreResult<u64> {
    let txn = store.begin().await?;
    session::revoke_one(&txn, clock, &s.tenant, &s.id).await?;
    let mut n = 0;
    if disconnect {
        let families: Vec<String> = grant_families::Entity::find()
            .select_only()
            .column(grant_families::Column::Id)
            .filter(grant_families::Column::TenantId.eq(s.tenant.to_string()))
            .filter(grant_families::Column::SessionId.eq(s.id.clone()))
            .filter(grant_families::Column::RevokedAt.is_null())
            .into_tuple()
            .all(&txn)
            .await?;
        for f in families {
            n += revoke_family(&txn, clock, &f).await?;
        }
    }
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(&s.tenant), "user.signed_out")
            .actor(format!("user:{}", s.user_id))
            .user(s.user_id.clone())
            .session(s.id.clone())
            .detail("disconnect_apps", disconnect)
            .detail("tokens_revoked", n),
    )
    .await?;
    txn.commit().await?;
    Ok(n)
}
