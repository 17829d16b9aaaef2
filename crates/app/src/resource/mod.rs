//! The operator's catalogue use cases (issue 13 §2): look at a resource's catalogue and its
//! versions, and change it ([`update`]). The CLI and the operator API call the same ones.
pub mod manage;
mod update;

pub use update::update;

use authz_core::resource::{self, ResourceSpec, Version};
use authz_core::{CoreResult, Store};

use crate::principal::Operator;

/// A resource's catalogue as stored now, with its version.
pub async fn show(
    store: &Store,
    _op: &Operator,
    resource: &str,
) -> CoreResult<(i64, ResourceSpec)> {
    let res = resource::find_by_uri_or_id(&store.db, resource).await?;
    resource::spec::stored(&store.db, &res.id).await
}

/// Every stored version of a resource's catalogue, newest first (with the resource's URI).
pub async fn versions(
    store: &Store,
    _op: &Operator,
    resource: &str,
) -> CoreResult<(String, Vec<Version>)> {
    let res = resource::find_by_uri_or_id(&store.db, resource).await?;
    Ok((
        res.uri.clone(),
        resource::versions(&store.db, &res.id).await?,
    ))
}
