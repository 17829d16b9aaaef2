//! SAML sign-in state in the shared store (works across nodes): AuthnRequest IDs consumed once,
//! the assertion replay cache, and one-time ACS → browser handles.
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};

use crate::clock::{Clock, MICROS};
use crate::crypto::{random_token, sha256_hex};
use crate::db::is_unique_violation;
use crate::entities::{saml_assertions, saml_handles, saml_requests};
use crate::error::CoreResult;
use crate::tenant::TenantId;

/// AuthnRequests may be answered within ten minutes.
pub const REQUEST_SECS: i64 = 600;
/// The ACS → browser handle lives one minute.
pub const HANDLE_SECS: i64 = 60;

pub async fn record_request<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    connection_id: &str,
    login_tx: &str,
    request_id: &str,
) -> CoreResult<()> {
    let now = clock.now_us();
    saml_requests::Entity::insert(saml_requests::ActiveModel {
        request_id: Set(request_id.to_string()),
        tenant_id: Set(tenant.to_string()),
        connection_id: Set(connection_id.to_string()),
        login_tx: Set(login_tx.to_string()),
        created_at: Set(now),
        expires_at: Set(now + REQUEST_SECS * MICROS),
        consumed_at: NotSet,
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The live, unconsumed request IDs a login transaction sent to this connection.
pub async fn pending_requests<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    connection_id: &str,
    login_tx: &str,
) -> CoreResult<Vec<String>> {
    use saml_requests::Column;
    Ok(saml_requests::Entity::find()
        .select_only()
        .column(Column::RequestId)
        .filter(Column::ConnectionId.eq(connection_id))
        .filter(Column::LoginTx.eq(login_tx))
        .filter(Column::ConsumedAt.is_null())
        .filter(Column::ExpiresAt.gt(clock.now_us()))
        .into_tuple()
        .all(conn)
        .await?)
}

/// Consumes a request ID exactly once (a conditional update: safe across nodes).
pub async fn consume_request<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    request_id: &str,
) -> CoreResult<bool> {
    use saml_requests::Column;
    let n = saml_requests::Entity::update_many()
        .col_expr(Column::ConsumedAt, Expr::value(clock.now_us()))
        .filter(Column::RequestId.eq(request_id))
        .filter(Column::ConsumedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected;
    Ok(n == 1)
}

/// Records an assertion ID until it expires; `false` if it was seen before (a replay).
pub async fn remember_assertion<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    connection_id: &str,
    assertion_id: &str,
    until_us: i64,
) -> CoreResult<bool> {
    saml_assertions::Entity::delete_many()
        .filter(saml_assertions::Column::ExpiresAt.lt(clock.now_us()))
        .exec(conn)
        .await?;
    let r = saml_assertions::Entity::insert(saml_assertions::ActiveModel {
        connection_id: Set(connection_id.to_string()),
        assertion_id: Set(assertion_id.to_string()),
        expires_at: Set(until_us),
    })
    .exec_without_returning(conn)
    .await;
    match r {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Stores a validated identity behind a one-time handle; returns the handle.
pub async fn create_handle<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    connection_id: &str,
    login_tx: &str,
    identity_json: &str,
) -> CoreResult<String> {
    let handle = random_token();
    saml_handles::Entity::insert(saml_handles::ActiveModel {
        handle_hash: Set(sha256_hex(&handle)),
        tenant_id: Set(tenant.to_string()),
        connection_id: Set(connection_id.to_string()),
        login_tx: Set(login_tx.to_string()),
        identity: Set(identity_json.to_string()),
        expires_at: Set(clock.now_us() + HANDLE_SECS * MICROS),
        consumed_at: NotSet,
    })
    .exec_without_returning(conn)
    .await?;
    Ok(handle)
}

pub struct Handle {
    pub tenant: TenantId,
    pub connection_id: String,
    pub login_tx: String,
    pub identity_json: String,
}

/// A live, unconsumed handle, without consuming it (the IdP-initiated confirmation page).
pub async fn peek_handle<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    handle: &str,
) -> CoreResult<Option<Handle>> {
    read_handle(conn, &sha256_hex(handle), Some(clock.now_us())).await
}

/// Consumes a handle once; `None` if unknown, expired or used.
pub async fn take_handle<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    handle: &str,
) -> CoreResult<Option<Handle>> {
    let hash = sha256_hex(handle);
    let now = clock.now_us();
    use saml_handles::Column;
    let n = saml_handles::Entity::update_many()
        .col_expr(Column::ConsumedAt, Expr::value(now))
        .filter(Column::HandleHash.eq(hash.clone()))
        .filter(Column::ConsumedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .exec(conn)
        .await?
        .rows_affected;
    if n != 1 {
        return Ok(None);
    }
    read_handle(conn, &hash, None).await
}

/// Reads a handle by hash; with `live_at`, only if unconsumed and unexpired at that instant.
async fn read_handle<C: ConnectionTrait>(
    conn: &C,
    hash: &str,
    live_at: Option<i64>,
) -> CoreResult<Option<Handle>> {
    use saml_handles::Column;
    let mut sel = saml_handles::Entity::find_by_id(hash);
    if let Some(now) = live_at {
        sel = sel
            .filter(Column::ConsumedAt.is_null())
            .filter(Column::ExpiresAt.gt(now));
    }
    Ok(sel.one(conn).await?.map(|m| Handle {
        tenant: TenantId::from_stored(m.tenant_id),
        connection_id: m.connection_id,
        login_tx: m.login_tx,
        identity_json: m.identity,
    }))
}
