//! RFC 7662 introspection for resource servers: one statement, the token by primary key joined
//! to its tenant (a suspended tenant's tokens are inactive). A token presented by a resource
//! server it was not issued for is inactive (audience check, RFC 8707).
use sea_orm::sea_query::{Alias, Asterisk, Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, FromQueryResult};
use serde::Serialize;

use crate::clock::{Clock, MICROS};
use crate::crypto::sha256_hex;
use crate::entities::{tenants, tokens};
use crate::error::CoreResult;
use crate::resource::Resource;

#[derive(Debug, Serialize, Default)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
}

pub async fn introspect<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    issuer: &str,
    caller: &Resource,
    token: &str,
) -> CoreResult<Introspection> {
    let q = Query::select()
        .column((tokens::Entity, Asterisk))
        .expr_as(
            Expr::col((tenants::Entity, tenants::Column::SuspendedAt)),
            Alias::new("tenant_suspended_at"),
        )
        .from(tokens::Entity)
        .inner_join(
            tenants::Entity,
            Expr::col((tenants::Entity, tenants::Column::Id))
                .equals((tokens::Entity, tokens::Column::TenantId)),
        )
        .and_where(tokens::Column::TokenHash.eq(sha256_hex(token)))
        .to_owned();
    let Some(row) = conn
        .query_one(conn.get_database_backend().build(&q))
        .await?
    else {
        return Ok(Introspection::default());
    };
    let t = tokens::Model::from_query_result(&row, "")?;
    let suspended = row
        .try_get::<Option<i64>>("", "tenant_suspended_at")?
        .is_some();
    let live = t.kind == "access"
        && !suspended
        && t.revoked_at.is_none()
        && t.expires_at > clock.now_us()
        && t.resource_id == caller.id;
    if !live {
        return Ok(Introspection::default());
    }
    Ok(Introspection {
        active: true,
        scope: Some(t.scopes),
        client_id: Some(t.client_id),
        sub: Some(t.user_id),
        aud: Some(caller.uri.clone()),
        iss: Some(issuer.to_string()),
        exp: Some(t.expires_at / MICROS),
        iat: Some(t.issued_at / MICROS),
        token_type: Some("Bearer"),
        tenant: Some(t.tenant_id),
        session_id: Some(t.session_id),
        tier: Some(t.tier),
    })
}
