//! Members' personal API keys, as their tenant's admin manages them: show, rename, remove.
//! An admin may relabel a key (so the list says what it is for) and revoke it; the scopes and
//! the expiry are the member's choice within the tenant's rules, so they do not change here.
use authz_core::clock::Clock;
use authz_core::personal_key::{self, PersonalKey};
use authz_core::{CoreResult, Store, TenantId};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{finish, time, Impact, Removed};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserKeyView {
    /// The key id (the grant family's id; introspection's `key_id`).
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// `cursor`, `vscode`, `claude-code` or `other`.
    pub client: String,
    /// The start of the key, as secret scanners and the person see it.
    pub prefix: String,
    pub resource: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
    /// `active`, `revoked` or `expired`.
    pub status: String,
}

impl From<PersonalKey> for UserKeyView {
    fn from(k: PersonalKey) -> Self {
        UserKeyView {
            id: k.id,
            user_id: k.user_id,
            name: k.name,
            client: k.client_label,
            prefix: k.display_prefix,
            resource: k.resource_uri,
            scopes: k.scopes,
            created_at: time(k.created_at),
            expires_at: time(k.expires_at),
            last_used_at: k.last_used_at.map(time),
            status: k.status.as_str().to_string(),
        }
    }
}

pub async fn show<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
) -> CoreResult<UserKeyView> {
    Ok(personal_key::get(conn, clock, tenant, None, id)
        .await?
        .into())
}

pub async fn list<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
) -> CoreResult<Vec<UserKeyView>> {
    Ok(personal_key::list_for_tenant(conn, clock, tenant)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// What an admin may change on a member's key: its name.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserKeyChange {
    pub name: Option<String>,
}

pub async fn update(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    change: &UserKeyChange,
    actor: &str,
) -> CoreResult<UserKeyView> {
    let txn = store.begin().await?;
    let k = personal_key::get(&txn, clock, tenant, None, id).await?;
    if let Some(name) = &change.name {
        personal_key::rename_in(&txn, clock, &k, name, actor).await?;
    }
    let k = personal_key::get(&txn, clock, tenant, None, id).await?;
    txn.commit().await?;
    Ok(k.into())
}

/// Revokes the key at once on every node (`dry_run`: only says what it would stop). A key
/// already revoked or expired is shown with nothing revoked.
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    actor: &str,
    dry_run: bool,
) -> CoreResult<Removed<UserKeyView>> {
    let txn = store.begin().await?;
    let k = personal_key::get(&txn, clock, tenant, None, id).await?;
    let live = personal_key::revoke_in(&txn, clock, &k, actor).await?;
    let after = personal_key::get(&txn, clock, tenant, None, id).await?;
    finish(txn, dry_run).await?;
    Ok(Removed {
        removed: if dry_run { k.into() } else { after.into() },
        revoked: Impact {
            credentials: live as u64,
            ..Impact::default()
        },
    })
}
