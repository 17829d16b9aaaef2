//! SAML sign-in state in the shared store (works across nodes): AuthnRequest IDs consumed once,
//! the assertion replay cache, and one-time ACS → browser handles. Raw SQL through sea-query
//! keeps these small tables out of the entity layer.
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ConnectionTrait, Statement};

use crate::clock::{Clock, MICROS};
use crate::crypto::{random_token, sha256_hex};
use crate::db::is_unique_violation;
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

/// AuthnRequests may be answered within ten minutes.
pub const REQUEST_SECS: i64 = 600;
/// The ACS → browser handle lives one minute.
pub const HANDLE_SECS: i64 = 60;

fn t(name: &str) -> Alias {
    Alias::new(name)
}

async fn exec<C: ConnectionTrait, S: sea_orm::StatementBuilder>(
    conn: &C,
    q: &S,
) -> CoreResult<u64> {
    let stmt: Statement = conn.get_database_backend().build(q);
    Ok(conn.execute(stmt).await?.rows_affected())
}

pub async fn record_request<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    connection_id: &str,
    login_tx: &str,
    request_id: &str,
) -> CoreResult<()> {
    let now = clock.now_us();
    let q = Query::insert()
        .into_table(t("saml_requests"))
        .columns([
            t("request_id"),
            t("tenant_id"),
            t("connection_id"),
            t("login_tx"),
            t("created_at"),
            t("expires_at"),
        ])
        .values_panic([
            request_id.into(),
            tenant.0.clone().into(),
            connection_id.into(),
            login_tx.into(),
            now.into(),
            (now + REQUEST_SECS * MICROS).into(),
        ])
        .to_owned();
    exec(conn, &q).await?;
    Ok(())
}

/// The live, unconsumed request IDs a login transaction sent to this connection.
pub async fn pending_requests<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    connection_id: &str,
    login_tx: &str,
) -> CoreResult<Vec<String>> {
    let q = Query::select()
        .column(t("request_id"))
        .from(t("saml_requests"))
        .and_where(Expr::col(t("connection_id")).eq(connection_id))
        .and_where(Expr::col(t("login_tx")).eq(login_tx))
        .and_where(Expr::col(t("consumed_at")).is_null())
        .and_where(Expr::col(t("expires_at")).gt(clock.now_us()))
        .to_owned();
    let stmt = conn.get_database_backend().build(&q);
    let rows = conn.query_all(stmt).await?;
    rows.iter()
        .map(|r| {
            r.try_get::<String>("", "request_id")
                .map_err(CoreError::from)
        })
        .collect()
}

/// Consumes a request ID exactly once (a conditional update: safe across nodes).
pub async fn consume_request<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    request_id: &str,
) -> CoreResult<bool> {
    let q = Query::update()
        .table(t("saml_requests"))
        .value(t("consumed_at"), clock.now_us())
        .and_where(Expr::col(t("request_id")).eq(request_id))
        .and_where(Expr::col(t("consumed_at")).is_null())
        .to_owned();
    Ok(exec(conn, &q).await? == 1)
}

/// Records an assertion ID until it expires; `false` if it was seen before (a replay).
pub async fn remember_assertion<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    connection_id: &str,
    assertion_id: &str,
    until_us: i64,
) -> CoreResult<bool> {
    let prune = Query::delete()
        .from_table(t("saml_assertions"))
        .and_where(Expr::col(t("expires_at")).lt(clock.now_us()))
        .to_owned();
    exec(conn, &prune).await?;
    let q = Query::insert()
        .into_table(t("saml_assertions"))
        .columns([t("connection_id"), t("assertion_id"), t("expires_at")])
        .values_panic([connection_id.into(), assertion_id.into(), until_us.into()])
        .to_owned();
    match exec(conn, &q).await {
        Ok(_) => Ok(true),
        Err(CoreError::Db(e)) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
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
    let q = Query::insert()
        .into_table(t("saml_handles"))
        .columns([
            t("handle_hash"),
            t("tenant_id"),
            t("connection_id"),
            t("login_tx"),
            t("identity"),
            t("expires_at"),
        ])
        .values_panic([
            sha256_hex(&handle).into(),
            tenant.0.clone().into(),
            connection_id.into(),
            login_tx.into(),
            identity_json.into(),
            (clock.now_us() + HANDLE_SECS * MICROS).into(),
        ])
        .to_owned();
    exec(conn, &q).await?;
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
    let q = Query::update()
        .table(t("saml_handles"))
        .value(t("consumed_at"), now)
        .and_where(Expr::col(t("handle_hash")).eq(hash.clone()))
        .and_where(Expr::col(t("consumed_at")).is_null())
        .and_where(Expr::col(t("expires_at")).gt(now))
        .to_owned();
    if exec(conn, &q).await? != 1 {
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
    let mut sel = Query::select()
        .columns([
            t("tenant_id"),
            t("connection_id"),
            t("login_tx"),
            t("identity"),
        ])
        .from(t("saml_handles"))
        .and_where(Expr::col(t("handle_hash")).eq(hash))
        .to_owned();
    if let Some(now) = live_at {
        sel.and_where(Expr::col(t("consumed_at")).is_null())
            .and_where(Expr::col(t("expires_at")).gt(now));
    }
    let stmt = conn.get_database_backend().build(&sel);
    let Some(r) = conn.query_one(stmt).await? else {
        return Ok(None);
    };
    Ok(Some(Handle {
        tenant: TenantId(r.try_get("", "tenant_id")?),
        connection_id: r.try_get("", "connection_id")?,
        login_tx: r.try_get("", "login_tx")?,
        identity_json: r.try_get("", "identity")?,
    }))
}
