//! The console's home page: the organisation at a glance and what is left to set up.
use authz_core::admin::domain::{self, Domain};
use authz_core::connection::{self, Connection};
use authz_core::grant::{self, Grant};
use authz_core::scim_token::{self, ScimToken};
use authz_core::CoreResult;
use sea_orm::DatabaseConnection;

use crate::connection::ConnectionActor;

pub enum Overview {
    /// A setup session sees the connections only, and counts the pending ones it added as
    /// enabled (they serve its own sign-in).
    Setup {
        connections: Vec<Connection>,
        mine_pending: usize,
    },
    Admin {
        connections: Vec<Connection>,
        domains: Vec<Domain>,
        scim_tokens: Vec<ScimToken>,
        grants: Vec<Grant>,
    },
}

/// What the overview shows to `by` (an admin or a setup session; never the operator).
pub async fn load(db: &DatabaseConnection, by: &ConnectionActor) -> CoreResult<Overview> {
    let t = by.tenant();
    let connections = connection::list(db, t).await?;
    if let ConnectionActor::Setup { invitation_id, .. } = by {
        let mine = connection::pending_for_invitation(db, t, invitation_id).await?;
        return Ok(Overview::Setup {
            connections,
            mine_pending: mine.len(),
        });
    }
    Ok(Overview::Admin {
        connections,
        domains: domain::list(db, t).await?,
        scim_tokens: scim_token::list(db, t).await?,
        grants: grant::list(db, t).await?,
    })
}
