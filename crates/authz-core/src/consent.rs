//! Remembered consent per (user, client, resource) until its re-consent date (DESIGN §5).
use sea_orm::{sea_query::OnConflict, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::clock::{Clock, MICROS};
use crate::entities::consents;
use crate::error::CoreResult;
use crate::scope::Tier;
use crate::tenant::TenantId;

#[derive(Clone, Debug)]
pub struct Consent {
    pub scopes: Vec<String>,
    pub granted_at: i64,
    pub reconsent_at: Option<i64>,
}

pub async fn get<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    user_id: &str,
    client_id: &str,
    resource_id: &str,
) -> CoreResult<Option<Consent>> {
    let m = consents::Entity::find_by_id((
        tenant.to_string(),
        user_id.to_string(),
        client_id.to_string(),
        resource_id.to_string(),
    ))
    .one(conn)
    .await?;
    let Some(m) = m else { return Ok(None) };
    let cadence = match m.reconsent_at {
        Some(_) => cadence_us(&crate::admin::settings::get_cached(conn, tenant).await?),
        None => None,
    };
    Ok(as_of(m, cadence, clock.now_us()))
}

/// A stored consent as it stands at `now`, under the tenant's re-consent `cadence` in µs
/// ([`cadence_us`]): `None` once it is due. A re-consent date, when set, is also capped by the
/// tenant's current cadence: shortening it applies to consents given before the change.
pub(crate) fn as_of(m: consents::Model, cadence: Option<i64>, now: i64) -> Option<Consent> {
    let tenant_cap = m.reconsent_at.and(cadence).map(|c| m.granted_at + c);
    let due = [m.reconsent_at, tenant_cap].into_iter().flatten().min();
    Some(m)
        .filter(|_| due.map(|r| r > now).unwrap_or(true))
        .map(|m| Consent {
            scopes: crate::scope::split(&m.scopes),
            granted_at: m.granted_at,
            reconsent_at: m.reconsent_at,
        })
}

/// [`get`]'s rule as an SQL condition, for a statement that checks it in place of reading the
/// consent first (the one-statement refresh's guard, ADR 0022). `family` is the alias of a
/// `grant_families` row naming the user, client and resource; `now` and `cap` are placeholders
/// bound to the time (µs) and to the tenant's re-consent cadence in µs (NULL: none). Keep it in
/// step with [`get`]: a consent stands when it has no re-consent date, or when that date and
/// the cadence counted from its grant are both still ahead.
pub(crate) fn stands_sql(family: &str, now: &str, cap: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM consents c WHERE c.tenant_id = {family}.tenant_id \
         AND c.user_id = {family}.user_id AND c.client_id = {family}.client_id \
         AND c.resource_id = {family}.resource_id AND (c.reconsent_at IS NULL \
         OR (c.reconsent_at > {now} AND ({cap} IS NULL OR c.granted_at + {cap} > {now}))))"
    )
}

/// The tenant's re-consent cadence in µs, as [`stands_sql`] takes it.
pub(crate) fn cadence_us(settings: &crate::admin::settings::TenantSettings) -> Option<i64> {
    settings.reconsent_days.map(|d| d * 86_400 * MICROS)
}

/// Records what the user approved; the re-consent date follows the most sensitive scope.
#[allow(clippy::too_many_arguments)]
pub async fn remember<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    user_id: &str,
    client_id: &str,
    resource_id: &str,
    scopes: &[String],
    max_tier: Tier,
) -> CoreResult<()> {
    let now = clock.now_us();
    // The tenant may ask again sooner than DESIGN §5's 90 days, never later.
    let reconsent = crate::admin::settings::get_cached(conn, tenant)
        .await?
        .reconsent_days(max_tier)
        .map(|d| now + d * 86_400 * MICROS);
    consents::Entity::insert(consents::ActiveModel {
        tenant_id: Set(tenant.to_string()),
        user_id: Set(user_id.to_string()),
        client_id: Set(client_id.to_string()),
        resource_id: Set(resource_id.to_string()),
        scopes: Set(scopes.join(" ")),
        granted_at: Set(now),
        reconsent_at: Set(reconsent),
    })
    .on_conflict(
        OnConflict::columns([
            consents::Column::TenantId,
            consents::Column::UserId,
            consents::Column::ClientId,
            consents::Column::ResourceId,
        ])
        .update_columns([
            consents::Column::Scopes,
            consents::Column::GrantedAt,
            consents::Column::ReconsentAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

pub async fn forget_for_user<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    user_id: &str,
) -> CoreResult<u64> {
    Ok(consents::Entity::delete_many()
        .filter(consents::Column::TenantId.eq(tenant.to_string()))
        .filter(consents::Column::UserId.eq(user_id))
        .exec(conn)
        .await?
        .rows_affected)
}

/// An application the user has consented to (the end-user `/account` page).
#[derive(Clone, Debug)]
pub struct ConnectedApp {
    pub client_id: String,
    pub resource_id: String,
    pub scopes: Vec<String>,
    pub granted_at: i64,
}

pub async fn list_for_user<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    user_id: &str,
) -> CoreResult<Vec<ConnectedApp>> {
    Ok(consents::Entity::find()
        .filter(consents::Column::TenantId.eq(tenant.to_string()))
        .filter(consents::Column::UserId.eq(user_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| ConnectedApp {
            client_id: m.client_id,
            resource_id: m.resource_id,
            scopes: crate::scope::split(&m.scopes),
            granted_at: m.granted_at,
        })
        .collect())
}

/// The user withdraws an application: its consent is forgotten and every grant (refresh and
/// access tokens) it holds for the user on that resource is revoked, in one transaction.
pub async fn revoke_app(
    store: &crate::Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    user_id: &str,
    client_id: &str,
    resource_id: &str,
    actor: &str,
) -> CoreResult<u64> {
    use crate::entities::grant_families;
    let txn = store.begin().await?;
    // Codes first: an exchange in flight commits before the families are read (the
    // `token::revoke` module docs).
    crate::token::code::discard_unused(&txn, tenant, Some(user_id), Some(client_id)).await?;
    let removed = consents::Entity::delete_many()
        .filter(consents::Column::TenantId.eq(tenant.to_string()))
        .filter(consents::Column::UserId.eq(user_id))
        .filter(consents::Column::ClientId.eq(client_id))
        .filter(consents::Column::ResourceId.eq(resource_id))
        .exec(&txn)
        .await?
        .rows_affected;
    let families = grant_families::Entity::find()
        .filter(grant_families::Column::TenantId.eq(tenant.to_string()))
        .filter(grant_families::Column::UserId.eq(user_id))
        .filter(grant_families::Column::ClientId.eq(client_id))
        .filter(grant_families::Column::ResourceId.eq(resource_id))
        .filter(grant_families::Column::RevokedAt.is_null())
        .all(&txn)
        .await?;
    let mut n = 0;
    for f in &families {
        n += crate::token::revoke::revoke_family(&txn, clock, &f.id).await?;
    }
    crate::audit::record(
        &txn,
        clock,
        crate::audit::AuditEvent::new(Some(tenant), "consent.revoked")
            .actor(actor)
            .user(user_id.to_string())
            .client(client_id.to_string())
            .detail("resource_id", resource_id)
            .detail("consents_removed", removed)
            .detail("tokens_revoked", n),
    )
    .await?;
    txn.commit().await?;
    Ok(n)
}

/// When the application last obtained a token for the user on the resource (an access or
/// refresh token issued: sign-in or refresh), if Gatehouse still remembers one.
pub async fn last_used<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    user_id: &str,
    client_id: &str,
    resource_id: &str,
) -> CoreResult<Option<i64>> {
    use crate::entities::tokens;
    use sea_orm::sea_query::Expr;
    use sea_orm::QuerySelect;
    let last: Option<Option<i64>> = tokens::Entity::find()
        .select_only()
        .column_as(Expr::col(tokens::Column::IssuedAt).max(), "last")
        .filter(tokens::Column::TenantId.eq(tenant.to_string()))
        .filter(
            tokens::Column::FamilyId.in_subquery(crate::token::revoke::families_of(
                Some(tenant),
                Some(user_id),
                Some(client_id),
            )),
        )
        .filter(tokens::Column::ResourceId.eq(resource_id))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(last.flatten())
}

/// One of a user's connected apps as an admin sees it: the consent with the client's and the
/// resource's names and when a token was last issued for it.
#[derive(Clone, Debug)]
pub struct UserApp {
    pub client_id: String,
    /// `None` when the client is gone (the id is shown instead).
    pub client_name: Option<String>,
    pub resource_id: String,
    pub resource_name: String,
    pub scopes: Vec<String>,
    pub granted_at: i64,
    pub last_used: Option<i64>,
}

/// A user's connected apps with names and last use, in four queries whatever their number
/// (consents, their clients, their resources, the newest token per app) — not three per app.
/// A consent whose resource is gone is `NotFound("resource")`, as the per-app lookup was.
pub async fn apps_of_user<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    user_id: &str,
) -> CoreResult<Vec<UserApp>> {
    use std::collections::HashMap;

    use crate::entities::{clients, resources, tokens};
    use sea_orm::sea_query::Expr;
    use sea_orm::QuerySelect;
    let apps = list_for_user(conn, tenant, user_id).await?;
    if apps.is_empty() {
        return Ok(Vec::new());
    }
    let client_ids: Vec<String> = apps.iter().map(|a| a.client_id.clone()).collect();
    let resource_ids: Vec<String> = apps.iter().map(|a| a.resource_id.clone()).collect();
    let client_names: HashMap<String, String> = clients::Entity::find()
        .filter(clients::Column::ClientId.is_in(client_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| (m.client_id, m.client_name))
        .collect();
    let resource_names: HashMap<String, String> = resources::Entity::find()
        .filter(resources::Column::Id.is_in(resource_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| (m.id, m.display_name))
        .collect();
    let last: Vec<(String, String, Option<i64>)> = tokens::Entity::find()
        .select_only()
        .column(tokens::Column::ClientId)
        .column(tokens::Column::ResourceId)
        .column_as(Expr::col(tokens::Column::IssuedAt).max(), "last")
        .filter(tokens::Column::TenantId.eq(tenant.to_string()))
        .filter(
            tokens::Column::FamilyId.in_subquery(crate::token::revoke::families_of(
                Some(tenant),
                Some(user_id),
                None,
            )),
        )
        .group_by(tokens::Column::ClientId)
        .group_by(tokens::Column::ResourceId)
        .into_tuple()
        .all(conn)
        .await?;
    let last: HashMap<(String, String), i64> = last
        .into_iter()
        .filter_map(|(c, r, t)| t.map(|t| ((c, r), t)))
        .collect();
    apps.into_iter()
        .map(|a| {
            let resource_name = resource_names
                .get(&a.resource_id)
                .cloned()
                .ok_or(crate::CoreError::NotFound("resource"))?;
            Ok(UserApp {
                client_name: client_names.get(&a.client_id).cloned(),
                last_used: last
                    .get(&(a.client_id.clone(), a.resource_id.clone()))
                    .copied(),
                resource_name,
                client_id: a.client_id,
                resource_id: a.resource_id,
                scopes: a.scopes,
                granted_at: a.granted_at,
            })
        })
        .collect()
}
