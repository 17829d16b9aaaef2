//! Human-readable names for the ids in audit records (issue 16 §3): a person by email and
//! name, a client by name and redirect host, an admin actor (`admin:<user id>`) by email. The
//! record keeps the ids (they are what the chain signs); the console shows the names, and the
//! ids only in a record's detail view. One query per kind for a page of records.
use std::collections::{HashMap, HashSet};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::entities::{admin_invitations, clients, users};
use crate::error::CoreResult;
use crate::tenant::TenantId;

#[derive(Debug, Default)]
pub struct Names {
    users: HashMap<String, String>,
    clients: HashMap<String, String>,
    /// Invitation id → the invited email (a setup session acts as `invitation:<id>`).
    invitations: HashMap<String, String>,
}

impl Names {
    /// "Name <email>", the email, or the name; `None` for an unknown id.
    pub fn user(&self, id: &str) -> Option<&str> {
        self.users.get(id).map(String::as_str)
    }

    /// "Client name (host)"; `None` for an unknown id.
    pub fn client(&self, id: &str) -> Option<&str> {
        self.clients.get(id).map(String::as_str)
    }

    /// An actor with a person behind it (`admin:<id>`, `user:<id>`) as "admin alice@…";
    /// other actors (`operator`, `operator-key:…`, `scim-token:…`) as they are.
    pub fn actor(&self, actor: &str) -> String {
        match actor.split_once(':') {
            Some((kind @ ("admin" | "user"), id)) => match self.user(id) {
                Some(who) => format!("{kind} {who}"),
                None => actor.to_string(),
            },
            Some(("invitation", id)) => match self.invitations.get(id) {
                Some(email) => format!("setup session of {email}"),
                None => actor.to_string(),
            },
            _ => actor.to_string(),
        }
    }
}

fn person_id(actor: &str) -> Option<&str> {
    match actor.split_once(':') {
        Some(("admin" | "user", id)) => Some(id),
        _ => None,
    }
}

/// The names of the people and clients `records` mention, within `tenant` (people) and among
/// the clients (global).
pub async fn resolve<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    records: &[super::search::Listed],
) -> CoreResult<Names> {
    let mut user_ids: HashSet<String> = HashSet::new();
    let mut client_ids: HashSet<String> = HashSet::new();
    let mut invitation_ids: HashSet<String> = HashSet::new();
    for r in records {
        if let Some(("invitation", id)) = r.actor.as_deref().and_then(|a| a.split_once(':')) {
            invitation_ids.insert(id.to_string());
        }
        user_ids.extend(r.user_id.clone());
        user_ids.extend(r.actor.as_deref().and_then(person_id).map(str::to_string));
        client_ids.extend(r.client_id.clone());
    }
    let mut names = Names::default();
    if !user_ids.is_empty() {
        let rows: Vec<(String, Option<String>, Option<String>)> = users::Entity::find()
            .select_only()
            .columns([users::Column::Id, users::Column::Email, users::Column::Name])
            .filter(users::Column::TenantId.eq(tenant.to_string()))
            .filter(users::Column::Id.is_in(user_ids))
            .into_tuple()
            .all(conn)
            .await?;
        for (id, email, name) in rows {
            let label = match (name, email) {
                (Some(n), Some(e)) if !n.is_empty() => format!("{n} <{e}>"),
                (_, Some(e)) => e,
                (Some(n), None) => n,
                (None, None) => continue,
            };
            names.users.insert(id, label);
        }
    }
    if !invitation_ids.is_empty() {
        let rows: Vec<(String, String)> = admin_invitations::Entity::find()
            .select_only()
            .columns([
                admin_invitations::Column::Id,
                admin_invitations::Column::EmailLower,
            ])
            .filter(admin_invitations::Column::TenantId.eq(tenant.to_string()))
            .filter(admin_invitations::Column::Id.is_in(invitation_ids))
            .into_tuple()
            .all(conn)
            .await?;
        names.invitations.extend(rows);
    }
    if !client_ids.is_empty() {
        let rows: Vec<(String, String, String)> = clients::Entity::find()
            .select_only()
            .columns([
                clients::Column::ClientId,
                clients::Column::ClientName,
                clients::Column::RedirectUris,
            ])
            .filter(clients::Column::ClientId.is_in(client_ids))
            .into_tuple()
            .all(conn)
            .await?;
        for (id, name, redirects) in rows {
            let host = serde_json::from_str::<Vec<String>>(&redirects)
                .ok()
                .and_then(|r| r.into_iter().next())
                .and_then(|u| url::Url::parse(&u).ok())
                .and_then(|u| u.host_str().map(str::to_string));
            let label = match host {
                Some(h) => format!("{name} ({h})"),
                None => name,
            };
            names.clients.insert(id, label);
        }
    }
    Ok(names)
}
