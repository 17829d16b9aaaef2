//! What open registration may cost (DESIGN §4, security review 2026-12-03 F9): hosted
//! connectors register a confidential client per connection from a few shared egress
//! addresses, so the number of registrations is not what is bounded. What is bounded is what
//! nobody uses: clients that never complete an authorization (no token issued to them yet).
//! Each source (its rate-limit key, IPv6 by /64) may hold a few hundred of them at a time,
//! and they are removed once they have been unused for a day.
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use crate::clock::MICROS;
use crate::entities::clients;
use crate::error::CoreResult;

/// Registered clients that have not completed an authorization yet, per source at most.
pub const DCR_UNUSED_CLIENTS_PER_SOURCE: u64 = 300;
/// A dynamically registered client not used this long after registering is removed (and no
/// longer counts against its source).
pub const DCR_UNUSED_EXPIRY_SECS: i64 = 24 * 3600;

/// Dynamically registered clients never used and registered before `cutoff`.
fn never_used(cutoff: i64) -> Condition {
    Condition::all()
        .add(clients::Column::Kind.eq("dcr"))
        .add(clients::Column::FirstUsedAt.is_null())
        .add(clients::Column::CreatedAt.lt(cutoff))
}

/// Clients to expire at `now`: never used within [`DCR_UNUSED_EXPIRY_SECS`] of registering,
/// or (DCR and CIMD) idle since `idle_cutoff`.
pub(crate) fn expired(now: i64, idle_cutoff: i64) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(clients::Column::Kind.is_in(["dcr", "cimd"]))
                .add(clients::Column::LastUsedAt.lt(idle_cutoff)),
        )
        .add(never_used(now - DCR_UNUSED_EXPIRY_SECS * MICROS))
}

/// `Some(seconds)` until `source_key` may register another client, when it already holds
/// [`DCR_UNUSED_CLIENTS_PER_SOURCE`] unused ones: the time until the oldest of them stops
/// counting.
pub(crate) async fn cap_reached<C: ConnectionTrait>(
    conn: &C,
    now: i64,
    source_key: &str,
) -> CoreResult<Option<i64>> {
    let unused = || {
        clients::Entity::find()
            .filter(clients::Column::RegisteredFrom.eq(source_key))
            .filter(clients::Column::Kind.eq("dcr"))
            .filter(clients::Column::FirstUsedAt.is_null())
            .filter(clients::Column::CreatedAt.gt(now - DCR_UNUSED_EXPIRY_SECS * MICROS))
    };
    if unused().count(conn).await? < DCR_UNUSED_CLIENTS_PER_SOURCE {
        return Ok(None);
    }
    let oldest = unused()
        .order_by_asc(clients::Column::CreatedAt)
        .one(conn)
        .await?
        .map(|c| c.created_at)
        .unwrap_or(now);
    let wait_us = oldest + DCR_UNUSED_EXPIRY_SECS * MICROS - now;
    Ok(Some(((wait_us + MICROS - 1) / MICROS).max(1)))
}

/// Records a client's first completed authorization (once).
pub(crate) async fn mark_used<C: ConnectionTrait>(
    conn: &C,
    now: i64,
    client_id: &str,
) -> CoreResult<()> {
    clients::Entity::update_many()
        .col_expr(clients::Column::FirstUsedAt, now.into())
        .filter(clients::Column::ClientId.eq(client_id))
        .filter(clients::Column::FirstUsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}
