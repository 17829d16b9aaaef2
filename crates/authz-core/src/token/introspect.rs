//! RFC 7662 introspection for resource servers: one primary-key lookup. A token presented by a
//! resource server it was not issued for is inactive (audience check, RFC 8707).
use sea_orm::{ConnectionTrait, EntityTrait};
use serde::Serialize;

use crate::clock::{Clock, MICROS};
use crate::crypto::sha256_hex;
use crate::entities::tokens;
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
    let Some(t) = tokens::Entity::find_by_id(sha256_hex(token))
        .one(conn)
        .await?
    else {
        return Ok(Introspection::default());
    };
    let live = t.kind == "access"
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
