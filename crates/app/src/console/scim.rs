//! The SCIM page: the tenant's SCIM tokens, the IdP's recent failed requests
//! (`scim.request_failed`) and its last successful change, from the audit log.
use authz_core::audit::search::Listed as Record;
use authz_core::audit::search::{search, AuditQuery};
use authz_core::scim_token::{self, ScimToken};
use authz_core::CoreResult;
use sea_orm::DatabaseConnection;

use crate::principal::TenantAdmin;

pub struct ScimPage {
    pub tokens: Vec<ScimToken>,
    /// The 20 newest failed requests.
    pub errors: Vec<Record>,
    /// The newest successful SCIM change.
    pub last_change: Option<Record>,
}

pub async fn load(db: &DatabaseConnection, admin: &TenantAdmin) -> CoreResult<ScimPage> {
    let t = admin.tenant();
    let tokens = scim_token::list(db, t).await?;
    let errors = search(
        db,
        t,
        &AuditQuery {
            action_prefix: Some("scim.request_failed".into()),
            limit: 20,
            ..Default::default()
        },
    )
    .await?;
    let last_change = search(
        db,
        t,
        &AuditQuery {
            action_prefix: Some("scim.".into()),
            result: Some("success".into()),
            limit: 1,
            ..Default::default()
        },
    )
    .await?
    .into_iter()
    .next();
    Ok(ScimPage {
        tokens,
        errors,
        last_change,
    })
}
