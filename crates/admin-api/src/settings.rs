//! Tenant-admin endpoints for the organisation's own configuration, as the console offers it:
//! settings (within DESIGN §5's bounds), email domains (added unverified; DNS verification is
//! in the console, the override with the operator), and the MCP-client allow/block list.
use actix_web::{get, post, put, web, HttpResponse};
use authz_core::admin::client_policy::{self, Decision};
use authz_core::admin::{domain, settings};
use authz_core::client;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::TenantAdmin;
use crate::error::{json, Problem};
use crate::AdminState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    /// Routine access-token lifetime, minutes (5-60; default 60).
    pub routine_token_minutes: Option<i64>,
    /// Sensitive and critical access-token lifetime, minutes (5-15; default 15).
    pub sensitive_token_minutes: Option<i64>,
    /// Days before consent to sensitive or critical scopes is asked again (1-90; default 90).
    pub reconsent_days: Option<i64>,
    /// Years audit records are kept (1-7; default 1).
    pub audit_retention_years: Option<i64>,
    /// `open` (default) or `allowlist`.
    pub client_policy: Option<String>,
    /// Minutes after which a refresh asks the OIDC identity provider again whether the person
    /// may still sign in (0-1440, 0: every refresh; default 60).
    pub upstream_check_minutes: Option<i64>,
    /// Hours a refresh grant lives without a fresh sign-in when the identity provider cannot be
    /// asked (SAML, or OIDC without offline access) (1-720; default 24 without a live SCIM
    /// token, else no cap).
    pub reauth_after_hours: Option<i64>,
    /// Days a refresh grant lives at most (1-90; default 30).
    pub refresh_lifetime_days: Option<i64>,
    /// MCP gateway `tools/call`s per user and minute, by tier of the tool (1-100000 each;
    /// defaults routine 600, sensitive 120, critical 30).
    #[serde(default)]
    pub gateway_calls_per_minute: Option<GatewayCallsBody>,
    /// Whether members may create personal API keys for IDE clients (default false). Turning
    /// it off revokes every key of the tenant at once (each audited `api_key.revoked`).
    #[serde(default)]
    pub api_keys_enabled: Option<bool>,
    /// The longest life of a personal API key, days (1-90; default 30).
    #[serde(default)]
    pub api_key_max_days: Option<i64>,
    /// Seconds after a refresh token's rotation during which the same client presenting it
    /// again gets a new pair instead of having the grant revoked for reuse: a retry of a
    /// response it lost (0-60, 0: no grace; default 10).
    #[serde(default)]
    pub refresh_grace_seconds: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayCallsBody {
    pub routine: Option<i64>,
    pub sensitive: Option<i64>,
    pub critical: Option<i64>,
}

impl From<settings::TenantSettings> for SettingsBody {
    fn from(s: settings::TenantSettings) -> Self {
        SettingsBody {
            routine_token_minutes: s.routine_token_minutes,
            sensitive_token_minutes: s.sensitive_token_minutes,
            reconsent_days: s.reconsent_days,
            audit_retention_years: s.audit_retention_years,
            client_policy: s.client_policy,
            upstream_check_minutes: s.upstream_check_minutes,
            reauth_after_hours: s.reauth_after_hours,
            refresh_lifetime_days: s.refresh_lifetime_days,
            gateway_calls_per_minute: s.gateway_calls_per_minute.map(|g| GatewayCallsBody {
                routine: g.routine,
                sensitive: g.sensitive,
                critical: g.critical,
            }),
            api_keys_enabled: s.api_keys_enabled,
            api_key_max_days: s.api_key_max_days,
            refresh_grace_seconds: s.refresh_grace_seconds,
        }
    }
}

/// The tenant's settings (unset values take DESIGN §5's defaults).
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, body = SettingsBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/settings")]
pub async fn get_settings(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
) -> Result<web::Json<SettingsBody>, Problem> {
    Ok(web::Json(
        settings::get(&st.store.db, &admin.tenant).await?.into(),
    ))
}

/// Replaces the tenant's settings (audited with the old and new values).
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = SettingsBody,
    responses(
        (status = 200, body = SettingsBody),
        (status = 400, description = "A value outside its bounds", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/tenants/{tenant}/settings")]
pub async fn put_settings(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    body: web::Bytes,
) -> Result<web::Json<SettingsBody>, Problem> {
    let b: SettingsBody = json(&body)?;
    let s = settings::TenantSettings {
        routine_token_minutes: b.routine_token_minutes,
        sensitive_token_minutes: b.sensitive_token_minutes,
        reconsent_days: b.reconsent_days,
        audit_retention_years: b.audit_retention_years,
        client_policy: b.client_policy,
        upstream_check_minutes: b.upstream_check_minutes,
        reauth_after_hours: b.reauth_after_hours,
        refresh_lifetime_days: b.refresh_lifetime_days,
        gateway_calls_per_minute: b
            .gateway_calls_per_minute
            .map(|g| settings::GatewayCallLimits {
                routine: g.routine,
                sensitive: g.sensitive,
                critical: g.critical,
            }),
        api_keys_enabled: b.api_keys_enabled,
        api_key_max_days: b.api_key_max_days,
        refresh_grace_seconds: b.refresh_grace_seconds,
    };
    settings::set(
        &st.store,
        st.clock.as_ref(),
        &admin.tenant,
        &s,
        &admin.actor(),
    )
    .await?;
    Ok(web::Json(s.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DomainOut {
    pub domain: String,
    pub verified: bool,
    /// Where the verification record goes (unverified domains).
    pub txt_name: Option<String>,
    /// The TXT record value that verifies the domain.
    pub txt_value: Option<String>,
}

impl From<domain::Domain> for DomainOut {
    fn from(d: domain::Domain) -> Self {
        DomainOut {
            txt_name: (!d.verified).then(|| domain::challenge_name(&d.domain)),
            txt_value: if d.verified { None } else { d.txt_value() },
            verified: d.verified,
            domain: d.domain,
        }
    }
}

/// The tenant's email domains.
#[utoipa::path(
    operation_id = "domain.list",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, body = [DomainOut]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/domains")]
pub async fn list_domains(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
) -> Result<web::Json<Vec<DomainOut>>, Problem> {
    Ok(web::Json(
        domain::list(&st.store.db, &admin.tenant)
            .await?
            .into_iter()
            .map(DomainOut::from)
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDomain {
    pub domain: String,
}

/// Adds an unverified domain; the answer carries the TXT record that verifies it.
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = NewDomain,
    responses(
        (status = 201, body = DomainOut),
        (status = 400, description = "Not a domain, or a consumer mail domain", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Registered already (by this or another tenant)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tenants/{tenant}/domains")]
pub async fn add_domain(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let b: NewDomain = json(&body)?;
    let d = domain::add(
        &st.store,
        st.clock.as_ref(),
        &admin.tenant,
        &b.domain,
        &admin.actor(),
    )
    .await?;
    Ok(HttpResponse::Created().json(DomainOut::from(d)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantClientOut {
    pub client_id: String,
    pub client_name: String,
    /// `preregistered`, `dcr` or `cimd`.
    pub registration: String,
    pub redirect_uris: Vec<String>,
    /// `allow`, `block`, or `null` (no decision: the tenant's client policy applies).
    pub decision: Option<String>,
}

/// The MCP clients the tenant sees: pre-registered ones, those its users used, those it decided
/// about.
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, body = [TenantClientOut]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/clients")]
pub async fn list_tenant_clients(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
) -> Result<web::Json<Vec<TenantClientOut>>, Problem> {
    let decisions: std::collections::HashMap<String, Decision> =
        client_policy::list(&st.store.db, &admin.tenant)
            .await?
            .into_iter()
            .collect();
    Ok(web::Json(
        client::list_for_tenant(&st.store.db, &admin.tenant)
            .await?
            .into_iter()
            .map(|c| TenantClientOut {
                decision: decisions.get(&c.client_id).map(|d| d.as_str().to_string()),
                registration: c.kind.as_str().into(),
                client_id: c.client_id,
                client_name: c.client_name,
                redirect_uris: c.redirect_uris,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    /// `allow`, `block` (its grants and tokens in the tenant are revoked at once) or `clear`.
    pub decision: String,
}

/// Allows, blocks, or clears the tenant's decision about a client.
#[utoipa::path(
    tag = "tenant",
    security(("bearer" = [])),
    params(
        ("tenant" = String, Path, description = "Tenant slug"),
        ("client_id" = String, Path, description = "The client"),
    ),
    request_body = PolicyBody,
    responses(
        (status = 204, description = "Recorded"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown client", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/tenants/{tenant}/clients/{client_id}/policy")]
pub async fn set_client_policy(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let b: PolicyBody = json(&body)?;
    let decision = match b.decision.as_str() {
        "clear" => None,
        d => Some(Decision::parse(d)?),
    };
    client_policy::set(
        &st.store,
        st.clock.as_ref(),
        &admin.tenant,
        &path.1,
        decision,
        &admin.actor(),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
