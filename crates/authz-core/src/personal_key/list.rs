//! Reading keys: the person's own (the account page) and the tenant's (the admin's list). The
//! status comes from the grant family (revoked, or past its end), never from the metadata row,
//! so every revocation path shows up here without knowing about keys.
use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::clock::Clock;
use crate::entities::{grant_families, personal_api_keys};
use crate::error::{CoreError, CoreResult};
use crate::resource::{self, Resource};
use crate::tenant::TenantId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Active,
    Revoked,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
        }
    }
}

/// A key as lists show it (never its secret).
#[derive(Clone, Debug)]
pub struct PersonalKey {
    /// The grant family's id (introspection's `key_id`).
    pub id: String,
    pub tenant: TenantId,
    pub user_id: String,
    pub resource_id: String,
    pub resource_uri: String,
    pub resource_name: String,
    pub name: String,
    pub client_label: String,
    pub display_prefix: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub status: Status,
}

impl PersonalKey {
    pub(super) fn from_parts(
        m: personal_api_keys::Model,
        res: &Resource,
        scopes: Vec<String>,
        revoked_at: Option<i64>,
        status: Status,
    ) -> Self {
        PersonalKey {
            id: m.id,
            tenant: TenantId::from_stored(m.tenant_id),
            user_id: m.user_id,
            resource_id: m.resource_id,
            resource_uri: res.uri.clone(),
            resource_name: res.display_name.clone(),
            name: m.name,
            client_label: m.client_label,
            display_prefix: m.display_prefix,
            scopes,
            created_at: m.created_at,
            expires_at: m.expires_at,
            last_used_at: m.last_used_at,
            revoked_at,
            status,
        }
    }
}

/// Joins metadata rows with their families (status, scopes) and resources (names).
async fn assemble<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    rows: Vec<personal_api_keys::Model>,
) -> CoreResult<Vec<PersonalKey>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let families: HashMap<String, grant_families::Model> = grant_families::Entity::find()
        .filter(grant_families::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|f| (f.id.clone(), f))
        .collect();
    let mut resources: HashMap<String, Resource> = HashMap::new();
    let now = clock.now_us();
    let mut out = Vec::with_capacity(rows.len());
    for m in rows {
        let Some(f) = families.get(&m.id) else {
            continue;
        };
        if !resources.contains_key(&m.resource_id) {
            let r = resource::get(conn, &m.resource_id).await?;
            resources.insert(m.resource_id.clone(), r);
        }
        let res = &resources[&m.resource_id];
        let status = match f.revoked_at {
            Some(_) => Status::Revoked,
            None if f.expires_at <= now => Status::Expired,
            None => Status::Active,
        };
        let scopes = crate::scope::split(&f.scopes);
        out.push(PersonalKey::from_parts(
            m,
            res,
            scopes,
            f.revoked_at,
            status,
        ));
    }
    Ok(out)
}

/// The person's keys, newest first.
pub async fn list_for_user<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    user_id: &str,
) -> CoreResult<Vec<PersonalKey>> {
    let rows = personal_api_keys::Entity::find()
        .filter(personal_api_keys::Column::TenantId.eq(tenant.to_string()))
        .filter(personal_api_keys::Column::UserId.eq(user_id))
        .order_by_desc(personal_api_keys::Column::CreatedAt)
        .all(conn)
        .await?;
    assemble(conn, clock, rows).await
}

/// Every key of the tenant, newest first (the admin's list).
pub async fn list_for_tenant<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
) -> CoreResult<Vec<PersonalKey>> {
    let rows = personal_api_keys::Entity::find()
        .filter(personal_api_keys::Column::TenantId.eq(tenant.to_string()))
        .order_by_desc(personal_api_keys::Column::CreatedAt)
        .all(conn)
        .await?;
    assemble(conn, clock, rows).await
}

/// One key of the tenant (of `user_id`, when given); another tenant's or person's key is not
/// found.
pub async fn get<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    user_id: Option<&str>,
    id: &str,
) -> CoreResult<PersonalKey> {
    let mut q = personal_api_keys::Entity::find()
        .filter(personal_api_keys::Column::Id.eq(id))
        .filter(personal_api_keys::Column::TenantId.eq(tenant.to_string()));
    if let Some(u) = user_id {
        q = q.filter(personal_api_keys::Column::UserId.eq(u));
    }
    let rows: Vec<_> = q.all(conn).await?;
    assemble(conn, clock, rows)
        .await?
        .pop()
        .ok_or(CoreError::NotFound("API key"))
}
