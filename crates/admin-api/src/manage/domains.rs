//! A tenant's email domains: show, re-check verification, remove (list and add are in
//! `settings`).
use actix_web::{delete, get, patch, web, HttpRequest};
use app::manage::domain::{self, DomainView, Verification};
use app::manage::Removed;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{dry_run, RemoveQuery, RemovedOut};
use crate::auth::TenantAdmin;
use crate::console::dns::Resolver;
use crate::error::Problem;
use crate::AdminState;

/// One domain of the tenant, with the TXT record that verifies it.
#[utoipa::path(
    operation_id = "domain.show",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("domain" = String, Path)),
    responses(
        (status = 200, body = DomainView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/domains/{domain}")]
pub async fn get_domain(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<DomainView>, Problem> {
    Ok(web::Json(
        domain::show(&st.store.db, &admin.tenant, &path.1).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainChange {
    /// `true`: look up the TXT record now and mark the domain verified if it carries the token.
    pub verify: bool,
}

/// Re-checks a domain's verification by DNS (the TXT record at `txt_name`); 400, changing
/// nothing, when no record carries the token yet.
#[utoipa::path(
    operation_id = "domain.update",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("domain" = String, Path)),
    request_body = DomainChange,
    responses(
        (status = 200, body = DomainView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/tenants/{tenant}/domains/{domain}")]
pub async fn update_domain(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<web::Json<DomainView>, Problem> {
    let change: DomainChange = crate::error::json(&body)?;
    let d = domain::show(&st.store.db, &admin.tenant, &path.1).await?;
    if !change.verify || d.verified {
        return Ok(web::Json(d));
    }
    // The console's resolver when it is mounted (tests point it at their own server).
    let resolver = req
        .app_data::<web::Data<crate::console::ConsoleState>>()
        .map(|c| c.dns.clone())
        .unwrap_or_else(Resolver::system);
    let records = resolver.txt(&d.txt_name).await.unwrap_or_default();
    let (store, clock) = (&st.store, st.clock.as_ref());
    let how = Verification::Dns(records);
    let d = domain::update(store, clock, &admin.tenant, &path.1, how, &admin.actor()).await?;
    Ok(web::Json(d))
}

/// Removes a domain: people of that domain are no longer routed to this organisation by their
/// email. With `dry_run=true`, changes nothing.
#[utoipa::path(
    operation_id = "domain.remove",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("domain" = String, Path), RemoveQuery),
    responses(
        (status = 200, body = RemovedOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/tenants/{tenant}/domains/{domain}")]
pub async fn remove_domain(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<web::Json<Removed<DomainView>>, Problem> {
    let dry = dry_run(&req)?;
    let (store, clock) = (&st.store, st.clock.as_ref());
    let r = domain::remove(store, clock, &admin.tenant, &path.1, &admin.actor(), dry).await?;
    Ok(web::Json(r))
}
