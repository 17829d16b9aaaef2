//! The apps page: each MCP resource with its scope catalogue, the tenant's grants, and the
//! tenant's SCIM groups (who a scope can be granted to).
use authz_core::directory::{filter, groups, ListQuery};
use authz_core::grant::{self, Grant};
use authz_core::resource::{self, Resource, Scope};
use authz_core::CoreResult;
use sea_orm::DatabaseConnection;

use crate::principal::TenantAdmin;

pub struct AppsPage {
    /// Every resource with its catalogue, in registration order.
    pub resources: Vec<(Resource, Vec<Scope>)>,
    pub grants: Vec<Grant>,
    /// The tenant's SCIM groups: (id, display name), by name.
    pub groups: Vec<(String, String)>,
}

pub async fn load(db: &DatabaseConnection, admin: &TenantAdmin) -> CoreResult<AppsPage> {
    let page = groups::list(
        db,
        admin.tenant(),
        &ListQuery::all_by(filter::groups(), "displayName", 1000),
    )
    .await?;
    let groups = page
        .items
        .into_iter()
        .map(|g| (g.id, g.display_name))
        .collect();
    let grants = grant::list(db, admin.tenant()).await?;
    let mut resources = Vec::new();
    for r in resource::list(db).await? {
        let catalogue = resource::catalogue(db, &r.id).await?;
        resources.push((r, catalogue));
    }
    Ok(AppsPage {
        resources,
        grants,
        groups,
    })
}
