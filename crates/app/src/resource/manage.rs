//! A protected resource as a whole (issue 16 §2): list, show, rename, remove. The catalogue
//! itself changes through [`super::update`]. Every surface shows the same [`ResourceView`]
//! (never a secret) and calls these use cases.
use authz_core::clock::Clock;
use authz_core::resource::{self, Resource};
use authz_core::{CoreError, CoreResult, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::principal::Operator;
use crate::removal::{Impact, Removed};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResourceView {
    pub id: String,
    pub uri: String,
    pub display_name: String,
    /// The resource server's client id for introspection and audit events.
    pub introspection_client_id: String,
    /// The catalogue's scope names.
    pub scopes: Vec<String>,
}

async fn view(store: &Store, r: Resource) -> CoreResult<ResourceView> {
    let scopes = resource::catalogue(&store.db, &r.id)
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    Ok(ResourceView {
        id: r.id,
        uri: r.uri,
        display_name: r.display_name,
        introspection_client_id: r.rs_client_id,
        scopes,
    })
}

/// Every resource, by display name.
pub async fn list(store: &Store, _op: &Operator) -> CoreResult<Vec<ResourceView>> {
    let mut out = Vec::new();
    for r in resource::list(&store.db).await? {
        out.push(view(store, r).await?);
    }
    Ok(out)
}

/// One resource by URI or id.
pub async fn show(store: &Store, _op: &Operator, key: &str) -> CoreResult<ResourceView> {
    let r = resource::find_by_uri_or_id(&store.db, key).await?;
    view(store, r).await
}

/// What may change on a resource besides its catalogue: its display name.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceChange {
    pub display_name: Option<String>,
}

pub async fn rename(
    store: &Store,
    clock: &dyn Clock,
    op: &Operator,
    key: &str,
    change: ResourceChange,
) -> CoreResult<ResourceView> {
    let Some(name) = change.display_name else {
        return Err(CoreError::invalid("nothing to change: give display_name"));
    };
    let r = resource::find_by_uri_or_id(&store.db, key).await?;
    authz_core::removal::resource::rename(store, clock, &r.id, &name, op.actor()).await?;
    show(store, op, &r.id).await
}

/// Removes the resource, or previews what that ends.
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    op: &Operator,
    key: &str,
    dry_run: bool,
) -> CoreResult<Removed<ResourceView>> {
    let before = show(store, op, key).await?;
    let counts =
        authz_core::removal::resource::remove(store, clock, &before.id, op.actor(), dry_run)
            .await?;
    Ok(Removed {
        removed: before,
        revoked: Impact::from(counts),
    })
}
