//! Tenant-admin endpoints for members' personal API keys (issue 14 §1): list every key of the
//! tenant (never a secret) and revoke any. Turning keys on or off and their maximum lifetime
//! are settings (`PUT /tenants/{tenant}/settings`: `api_keys_enabled`, `api_key_max_days`).
use actix_web::{get, post, web};
use authz_core::personal_key::PersonalKey;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::TenantAdmin;
use crate::error::Problem;
use crate::AdminState;

fn rfc3339(us: i64) -> String {
    authz_core::clock::rfc3339(us, chrono::SecondsFormat::Secs)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserKeyOut {
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

impl From<PersonalKey> for UserKeyOut {
    fn from(k: PersonalKey) -> Self {
        UserKeyOut {
            id: k.id,
            user_id: k.user_id,
            name: k.name,
            client: k.client_label,
            prefix: k.display_prefix,
            resource: k.resource_uri,
            scopes: k.scopes,
            created_at: rfc3339(k.created_at),
            expires_at: rfc3339(k.expires_at),
            last_used_at: k.last_used_at.map(rfc3339),
            status: k.status.as_str().to_string(),
        }
    }
}

/// Every personal API key of the tenant's members, newest first.
#[utoipa::path(
    operation_id = "user-key.list",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, body = [UserKeyOut]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/user-keys")]
pub async fn list_user_keys(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
) -> Result<web::Json<Vec<UserKeyOut>>, Problem> {
    let keys = app::api_keys::admin::list(&st.store, st.clock.as_ref(), &admin.principal()).await?;
    Ok(web::Json(keys.into_iter().map(UserKeyOut::from).collect()))
}

/// Revokes a member's personal API key, at once on every node (audited `api_key.revoked`).
/// Revoking a key that is already revoked or expired changes nothing.
#[utoipa::path(
    operation_id = "user-key.remove",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("key_id" = String, Path)),
    responses(
        (status = 200, body = UserKeyOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tenants/{tenant}/user-keys/{key_id}/revoke")]
pub async fn revoke_user_key(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<UserKeyOut>, Problem> {
    let (key, _) =
        app::api_keys::admin::revoke(&st.store, st.clock.as_ref(), &admin.principal(), &path.1)
            .await?;
    Ok(web::Json(key.into()))
}
