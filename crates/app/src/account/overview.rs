//! What the account page shows: the person, their organisation and the applications they
//! allowed, with when each was allowed and last used.
use authz_core::{client, consent, resource, user, CoreError, Store};

use crate::SignedInUser;

#[derive(Debug)]
pub struct Overview {
    pub org_name: String,
    /// The person's name, else their email, else their subject.
    pub name: String,
    pub email: Option<String>,
    pub apps: Vec<ConnectedApp>,
}

/// An application the person allowed at one resource.
#[derive(Debug)]
pub struct ConnectedApp {
    pub client_id: String,
    /// The client's name, or its id where the client is gone.
    pub client_name: String,
    pub resource_id: String,
    pub resource_name: String,
    pub scopes: Vec<String>,
    /// µs since the epoch.
    pub granted_at: i64,
    /// µs since the epoch, if a token was ever used.
    pub last_used: Option<i64>,
}

pub async fn overview(store: &Store, user: &SignedInUser) -> Result<Overview, CoreError> {
    let db = &store.db;
    let (tenant, user_id) = (user.tenant(), user.user_id());
    let u = user::get(db, tenant, user_id).await?;
    let mut apps = Vec::new();
    for a in consent::list_for_user(db, tenant, user_id).await? {
        let client_name = client::get(db, &a.client_id)
            .await?
            .map(|c| c.client_name)
            .unwrap_or_else(|| a.client_id.clone());
        let res = resource::get(db, &a.resource_id).await?;
        let last_used =
            consent::last_used(db, tenant, user_id, &a.client_id, &a.resource_id).await?;
        apps.push(ConnectedApp {
            client_id: a.client_id,
            client_name,
            resource_id: a.resource_id,
            resource_name: res.display_name,
            scopes: a.scopes,
            granted_at: a.granted_at,
            last_used,
        });
    }
    Ok(Overview {
        org_name: authz_core::tenant::get(db, tenant).await?.name,
        name: u.name.or(u.email.clone()).unwrap_or(u.subject),
        email: u.email,
        apps,
    })
}
