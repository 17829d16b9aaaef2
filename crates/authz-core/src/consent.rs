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
        tenant.0.clone(),
        user_id.to_string(),
        client_id.to_string(),
        resource_id.to_string(),
    ))
    .one(conn)
    .await?;
    Ok(
        m.filter(|m| m.reconsent_at.map(|r| r > clock.now_us()).unwrap_or(true))
            .map(|m| Consent {
                scopes: crate::scope::split(&m.scopes),
                granted_at: m.granted_at,
                reconsent_at: m.reconsent_at,
            }),
    )
}

/// Records what the user approved; the re-consent date follows the most sensitive scope.
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
    let reconsent = max_tier.reconsent_days().map(|d| now + d * 86_400 * MICROS);
    consents::Entity::insert(consents::ActiveModel {
        tenant_id: Set(tenant.0.clone()),
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
        .filter(consents::Column::TenantId.eq(tenant.0.clone()))
        .filter(consents::Column::UserId.eq(user_id))
        .exec(conn)
        .await?
        .rows_affected)
}
