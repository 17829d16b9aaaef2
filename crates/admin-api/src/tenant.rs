//! Tenant-admin endpoints: users and their access, SCIM tokens, the audit log. Every handler
//! takes a [`TenantAdmin`], whose tenant is the only one it touches.
use actix_web::{get, post, web, HttpResponse};
use authz_core::audit::search::{search, AuditQuery};
use authz_core::{scim_token, user};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::TenantAdmin;
use crate::error::Problem;
use crate::AdminState;

fn rfc3339(us: i64) -> String {
    authz_core::clock::rfc3339(us, chrono::SecondsFormat::Micros)
}

fn parse_time(name: &str, v: &Option<String>) -> Result<Option<i64>, Problem> {
    v.as_deref()
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|d| d.timestamp_micros())
                .map_err(|_| Problem::invalid(format!("{name} must be an RFC 3339 date-time")))
        })
        .transpose()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub active: bool,
    pub connection_id: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserSearch {
    /// Part of an email address or name.
    pub q: Option<String>,
    /// At most this many (1-500, default 100).
    pub limit: Option<u64>,
}

/// The tenant's users (SSO identities), optionally searched by email or name.
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), UserSearch),
    responses(
        (status = 200, body = [UserOut]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/users")]
pub async fn list_users(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    req: actix_web::HttpRequest,
) -> Result<web::Json<Vec<UserOut>>, Problem> {
    let q: UserSearch = crate::error::query(&req)?;
    let found = user::search(
        &st.store.db,
        &admin.tenant,
        q.q.as_deref(),
        q.limit.unwrap_or(100),
    )
    .await?;
    Ok(web::Json(
        found
            .into_iter()
            .map(|u| UserOut {
                id: u.id,
                email: u.email,
                name: u.name,
                active: u.active,
                connection_id: u.connection_id,
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    pub tokens_revoked: u64,
}

/// Revokes every session, grant and token of one user, at once on every node.
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("user_id" = String, Path)),
    responses(
        (status = 200, body = Revoked),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tenants/{tenant}/users/{user_id}/revoke")]
pub async fn revoke_user(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<Revoked>, Problem> {
    use app::users::revoke::{all_of_user, RevokeError};
    let n = all_of_user(&st.store, st.clock.as_ref(), &admin.principal(), &path.1)
        .await
        .map_err(|e| match e {
            RevokeError::UnknownUser(e) | RevokeError::Core(e) => e,
            RevokeError::UnknownSession => authz_core::CoreError::NotFound("session"),
        })?;
    Ok(web::Json(Revoked { tokens_revoked: n }))
}

pub use app::manage::scim_token::ScimTokenView as ScimTokenOut;

/// The tenant's SCIM tokens (never their secrets).
#[utoipa::path(
    operation_id = "scim-token.list",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, body = [ScimTokenOut]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/scim-tokens")]
pub async fn list_scim_tokens(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
) -> Result<web::Json<Vec<ScimTokenOut>>, Problem> {
    let all = app::manage::scim_token::list(&st.store.db, st.clock.as_ref(), &admin.tenant).await?;
    Ok(web::Json(all))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScimToken {
    pub name: String,
    /// Lifetime in days (1-366, default 90).
    pub expires_in_days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedScimToken {
    #[serde(flatten)]
    pub token: ScimTokenOut,
    /// The bearer token for the IdP: shown this once, never stored.
    pub secret: String,
}

/// Creates a SCIM token; the secret is in this response only.
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = NewScimToken,
    responses(
        (status = 201, body = CreatedScimToken),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tenants/{tenant}/scim-tokens")]
pub async fn create_scim_token(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let body: NewScimToken = crate::error::json(&body)?;
    let days = body.expires_in_days.unwrap_or(90);
    if !(1..=366).contains(&days) {
        return Err(Problem::invalid(
            "expires_in_days must be between 1 and 366",
        ));
    }
    let (tok, secret) = scim_token::create_by(
        &st.store,
        st.clock.as_ref(),
        &admin.tenant,
        &body.name,
        days * 86_400,
        &admin.actor(),
    )
    .await?;
    Ok(HttpResponse::Created().json(CreatedScimToken {
        token: ScimTokenOut::new(&tok, st.clock.now_us()),
        secret,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditSearch {
    /// RFC 3339; records at or after it.
    pub from: Option<String>,
    /// RFC 3339; records before it.
    pub to: Option<String>,
    pub user: Option<String>,
    pub client: Option<String>,
    /// An action (`token.revoked`) or its prefix (`token.`).
    pub action: Option<String>,
    /// `success`, `failure`, `error` or `denied`.
    pub result: Option<String>,
    /// Tool calls of this tool (`tool.called` records whose tool is this name).
    pub tool: Option<String>,
    /// Records older than this record id (the next page).
    pub before: Option<i64>,
    /// At most this many (1-500, default 100).
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    /// Position in the tenant's hash chain, once sealed.
    pub seq: Option<i64>,
    pub hash: Option<String>,
    pub occurred_at: String,
    pub action: String,
    pub result: String,
    pub actor: Option<String>,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub session_id: Option<String>,
    pub resource: Option<String>,
    pub scope: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// Searches the tenant's audit log, newest first.
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), AuditSearch),
    responses(
        (status = 200, body = [AuditRecord]),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/audit/events")]
pub async fn search_audit(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    req: actix_web::HttpRequest,
) -> Result<web::Json<Vec<AuditRecord>>, Problem> {
    let q: AuditSearch = crate::error::query(&req)?;
    let query = AuditQuery {
        from_us: parse_time("from", &q.from)?,
        to_us: parse_time("to", &q.to)?,
        user_id: q.user.clone(),
        client_id: q.client.clone(),
        action_prefix: q.action.clone(),
        result: q.result.clone(),
        tool: q.tool.clone(),
        before_id: q.before,
        limit: q.limit.unwrap_or(100),
    };
    let rows = search(&st.store.db, &admin.tenant, &query).await?;
    Ok(web::Json(rows.into_iter().map(audit_record).collect()))
}

/// A record as the admin API shows it: the record, and its place in the chain once sealed.
fn audit_record(l: authz_core::audit::search::Listed) -> AuditRecord {
    let (r, seq, hash) = (l.record, l.seq, l.hash);
    AuditRecord {
        id: r.id,
        seq,
        hash,
        occurred_at: rfc3339(r.occurred_at),
        action: r.action,
        result: r.result,
        actor: r.actor,
        user_id: r.user_id,
        client_id: r.client_id,
        session_id: r.session_id,
        resource: r.resource,
        scope: r.scope,
        source_ip: r.source_ip,
        user_agent: r.user_agent,
        details: serde_json::from_str(&r.details).unwrap_or(serde_json::Value::Null),
    }
}

/// Revokes every grant and token one MCP client holds in this tenant, at once on every node.
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("client_id" = String, Path)),
    responses(
        (status = 200, body = Revoked),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tenants/{tenant}/clients/{client_id}/revoke")]
pub async fn revoke_client(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<Revoked>, Problem> {
    let n = authz_core::token::revoke::revoke_client_in_tenant(
        &st.store,
        st.clock.as_ref(),
        &admin.tenant,
        &path.1,
        &admin.actor(),
    )
    .await?;
    Ok(web::Json(Revoked { tokens_revoked: n }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppOut {
    pub client_id: String,
    /// The resource (MCP server) URI.
    pub resource: String,
    pub scopes: Vec<String>,
    pub granted_at: String,
}

/// The applications (MCP clients) one user has consented to, per resource.
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("user_id" = String, Path)),
    responses(
        (status = 200, body = [AppOut]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/users/{user_id}/apps")]
pub async fn list_user_apps(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<Vec<AppOut>>, Problem> {
    let u = user::get(&st.store.db, &admin.tenant, &path.1).await?;
    let apps = authz_core::consent::list_for_user(&st.store.db, &admin.tenant, &u.id).await?;
    let mut out = Vec::with_capacity(apps.len());
    for a in apps {
        let res = authz_core::resource::get(&st.store.db, &a.resource_id).await?;
        out.push(AppOut {
            client_id: a.client_id,
            resource: res.uri,
            scopes: a.scopes,
            granted_at: rfc3339(a.granted_at),
        });
    }
    Ok(web::Json(out))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppRef {
    pub client_id: String,
    /// The resource (MCP server) URI.
    pub resource: String,
}

/// Revokes one user's consent to one application, and the tokens issued under it.
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("user_id" = String, Path)),
    request_body = AppRef,
    responses(
        (status = 200, body = Revoked),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tenants/{tenant}/users/{user_id}/apps/revoke")]
pub async fn revoke_user_app(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<web::Json<Revoked>, Problem> {
    let body: AppRef = crate::error::json(&body)?;
    let u = user::get(&st.store.db, &admin.tenant, &path.1).await?;
    let res = authz_core::resource::find_by_uri(&st.store.db, &body.resource)
        .await?
        .ok_or(authz_core::CoreError::NotFound("resource"))?;
    let n = authz_core::consent::revoke_app(
        &st.store,
        st.clock.as_ref(),
        &admin.tenant,
        &u.id,
        &body.client_id,
        &res.id,
        &admin.actor(),
    )
    .await?;
    Ok(web::Json(Revoked { tokens_revoked: n }))
}
