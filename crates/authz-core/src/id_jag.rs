//! Enterprise-managed authorization per OIDC connection (MCP extension "Enterprise-Managed
//! Authorization", draft-ietf-oauth-identity-assertion-authz-grant §4-§5): whether Gatehouse
//! accepts Identity Assertion JWT Authorization Grants (ID-JAGs) that this connection's IdP
//! signs, and which OAuth clients may present them. Off by default, and with an empty client
//! list even when on: the IdP decides who may ask for an ID-JAG, the tenant admin decides which
//! clients may redeem one here (ADR 0014).
//!
//! The settings live in the connection's JSON `settings` under [`SETTING`], beside the preset's
//! own (no schema change).
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::connection::{self, Connection};
use crate::db::Store;
use crate::entities::connections;
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

/// The key of the ID-JAG settings in a connection's `settings`.
pub const SETTING: &str = "id_jag";

/// At most this many allowed clients per connection (a list an admin reads, not a registry).
pub const MAX_CLIENTS: usize = 50;

/// One connection's ID-JAG settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdJagSettings {
    /// ID-JAGs signed by this connection's IdP are accepted.
    #[serde(default)]
    pub enabled: bool,
    /// The client ids that may redeem them (pre-registered confidential clients).
    #[serde(default)]
    pub clients: Vec<String>,
}

impl IdJagSettings {
    /// The settings stored on `conn` (absent or unreadable: off).
    pub fn of(conn: &Connection) -> IdJagSettings {
        conn.settings
            .get(SETTING)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    /// May `client_id` redeem this connection's ID-JAGs?
    pub fn allows(&self, client_id: &str) -> bool {
        self.enabled && self.clients.iter().any(|c| c == client_id)
    }
}

/// RFC 8414 §2 issuer identifiers compare as strings; a trailing slash on a bare origin is the
/// one difference tolerated (as at sign-in).
fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// The OIDC connections, in every tenant, whose issuer is `iss`: the entry point of the
/// `jwt-bearer` grant, whose assertion names its IdP and nothing else. Like an IdP callback,
/// the tenant comes from the connection row; every later query takes it. Disabled ones and
/// ones without ID-JAG are returned too, so the refusal can say which it was.
pub async fn connections_of_issuer<C: ConnectionTrait>(
    conn: &C,
    iss: &str,
) -> CoreResult<Vec<Connection>> {
    let trimmed = iss.trim_end_matches('/');
    Ok(connections::Entity::find()
        .filter(connections::Column::Kind.eq("oidc"))
        .filter(connections::Column::RemovedAt.is_null())
        .filter(
            connections::Column::Issuer
                .eq(trimmed)
                .or(connections::Column::Issuer.eq(format!("{trimmed}/"))),
        )
        .all(conn)
        .await?
        .into_iter()
        .map(Connection::from)
        .filter(|c| same_issuer(&c.issuer, iss))
        .collect())
}

/// Sets a connection's ID-JAG settings (an OIDC connection of `tenant`). Every allowed client
/// must exist and be confidential: the `jwt-bearer` grant is only for authenticated clients
/// (ext-auth: "confidential clients"), a public client could be anyone. Audited as
/// `connection.id_jag_set`.
pub async fn set(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    new: &IdJagSettings,
    actor: &str,
) -> CoreResult<IdJagSettings> {
    let mut clients: Vec<String> = Vec::new();
    for c in &new.clients {
        let c = c.trim();
        if !c.is_empty() && !clients.iter().any(|x| x == c) {
            clients.push(c.to_string());
        }
    }
    if clients.len() > MAX_CLIENTS {
        return Err(CoreError::invalid(format!(
            "at most {MAX_CLIENTS} clients may be allowed per connection"
        )));
    }
    let txn = store.begin().await?;
    let current = connection::get(&txn, tenant, id).await?;
    if current.kind != "oidc" {
        return Err(CoreError::invalid(
            "ID-JAG is accepted only from OpenID Connect connections (the IdP signs it with its OIDC keys)",
        ));
    }
    for c in &clients {
        match crate::client::get(&txn, c).await? {
            None => return Err(CoreError::invalid(format!("no client '{c}' is registered"))),
            Some(k) if !k.is_confidential() => {
                return Err(CoreError::invalid(format!(
                    "client '{c}' is public; only confidential clients may redeem ID-JAGs"
                )))
            }
            Some(_) => {}
        }
    }
    let stored = IdJagSettings {
        enabled: new.enabled,
        clients,
    };
    let mut settings = current.settings.clone();
    if !settings.is_object() {
        settings = serde_json::json!({});
    }
    settings[SETTING] =
        serde_json::to_value(&stored).map_err(|e| CoreError::Config(e.to_string()))?;
    connections::Entity::update_many()
        .col_expr(connections::Column::Settings, settings.to_string().into())
        .filter(connections::Column::Id.eq(id))
        .filter(connections::Column::TenantId.eq(tenant.to_string()))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "connection.id_jag_set")
            .actor(actor)
            .detail("connection_id", id)
            .detail("enabled", stored.enabled)
            .detail("clients", stored.clients.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_unless_enabled_and_listed() {
        let s = IdJagSettings {
            enabled: false,
            clients: vec!["a".into()],
        };
        assert!(!s.allows("a"));
        let s = IdJagSettings { enabled: true, ..s };
        assert!(s.allows("a"));
        assert!(!s.allows("b"));
        assert!(same_issuer("https://idp.test/", "https://idp.test"));
        assert!(!same_issuer("https://idp.test/a", "https://idp.test"));
    }
}
