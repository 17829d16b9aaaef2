//! The end of a connection's test sign-in (started from the console): the claims as Gatehouse
//! received and normalised them. No user is created and no session started; the test is
//! audited (`connection.tested`).
use authz_core::audit::{self, AuditEvent};
use authz_core::connection::Connection;
use authz_core::login::{self, LoginTx};
use authz_core::user::FederatedIdentity;
use authz_core::{tenant, TenantId};

use super::{Env, SignInError, Visitor};

/// What the test result page shows.
#[derive(Debug)]
pub struct Tested {
    pub connection_name: String,
    pub protocol: String,
    /// The tenant's console slug (the page links back to the console).
    pub slug: String,
    pub identity: FederatedIdentity,
}

/// Consumes the test transaction and audits the test; returns the claims to show.
pub async fn record(
    env: &Env<'_>,
    visitor: &Visitor,
    tx: &LoginTx,
    t: &TenantId,
    conn: &Connection,
    identity: FederatedIdentity,
) -> Result<Tested, SignInError> {
    let txn = env.store.begin().await?;
    login::consume(&txn, env.clock, tx).await?;
    audit::record(
        &txn,
        env.clock,
        AuditEvent::new(Some(t), "connection.tested")
            .source(Some(visitor.audit_ip()), visitor.user_agent.clone())
            .detail("connection_id", conn.id.as_str())
            .detail("subject", identity.subject.as_str())
            .detail("email", identity.email.clone())
            .detail("groups", identity.groups.clone()),
    )
    .await?;
    txn.commit().await?;
    let slug = tenant::get(env.db(), t).await?.slug;
    Ok(Tested {
        connection_name: conn.name.clone(),
        protocol: conn.kind.clone(),
        slug,
        identity,
    })
}
