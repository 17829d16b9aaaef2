//! The operator's OAuth clients (issue 16 §2): list, show, rename, remove. Every surface shows
//! the same [`ClientView`] (never a secret) and calls these use cases; removing a client
//! revokes its grants and tokens in every tenant at once.
use authz_core::client::{self, Client};
use authz_core::clock::Clock;
use authz_core::{CoreError, CoreResult, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::principal::Operator;
use crate::removal::{Impact, Removed};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientView {
    pub client_id: String,
    /// `preregistered`, `dcr` (dynamic registration) or `cimd` (metadata document).
    pub kind: String,
    /// Shown on the consent page.
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    /// `none` for a public client.
    pub token_endpoint_auth_method: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; `null` if it never got a token.
    pub first_used_at: Option<String>,
}

fn time(us: i64) -> String {
    authz_core::clock::rfc3339(us, chrono::SecondsFormat::Secs)
}

impl From<&Client> for ClientView {
    fn from(c: &Client) -> Self {
        ClientView {
            client_id: c.client_id.clone(),
            kind: c.kind.as_str().into(),
            client_name: c.client_name.clone(),
            redirect_uris: c.redirect_uris.clone(),
            token_endpoint_auth_method: c.auth_method.clone(),
            created_at: time(c.created_at),
            first_used_at: c.first_used_at.map(time),
        }
    }
}

/// The pre-registered clients, by name (dynamically registered ones are shown by id).
pub async fn list(store: &Store, _op: &Operator) -> CoreResult<Vec<ClientView>> {
    Ok(client::list_preregistered(&store.db)
        .await?
        .iter()
        .map(ClientView::from)
        .collect())
}

/// Any client by its id.
pub async fn show(store: &Store, _op: &Operator, client_id: &str) -> CoreResult<ClientView> {
    client::get(&store.db, client_id)
        .await?
        .as_ref()
        .map(ClientView::from)
        .ok_or(CoreError::NotFound("client"))
}

/// What the operator may change on a client: its name.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientChange {
    pub client_name: Option<String>,
}

pub async fn update(
    store: &Store,
    clock: &dyn Clock,
    op: &Operator,
    client_id: &str,
    change: ClientChange,
) -> CoreResult<ClientView> {
    let Some(name) = change.client_name else {
        return Err(CoreError::invalid("nothing to change: give client_name"));
    };
    authz_core::removal::client::rename(store, clock, client_id, &name, op.actor()).await?;
    show(store, op, client_id).await
}

/// Removes the client, or previews what that ends.
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    op: &Operator,
    client_id: &str,
    dry_run: bool,
) -> CoreResult<Removed<ClientView>> {
    let before = show(store, op, client_id).await?;
    let counts =
        authz_core::removal::client::remove(store, clock, client_id, op.actor(), dry_run).await?;
    Ok(Removed {
        removed: before,
        revoked: Impact::from(counts),
    })
}
