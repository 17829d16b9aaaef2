//! The refresh retry grace (issue 15 §1). RFC 9700 §4.14.2 makes a second use of a rotated-out
//! refresh token a sign of theft, and Gatehouse revokes the whole grant for it. But a client
//! whose refresh response was lost (a timeout, a node killed after its commit) can only retry
//! with the token it holds, and would lose its grant for a network fault. Within a short window
//! after the rotation (the tenant's `refresh_grace_seconds`, default 10, 0–60), the same client
//! presenting the same token again gets a fresh pair; the pair it never received is revoked.
//!
//! The trade-off (documented in the security model, and the same one Okta's and Auth0's
//! rotation grace periods make): for those seconds, a thief holding the old token could also
//! retry. The window never extends (it counts from the first rotation), it only opens while the
//! successor refresh token is unused, and the client whose retry lost the race holds a revoked
//! token: presenting that one is reuse, and revokes the grant.
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::clock::{Clock, MICROS};
use crate::entities::tokens;
use crate::error::CoreResult;

/// What a second presentation of a rotated-out refresh token is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SecondUse {
    /// A retry within the grace: the unused successors (this many tokens) were revoked, and the
    /// caller issues a new pair.
    Retry { superseded: u64 },
    /// Reuse: outside the grace, or the successor was already used.
    Reuse,
}

/// Decides about `t`, a refresh token already used at `used_at`, presented again by the client
/// it was issued to, in the caller's write transaction. The successors are the tokens of the
/// family issued at or after the rotation; they are revoked first, so that a concurrent use of
/// the successor (which marks it used under a row lock) is either seen here afterwards, or finds
/// the successor revoked and is itself refused as reuse.
pub(crate) async fn second_use<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    t: &tokens::Model,
    used_at: i64,
    grace_secs: i64,
) -> CoreResult<SecondUse> {
    let now = clock.now_us();
    if grace_secs <= 0 || now - used_at > grace_secs * MICROS {
        return Ok(SecondUse::Reuse);
    }
    // A successor refresh token that was used means the client did receive the rotation:
    // the old token in anyone's hand now is a stolen one.
    if successor_used(conn, t, used_at).await? {
        return Ok(SecondUse::Reuse);
    }
    let superseded = tokens::Entity::update_many()
        .col_expr(tokens::Column::RevokedAt, Expr::value(now))
        .filter(tokens::Column::FamilyId.eq(t.family_id.clone()))
        .filter(tokens::Column::IssuedAt.gte(used_at))
        .filter(tokens::Column::IssuedAt.gt(t.issued_at))
        .filter(tokens::Column::RevokedAt.is_null())
        .filter(tokens::Column::UsedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected;
    // Asked again after the update, which waited for the row lock of a successor being used
    // concurrently: a new statement sees that use once it has committed.
    if successor_used(conn, t, used_at).await? {
        return Ok(SecondUse::Reuse);
    }
    Ok(SecondUse::Retry { superseded })
}

async fn successor_used<C: ConnectionTrait>(
    conn: &C,
    t: &tokens::Model,
    used_at: i64,
) -> CoreResult<bool> {
    Ok(tokens::Entity::find()
        .filter(tokens::Column::FamilyId.eq(t.family_id.clone()))
        .filter(tokens::Column::IssuedAt.gte(used_at))
        .filter(tokens::Column::IssuedAt.gt(t.issued_at))
        .filter(tokens::Column::Kind.eq("refresh"))
        .filter(tokens::Column::UsedAt.is_not_null())
        .count(conn)
        .await?
        > 0)
}
