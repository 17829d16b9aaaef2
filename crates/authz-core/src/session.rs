//! Gatehouse's own sign-in session, so a repeated authorization does not send the user upstream
//! again while it lives. The cookie carries a random value; the store keeps its hash.
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, NotSet, QueryFilter, QuerySelect, Set};

use crate::clock::{Clock, MICROS};
use crate::crypto::{random_token, sha256_hex};
use crate::entities::browser_sessions;
use crate::error::CoreResult;
use crate::tenant::TenantId;

/// The name of a browser cookie: with the `__Host-` prefix when the issuer is https, so that a
/// sibling subdomain cannot set it (no `Domain`, `Secure`, `Path=/`: RFC 6265bis §4.1.3.2;
/// review F8). Plain names on an http (development) issuer, where browsers refuse the prefix.
pub fn cookie_name(base: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// Sign-in sessions last 8 hours.
pub const SESSION_SECS: i64 = 8 * 3600;

#[derive(Clone, Debug)]
pub struct Session {
    /// Public identifier (hash of the cookie value), carried into tokens and audit.
    pub id: String,
    pub tenant: TenantId,
    pub user_id: String,
    pub connection_id: String,
    pub auth_time: i64,
    /// Began with an unsolicited (IdP-initiated) SAML response rather than a sign-in the person
    /// started on a Gatehouse page: never used to authorize a client silently (review F1).
    pub idp_initiated: bool,
}

/// How a session began, as the IdP reported it.
#[derive(Clone, Debug, Default)]
pub struct Origin<'a> {
    pub auth_time: i64,
    pub acr: Option<&'a str>,
    pub amr: &'a [String],
    pub idp_initiated: bool,
}

pub async fn create<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    user_id: &str,
    connection_id: &str,
    auth_time: i64,
) -> CoreResult<(String, Session)> {
    let origin = Origin {
        auth_time,
        ..Default::default()
    };
    create_with_context(conn, clock, tenant, user_id, connection_id, &origin).await
}

/// Starts a session recording the authentication context the IdP reported (DESIGN §5
/// step-up: the session's `auth_time` decides whether critical scopes may be issued).
pub async fn create_with_context<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    user_id: &str,
    connection_id: &str,
    origin: &Origin<'_>,
) -> CoreResult<(String, Session)> {
    let secret = random_token();
    let id = sha256_hex(&secret);
    let now = clock.now_us();
    browser_sessions::Entity::insert(browser_sessions::ActiveModel {
        id_hash: Set(id.clone()),
        tenant_id: Set(tenant.to_string()),
        user_id: Set(user_id.to_string()),
        connection_id: Set(connection_id.to_string()),
        auth_time: Set(origin.auth_time),
        created_at: Set(now),
        expires_at: Set(now + SESSION_SECS * MICROS),
        revoked_at: Set(None),
        acr: Set(origin.acr.map(str::to_string)),
        amr: Set((!origin.amr.is_empty()).then(|| origin.amr.join(" "))),
        idp_initiated: Set(origin.idp_initiated),
        idp_groups: NotSet,
    })
    .exec_without_returning(conn)
    .await?;
    Ok((
        secret,
        Session {
            id,
            tenant: tenant.clone(),
            user_id: user_id.to_string(),
            connection_id: connection_id.to_string(),
            auth_time: origin.auth_time,
            idp_initiated: origin.idp_initiated,
        },
    ))
}

/// The live session behind a cookie value, if any.
pub async fn find_active<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    cookie: &str,
) -> CoreResult<Option<Session>> {
    find_by_id(conn, clock, &sha256_hex(cookie)).await
}

/// A live session by its public id (the hash of its cookie value).
pub async fn find_by_id<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    id: &str,
) -> CoreResult<Option<Session>> {
    let m = browser_sessions::Entity::find_by_id(id.to_string())
        .filter(browser_sessions::Column::RevokedAt.is_null())
        .filter(browser_sessions::Column::ExpiresAt.gt(clock.now_us()))
        .one(conn)
        .await?;
    Ok(m.map(|m| Session {
        id: m.id_hash,
        tenant: TenantId::from_stored(m.tenant_id),
        user_id: m.user_id,
        connection_id: m.connection_id,
        auth_time: m.auth_time,
        idp_initiated: m.idp_initiated,
    }))
}

pub async fn revoke_for_user<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    user_id: &str,
) -> CoreResult<u64> {
    Ok(browser_sessions::Entity::update_many()
        .col_expr(
            browser_sessions::Column::RevokedAt,
            Some(clock.now_us()).into(),
        )
        .filter(browser_sessions::Column::TenantId.eq(tenant.to_string()))
        .filter(browser_sessions::Column::UserId.eq(user_id))
        .filter(browser_sessions::Column::RevokedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected)
}

/// Did the user authenticate at the IdP within the step-up window (DESIGN §5)?
pub fn is_fresh(session: &Session, now_us: i64) -> bool {
    now_us - session.auth_time <= crate::token::refresh::STEP_UP_WINDOW_SECS * MICROS
}

/// Records the groups the IdP asserted at the sign-in that started session `id` (an admin
/// group named by the IdP's groups claim is honoured for this session only).
pub async fn set_idp_groups<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    groups: &[String],
) -> CoreResult<()> {
    browser_sessions::Entity::update_many()
        .col_expr(
            browser_sessions::Column::IdpGroups,
            sea_orm::sea_query::Expr::value(serde_json::to_string(groups).unwrap_or_default()),
        )
        .filter(browser_sessions::Column::IdHash.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The groups the IdP asserted at the sign-in that started session `id`.
pub async fn idp_groups<C: ConnectionTrait>(conn: &C, id: &str) -> CoreResult<Vec<String>> {
    let raw: Option<Option<String>> = browser_sessions::Entity::find_by_id(id)
        .select_only()
        .column(browser_sessions::Column::IdpGroups)
        .into_tuple()
        .one(conn)
        .await?;
    let raw = raw.flatten();
    Ok(raw
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}

/// A live session as an admin sees it on a user's page.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub id: String,
    pub connection_id: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The user's live sessions, newest first.
pub async fn list_for_user<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    user_id: &str,
) -> CoreResult<Vec<SessionInfo>> {
    use sea_orm::QueryOrder;
    Ok(browser_sessions::Entity::find()
        .filter(browser_sessions::Column::TenantId.eq(tenant.to_string()))
        .filter(browser_sessions::Column::UserId.eq(user_id))
        .filter(browser_sessions::Column::RevokedAt.is_null())
        .filter(browser_sessions::Column::ExpiresAt.gt(clock.now_us()))
        .order_by_desc(browser_sessions::Column::CreatedAt)
        .all(conn)
        .await?
        .into_iter()
        .map(|m| SessionInfo {
            id: m.id_hash,
            connection_id: m.connection_id,
            auth_time: m.auth_time,
            created_at: m.created_at,
            expires_at: m.expires_at,
        })
        .collect())
}

/// Ends one session of the tenant.
pub async fn revoke_one<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
) -> CoreResult<u64> {
    Ok(browser_sessions::Entity::update_many()
        .col_expr(
            browser_sessions::Column::RevokedAt,
            Some(clock.now_us()).into(),
        )
        .filter(browser_sessions::Column::TenantId.eq(tenant.to_string()))
        .filter(browser_sessions::Column::IdHash.eq(id))
        .filter(browser_sessions::Column::RevokedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected)
}
