//! One user's page: who they are, whether they are an admin, their connected apps (with when
//! each was last used) and their live browser sessions.
use authz_core::admin::role::{self, AdminVia};
use authz_core::clock::Clock;
use authz_core::connection::{self, Connection};
use authz_core::consent::{self, UserApp};
use authz_core::session::{self, SessionInfo};
use authz_core::user::{self, User};
use authz_core::CoreError;
use sea_orm::DatabaseConnection;

use crate::principal::TenantAdmin;

pub struct UserPage {
    pub user: User,
    pub apps: Vec<UserApp>,
    /// The tenant's connections (to name the user's and each session's).
    pub connections: Vec<Connection>,
    pub sessions: Vec<SessionInfo>,
    /// Why the user is an admin, if they are (explicitly, or by the admin group).
    pub admin: Option<AdminVia>,
}

/// Why the page cannot be shown.
#[derive(Debug)]
pub enum UserPageError {
    /// No such user in the tenant.
    UnknownUser,
    Core(CoreError),
}

impl From<CoreError> for UserPageError {
    fn from(e: CoreError) -> Self {
        UserPageError::Core(e)
    }
}

pub async fn load(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    admin: &TenantAdmin,
    user_id: &str,
) -> Result<UserPage, UserPageError> {
    let t = admin.tenant();
    let user = user::get(db, t, user_id)
        .await
        .map_err(|e| e.unless_unavailable(UserPageError::UnknownUser))?;
    let apps = consent::apps_of_user(db, t, &user.id).await?;
    let connections = connection::list(db, t).await?;
    let sessions = session::list_for_user(db, clock, t, &user.id).await?;
    let admin = role::admin_via(db, t, &user.id, &[]).await?;
    Ok(UserPage {
        user,
        apps,
        connections,
        sessions,
        admin,
    })
}
