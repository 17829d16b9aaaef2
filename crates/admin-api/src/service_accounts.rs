//! Tenant service accounts (issue 14 §3): machine clients of the `client_credentials` grant
//! (RFC 6749 §4.4). A tenant admin creates them (a secret is in the creation or rotation
//! response only), grants them scopes per resource (never critical ones), rotates secrets with
//! an overlap, replaces `private_key_jwt` keys (RFC 7523 §2.2), disables (revoking their tokens
//! at once), enables and removes them. Every change is audited by `authz_core::service_account`.
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use app::manage::service_account::ServiceAccountChange;
use app::manage::Removed;
use authz_core::service_account::{self as sa, Keys, Method, NewAccount};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::TenantAdmin;
use crate::error::Problem;
use crate::manage::{dry_run, RemoveQuery, RemovedOut};
use crate::AdminState;

fn rfc3339(us: i64) -> String {
    authz_core::clock::rfc3339(us, chrono::SecondsFormat::Micros)
}

/// Scopes granted on one resource.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantIn {
    /// The resource's URI (or id).
    pub resource: String,
    pub scopes: Vec<String>,
}

pub use app::manage::service_account::{
    ServiceAccountView as ServiceAccountOut, UpdatedServiceAccount,
};

fn grants(g: Vec<GrantIn>) -> Vec<(String, Vec<String>)> {
    g.into_iter().map(|g| (g.resource, g.scopes)).collect()
}

/// The tenant's service accounts (never their secrets).
#[utoipa::path(
    operation_id = "service-account.list",
    tag = "service-accounts",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, body = [ServiceAccountOut]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/service-accounts")]
pub async fn list_service_accounts(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
) -> Result<web::Json<Vec<ServiceAccountOut>>, Problem> {
    let all = sa::list(&st.store.db, &admin.tenant).await?;
    Ok(web::Json(all.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServiceAccount {
    pub name: String,
    pub grants: Vec<GrantIn>,
    /// `client_secret_basic` (default; a secret is generated) or `private_key_jwt`.
    pub auth_method: Option<String>,
    /// For `private_key_jwt`: a JWK Set of public keys…
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// …or the https URL of one.
    pub jwks_uri: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedServiceAccount {
    #[serde(flatten)]
    pub account: ServiceAccountOut,
    /// The client secret: in this response only, never stored.
    pub client_secret: Option<String>,
}

fn keys(jwks: Option<serde_json::Value>, uri: Option<String>) -> Result<Option<Keys>, Problem> {
    match (jwks, uri) {
        (None, None) => Ok(None),
        (Some(j), None) => Ok(Some(Keys::Inline(j))),
        (None, Some(u)) => Ok(Some(Keys::Uri(u))),
        (Some(_), Some(_)) => Err(Problem::invalid("give jwks or jwks_uri, not both")),
    }
}

/// Creates a service account; a generated client secret is in this response only.
#[utoipa::path(
    tag = "service-accounts",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = NewServiceAccount,
    responses(
        (status = 201, body = CreatedServiceAccount),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tenants/{tenant}/service-accounts")]
pub async fn create_service_account(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let b: NewServiceAccount = crate::error::json(&body)?;
    let method = Method::parse(b.auth_method.as_deref().unwrap_or("client_secret_basic"))?;
    let g = grants(b.grants);
    let new = NewAccount {
        name: &b.name,
        grants: &g,
        method,
        keys: keys(b.jwks, b.jwks_uri)?,
    };
    let c = sa::create(
        &st.store,
        st.clock.as_ref(),
        &admin.tenant,
        new,
        &admin.actor(),
    )
    .await?;
    Ok(HttpResponse::Created().json(CreatedServiceAccount {
        account: c.account.into(),
        client_secret: c.secret,
    }))
}

/// One service account, by id, client id or name.
#[utoipa::path(
    operation_id = "service-account.show",
    tag = "service-accounts",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("account_id" = String, Path, description = "The account's id, client id or name")),
    responses(
        (status = 200, body = ServiceAccountOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/service-accounts/{account_id}")]
pub async fn get_service_account(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<ServiceAccountOut>, Problem> {
    let a = sa::get(&st.store.db, &admin.tenant, &path.1).await?;
    Ok(web::Json(a.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantsIn {
    pub grants: Vec<GrantIn>,
}

/// Replaces the granted scopes; tokens carrying a scope no longer granted are revoked at once.
#[utoipa::path(
    tag = "service-accounts",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("account_id" = String, Path, description = "The account's id, client id or name")),
    request_body = GrantsIn,
    responses(
        (status = 200, body = UpdatedServiceAccount),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/tenants/{tenant}/service-accounts/{account_id}/grants")]
pub async fn set_service_account_grants(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<web::Json<UpdatedServiceAccount>, Problem> {
    let b: GrantsIn = crate::error::json(&body)?;
    let g = grants(b.grants);
    let (a, n) = sa::set_grants(
        &st.store,
        st.clock.as_ref(),
        &admin.tenant,
        &path.1,
        &g,
        &admin.actor(),
    )
    .await?;
    Ok(web::Json(UpdatedServiceAccount {
        account: a.into(),
        tokens_revoked: n,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateIn {
    /// How long the current secret keeps working (seconds, 0 to 604800; default 3600).
    pub overlap_secs: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedOut {
    pub client_id: String,
    /// The new secret: in this response only.
    pub client_secret: String,
    pub previous_secret_valid_until: Option<String>,
}

/// Issues a new client secret; the current one keeps working for the overlap.
#[utoipa::path(
    tag = "service-accounts",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("account_id" = String, Path, description = "The account's id, client id or name")),
    request_body = RotateIn,
    responses(
        (status = 200, body = RotatedOut),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tenants/{tenant}/service-accounts/{account_id}/rotate-secret")]
pub async fn rotate_service_account_secret(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<web::Json<RotatedOut>, Problem> {
    let b: RotateIn = if body.is_empty() {
        RotateIn { overlap_secs: None }
    } else {
        crate::error::json(&body)?
    };
    let overlap = b
        .overlap_secs
        .unwrap_or(authz_core::resource_secret::DEFAULT_OVERLAP_SECS);
    let r = sa::rotate_secret(
        &st.store,
        st.clock.as_ref(),
        &admin.tenant,
        &path.1,
        overlap,
        &admin.actor(),
    )
    .await?;
    Ok(web::Json(RotatedOut {
        client_id: r.account.client_id,
        client_secret: r.secret,
        previous_secret_valid_until: r.previous_valid_until.map(rfc3339),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeysIn {
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    pub jwks_uri: Option<String>,
}

/// Replaces the public keys of a `private_key_jwt` account (an inline JWKS or a `jwks_uri`).
#[utoipa::path(
    tag = "service-accounts",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("account_id" = String, Path, description = "The account's id, client id or name")),
    request_body = KeysIn,
    responses(
        (status = 200, body = ServiceAccountOut),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/tenants/{tenant}/service-accounts/{account_id}/keys")]
pub async fn set_service_account_keys(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<web::Json<ServiceAccountOut>, Problem> {
    let b: KeysIn = crate::error::json(&body)?;
    let k = keys(b.jwks, b.jwks_uri)?.ok_or_else(|| Problem::invalid("give jwks or jwks_uri"))?;
    let a = sa::set_keys(
        &st.store,
        st.clock.as_ref(),
        &admin.tenant,
        &path.1,
        k,
        &admin.actor(),
    )
    .await?;
    Ok(web::Json(a.into()))
}

async fn set_enabled(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    id: &str,
    enabled: bool,
) -> Result<web::Json<UpdatedServiceAccount>, Problem> {
    let (a, n) = sa::set_enabled(
        &st.store,
        st.clock.as_ref(),
        &admin.tenant,
        id,
        enabled,
        &admin.actor(),
    )
    .await?;
    Ok(web::Json(UpdatedServiceAccount {
        account: a.into(),
        tokens_revoked: n,
    }))
}

/// Disables the account: its tokens are revoked at once on every node and it gets no new ones.
#[utoipa::path(
    tag = "service-accounts",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("account_id" = String, Path, description = "The account's id, client id or name")),
    responses(
        (status = 200, body = UpdatedServiceAccount),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tenants/{tenant}/service-accounts/{account_id}/disable")]
pub async fn disable_service_account(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<UpdatedServiceAccount>, Problem> {
    set_enabled(admin, st, &path.1, false).await
}

/// Enables a disabled account (it asks for new tokens; revoked ones stay revoked).
#[utoipa::path(
    tag = "service-accounts",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("account_id" = String, Path, description = "The account's id, client id or name")),
    responses(
        (status = 200, body = UpdatedServiceAccount),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tenants/{tenant}/service-accounts/{account_id}/enable")]
pub async fn enable_service_account(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<UpdatedServiceAccount>, Problem> {
    set_enabled(admin, st, &path.1, true).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountPatch {
    pub name: Option<String>,
    /// Replaces the granted scopes as a whole.
    pub grants: Option<Vec<GrantIn>>,
    /// `false` disables the account (its tokens are revoked at once); `true` enables it.
    pub enabled: Option<bool>,
}

/// Changes any of the account's name, granted scopes and state in one transaction; tokens
/// carrying a scope no longer granted (or all, when disabled) are revoked at once.
#[utoipa::path(
    operation_id = "service-account.update",
    tag = "service-accounts",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("account_id" = String, Path, description = "The account's id, client id or name")),
    request_body = ServiceAccountPatch,
    responses(
        (status = 200, body = UpdatedServiceAccount),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/tenants/{tenant}/service-accounts/{account_id}")]
pub async fn update_service_account(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<web::Json<UpdatedServiceAccount>, Problem> {
    let b: ServiceAccountPatch = crate::error::json(&body)?;
    let change = ServiceAccountChange {
        name: b.name,
        grants: b.grants.map(grants),
        enabled: b.enabled,
    };
    let (store, clock) = (&st.store, st.clock.as_ref());
    let r = app::manage::service_account::update(
        store,
        clock,
        &admin.tenant,
        &path.1,
        &change,
        &admin.actor(),
    )
    .await?;
    Ok(web::Json(r))
}

/// Removes the account, revoking its tokens at once; its audit trail stays. With
/// `dry_run=true`, says what it would end and changes nothing.
#[utoipa::path(
    operation_id = "service-account.remove",
    tag = "service-accounts",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("account_id" = String, Path, description = "The account's id, client id or name"), RemoveQuery),
    responses(
        (status = 200, body = RemovedOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/tenants/{tenant}/service-accounts/{account_id}")]
pub async fn remove_service_account(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<web::Json<Removed<ServiceAccountOut>>, Problem> {
    let dry = dry_run(&req)?;
    let (store, clock) = (&st.store, st.clock.as_ref());
    let r = app::manage::service_account::remove(
        store,
        clock,
        &admin.tenant,
        &path.1,
        &admin.actor(),
        dry,
    )
    .await?;
    Ok(web::Json(r))
}
