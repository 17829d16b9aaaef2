//! The end of a connection's test sign-in (started from the console): the claims as received,
//! no user created, no session started.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use authz_core::{connection, login, tenant};
use minijinja::context;

use crate::pages::PageError;
use crate::state::AppState;

/// The end of a test sign-in: the claims as Gatehouse received and normalised them. No user is
/// created and no session started; the test is audited.
pub async fn test_result(
    state: &AppState,
    req: &HttpRequest,
    tx: &login::LoginTx,
    t: &authz_core::TenantId,
    conn: &connection::Connection,
    identity: &authz_core::user::FederatedIdentity,
) -> Result<HttpResponse, PageError> {
    use authz_core::audit::{self, AuditEvent};
    let clock = state.clock.as_ref();
    let txn = state.store.begin().await.map_err(PageError::internal)?;
    login::consume(&txn, clock, tx).await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(t), "connection.tested")
            .source(
                Some(crate::params::peer_ip(req)),
                crate::params::user_agent(req),
            )
            .detail("connection_id", conn.id.as_str())
            .detail("subject", identity.subject.as_str())
            .detail("email", identity.email.clone())
            .detail("groups", identity.groups.clone()),
    )
    .await?;
    txn.commit().await.map_err(PageError::internal)?;
    let tenant_row = tenant::get(&state.store.db, t).await?;
    let claims = serde_json::to_string_pretty(identity).unwrap_or_default();
    Ok(state.templates.page(
        StatusCode::OK,
        "admin_test.html",
        context! {
            connection_name => conn.name,
            protocol => conn.kind,
            slug => tenant_row.slug,
            subject => identity.subject,
            email => identity.email,
            name => identity.name,
            groups => identity.groups,
            auth_time => identity.auth_time,
            claims => claims,
        },
    ))
}
