//! A tenant's admin invitations: list, show, extend and remove (withdraw). Inviting is the
//! operator's endpoint and the console's.
use actix_web::{delete, get, patch, web, HttpRequest};
use app::manage::invitation::{self, InvitationChange, InvitationView};
use app::manage::Removed;

use super::{dry_run, RemoveQuery, RemovedOut};
use crate::auth::TenantAdmin;
use crate::error::Problem;
use crate::AdminState;

/// One admin invitation.
#[utoipa::path(
    operation_id = "invitation.show",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("invitation_id" = String, Path)),
    responses(
        (status = 200, body = InvitationView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/invitations/{invitation_id}")]
pub async fn get_invitation(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<InvitationView>, Problem> {
    let t = invitation::show(&st.store.db, st.clock.as_ref(), &admin.tenant, &path.1).await?;
    Ok(web::Json(t))
}

/// Changes an invitation: `{"extend": true}` gives a never-accepted invitation seven days from
/// now (the link already mailed works again).
#[utoipa::path(
    operation_id = "invitation.update",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("invitation_id" = String, Path)),
    request_body = InvitationChange,
    responses(
        (status = 200, body = InvitationView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/tenants/{tenant}/invitations/{invitation_id}")]
pub async fn update_invitation(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<web::Json<InvitationView>, Problem> {
    let change: InvitationChange = crate::error::json(&body)?;
    let (store, clock) = (&st.store, st.clock.as_ref());
    let t = invitation::update(
        store,
        clock,
        &admin.tenant,
        &path.1,
        &change,
        &admin.actor(),
    )
    .await?;
    Ok(web::Json(t))
}

/// Removes (withdraws) an invitation: its link and any setup session stop at once. With
/// `dry_run=true`, says what it would stop and changes nothing.
#[utoipa::path(
    operation_id = "invitation.remove",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug"), ("invitation_id" = String, Path), RemoveQuery),
    responses(
        (status = 200, body = RemovedOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/tenants/{tenant}/invitations/{invitation_id}")]
pub async fn remove_invitation(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<web::Json<Removed<InvitationView>>, Problem> {
    let dry = dry_run(&req)?;
    let (store, clock) = (&st.store, st.clock.as_ref());
    let r = invitation::remove(store, clock, &admin.tenant, &path.1, &admin.actor(), dry).await?;
    Ok(web::Json(r))
}

/// The tenant's admin invitations, newest first.
#[utoipa::path(
    operation_id = "invitation.list",
    tag = "tenant",
    security(("bearer" = [])),
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, body = [InvitationView]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tenants/{tenant}/invitations")]
pub async fn list_invitations(
    admin: TenantAdmin,
    st: web::Data<AdminState>,
) -> Result<web::Json<Vec<InvitationView>>, Problem> {
    let all = invitation::list(&st.store.db, st.clock.as_ref(), &admin.tenant).await?;
    Ok(web::Json(all))
}
