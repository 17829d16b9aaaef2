//! Users, keyed by (connection, upstream subject). Email is an attribute, never a key: accounts
//! are not linked or looked up by email at sign-in (DESIGN §6.7).
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::clock::Clock;
use crate::entities::users;
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub tenant: TenantId,
    pub connection_id: String,
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub active: bool,
}

impl From<users::Model> for User {
    fn from(m: users::Model) -> Self {
        User {
            id: m.id,
            tenant: TenantId::from_stored(m.tenant_id),
            connection_id: m.connection_id,
            subject: m.subject,
            email: m.email,
            name: m.name,
            active: m.status == "active",
        }
    }
}

/// What an upstream IdP asserted about a person, normalised (the `FederatedIdentity` of DESIGN §2).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct FederatedIdentity {
    pub connection_id: String,
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// When the IdP authenticated the user (seconds), if it said so.
    pub auth_time: Option<i64>,
    /// Authentication context and methods the IdP reported (recorded, not trusted for policy).
    pub acr: Option<String>,
    pub amr: Vec<String>,
    /// Group ids the IdP asserted.
    pub groups: Vec<String>,
    /// The IdP had too many groups to list (Entra `_claim_names`): groups must come from SCIM.
    pub groups_overage: bool,
}

/// Finds the user for (connection, subject) or creates it (just-in-time), refreshing profile
/// attributes. Returns the user and whether it was created.
pub async fn upsert_federated<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &FederatedIdentity,
) -> CoreResult<(User, bool)> {
    upsert_linked(conn, clock, tenant, id, None).await
}

/// As [`upsert_federated`], also recording the identity's SCIM link and, when a SCIM user
/// matched it, the SCIM user (`directory::admission` decides whether the sign-in is allowed).
pub async fn upsert_linked<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &FederatedIdentity,
    link: Option<(&crate::directory::admission::Link, Option<&str>)>,
) -> CoreResult<(User, bool)> {
    let link_attr = link.map(|(l, _)| l.attr.to_string());
    let link_value = link.map(|(l, _)| l.value.clone());
    let scim_user_id = link.and_then(|(_, s)| s.map(str::to_string));
    let now = clock.now_us();
    let existing = users::Entity::find()
        .filter(users::Column::TenantId.eq(tenant.to_string()))
        .filter(users::Column::ConnectionId.eq(id.connection_id.clone()))
        .filter(users::Column::Subject.eq(id.subject.clone()))
        .one(conn)
        .await?;
    if let Some(m) = existing {
        if m.status != "active" {
            return Err(CoreError::invalid("this account is deactivated"));
        }
        let mut update = users::Entity::update_many();
        if link.is_some() {
            update = update
                .col_expr(users::Column::LinkAttr, link_attr.clone().into())
                .col_expr(users::Column::LinkValue, link_value.clone().into());
        }
        if scim_user_id.is_some() {
            update = update.col_expr(users::Column::ScimUserId, scim_user_id.clone().into());
        }
        update
            .col_expr(users::Column::Email, id.email.clone().into())
            .col_expr(
                users::Column::EmailLower,
                id.email.as_ref().map(|e| e.to_lowercase()).into(),
            )
            .col_expr(users::Column::Name, id.name.clone().into())
            .col_expr(users::Column::LastLoginAt, Some(now).into())
            .filter(users::Column::Id.eq(m.id.clone()))
            .filter(users::Column::TenantId.eq(tenant.to_string()))
            .exec(conn)
            .await?;
        let mut u = User::from(m);
        u.email = id.email.clone();
        u.name = id.name.clone();
        return Ok((u, false));
    }
    let m = users::Model {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant.to_string(),
        connection_id: id.connection_id.clone(),
        subject: id.subject.clone(),
        email: id.email.clone(),
        email_lower: id.email.as_ref().map(|e| e.to_lowercase()),
        name: id.name.clone(),
        status: "active".into(),
        created_at: now,
        last_login_at: Some(now),
        link_attr,
        link_value,
        scim_user_id,
    };
    users::Entity::insert(users::ActiveModel {
        id: Set(m.id.clone()),
        tenant_id: Set(m.tenant_id.clone()),
        connection_id: Set(m.connection_id.clone()),
        subject: Set(m.subject.clone()),
        email: Set(m.email.clone()),
        email_lower: Set(m.email_lower.clone()),
        name: Set(m.name.clone()),
        status: Set(m.status.clone()),
        created_at: Set(now),
        last_login_at: Set(Some(now)),
        link_attr: Set(m.link_attr.clone()),
        link_value: Set(m.link_value.clone()),
        scim_user_id: Set(m.scim_user_id.clone()),
    })
    // Two first sign-ins of one person racing (two tabs, two nodes): the loser finds the
    // winner's row instead of failing.
    .on_conflict(
        sea_orm::sea_query::OnConflict::columns([
            users::Column::ConnectionId,
            users::Column::Subject,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    let stored = users::Entity::find()
        .filter(users::Column::ConnectionId.eq(id.connection_id.clone()))
        .filter(users::Column::Subject.eq(id.subject.clone()))
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("user"))?;
    let created = stored.id == m.id;
    Ok((stored.into(), created))
}

/// The user of (connection, upstream subject) in `tenant`, if any.
pub async fn find_by_subject<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    connection_id: &str,
    subject: &str,
) -> CoreResult<Option<User>> {
    Ok(users::Entity::find()
        .filter(users::Column::TenantId.eq(tenant.to_string()))
        .filter(users::Column::ConnectionId.eq(connection_id))
        .filter(users::Column::Subject.eq(subject))
        .one(conn)
        .await?
        .map(User::from))
}

pub async fn get<C: ConnectionTrait>(conn: &C, tenant: &TenantId, id: &str) -> CoreResult<User> {
    users::Entity::find_by_id(id.to_string())
        .filter(users::Column::TenantId.eq(tenant.to_string()))
        .one(conn)
        .await?
        .map(User::from)
        .ok_or(CoreError::NotFound("user"))
}

/// Operator look-up by email (for `token revoke --user`): may match several accounts of the
/// tenant, one per connection.
pub async fn find_by_email<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    email: &str,
) -> CoreResult<Vec<User>> {
    Ok(users::Entity::find()
        .filter(users::Column::TenantId.eq(tenant.to_string()))
        .filter(users::Column::EmailLower.eq(email.trim().to_lowercase()))
        .all(conn)
        .await?
        .into_iter()
        .map(User::from)
        .collect())
}

/// A tenant's users for the admin's list: all, or those whose email or name contains `q`
/// (case-insensitively), by email; at most `limit`. The search is the directory's filter AST
/// ([`identity_text_search`](crate::directory::filter::identity_text_search): `email co q or
/// name co q`), translated like every other directory search.
pub async fn search<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    q: Option<&str>,
    limit: u64,
) -> CoreResult<Vec<User>> {
    let filter = crate::directory::filter::identity_text_search(q);
    search_by(conn, tenant, filter.as_ref(), limit).await
}

/// A tenant's users matching `search` (a filter over
/// [`directory::filter::identities`](crate::directory::filter::identities)), by email; at most
/// `limit`.
pub async fn search_by<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    search: Option<&crate::directory::filter::Filter>,
    limit: u64,
) -> CoreResult<Vec<User>> {
    use sea_orm::{QueryOrder, QuerySelect};
    let mut s = users::Entity::find().filter(users::Column::TenantId.eq(tenant.to_string()));
    if let Some(search) = search {
        s = s.filter(
            crate::directory::filter::identities()
                .to_condition(search)
                .map_err(|e| CoreError::invalid(e.detail().to_string()))?,
        );
    }
    Ok(s.order_by_asc(users::Column::EmailLower)
        .limit(limit.clamp(1, 500))
        .all(conn)
        .await?
        .into_iter()
        .map(User::from)
        .collect())
}
