//! Rotating and revoking a resource server's introspection secret (review F11). Both are
//! operator actions, audited on the platform chain. Nothing caches a resource server's
//! credentials: every call to `/oauth/introspect` and `/audit/v1/events` reads them (one indexed
//! read), so a revocation holds on every node as soon as it commits (DESIGN §6.3).
use sea_orm::{ActiveModelTrait, EntityTrait, QuerySelect, Set};

use crate::audit::{self, AuditEvent};
use crate::clock::{Clock, MICROS};
use crate::crypto::{random_token, sha256_hex};
use crate::db::Store;
use crate::entities::resources;
use crate::error::{CoreError, CoreResult};
use crate::resource::Resource;

/// The longest overlap a rotation may leave the old secret working: a week.
pub const MAX_OVERLAP_SECS: i64 = 7 * 24 * 3600;
/// The default overlap: time to roll the new secret out to the resource server.
pub const DEFAULT_OVERLAP_SECS: i64 = 3600;

pub struct Rotated {
    pub resource: Resource,
    pub introspection_client_id: String,
    /// Shown once; only its hash is kept.
    pub introspection_client_secret: String,
    /// Until when (microseconds) the replaced secret still works; `None`: it stopped at once.
    pub previous_valid_until: Option<i64>,
}

/// The resource row, locked for this transaction on PostgreSQL (two concurrent rotations must
/// not both replace the same secret; SQLite serialises writers anyway).
async fn find<C: sea_orm::ConnectionTrait>(conn: &C, id: &str) -> CoreResult<resources::Model> {
    resources::Entity::find_by_id(id.to_string())
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("resource"))
}

fn public(m: &resources::Model) -> Resource {
    Resource {
        id: m.id.clone(),
        uri: m.uri.clone(),
        display_name: m.display_name.clone(),
        rs_client_id: m.rs_client_id.clone(),
    }
}

/// Issues a new secret for the resource `resource_id`. The current one keeps working for
/// `overlap_secs` (0: it stops now); a secret replaced earlier stops now. After a revocation
/// there is no current secret, so nothing overlaps.
pub async fn rotate(
    store: &Store,
    clock: &dyn Clock,
    resource_id: &str,
    overlap_secs: i64,
    actor: &str,
) -> CoreResult<Rotated> {
    if !(0..=MAX_OVERLAP_SECS).contains(&overlap_secs) {
        return Err(CoreError::invalid(format!(
            "the overlap must be 0 to {MAX_OVERLAP_SECS} seconds"
        )));
    }
    let txn = store.begin().await?;
    let m = find(&txn, resource_id).await?;
    let now = clock.now_us();
    let secret = random_token();
    let previous_valid_until =
        (overlap_secs > 0 && !m.rs_secret_hash.is_empty()).then(|| now + overlap_secs * MICROS);
    let resource = public(&m);
    let mut am: resources::ActiveModel = m.clone().into();
    am.rs_secret_hash = Set(sha256_hex(&secret));
    am.rs_prev_secret_hash = Set(previous_valid_until.map(|_| m.rs_secret_hash.clone()));
    am.rs_prev_secret_until = Set(previous_valid_until);
    am.update(&txn).await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(None, "resource.secret_rotated")
            .actor(actor)
            .resource(resource.uri.clone())
            .detail("rs_client_id", resource.rs_client_id.clone())
            .detail(
                "overlap_secs",
                previous_valid_until.map_or(0, |_| overlap_secs),
            ),
    )
    .await?;
    txn.commit().await?;
    Ok(Rotated {
        introspection_client_id: resource.rs_client_id.clone(),
        resource,
        introspection_client_secret: secret,
        previous_valid_until,
    })
}

/// Revokes every introspection secret of the resource `resource_id` at once (a leaked secret):
/// the resource server is refused until a rotation issues a new one.
pub async fn revoke(
    store: &Store,
    clock: &dyn Clock,
    resource_id: &str,
    actor: &str,
) -> CoreResult<Resource> {
    let txn = store.begin().await?;
    let m = find(&txn, resource_id).await?;
    let resource = public(&m);
    let mut am: resources::ActiveModel = m.into();
    am.rs_secret_hash = Set(String::new());
    am.rs_prev_secret_hash = Set(None);
    am.rs_prev_secret_until = Set(None);
    am.update(&txn).await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(None, "resource.secret_revoked")
            .actor(actor)
            .resource(resource.uri.clone())
            .detail("rs_client_id", resource.rs_client_id.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(resource)
}
