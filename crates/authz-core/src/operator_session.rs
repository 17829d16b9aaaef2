//! The operator area's console sessions (ADR 0021). Opened by pasting an operator key (checked
//! with [`crate::api_key::authenticate`], the admin API's check), kept in the database so every
//! node agrees and signing out ends it at once; only the cookie's SHA-256 is stored. A session
//! lives [`LIFETIME_SECS`] and is not extended, and it dies with its key: a lookup also checks
//! that the key is still live.
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::api_key::{self, Scope};
use crate::audit::{self, AuditEvent};
use crate::clock::{Clock, MICROS};
use crate::crypto::{random_token, sha256_hex};
use crate::db::Store;
use crate::entities::{api_keys, operator_console_sessions as sessions};
use crate::error::{CoreError, CoreResult};

/// 30 minutes: the operator area changes the whole platform; a forgotten tab should not.
pub const LIFETIME_SECS: i64 = 30 * 60;

/// Sign-in attempts accepted per source network and minute (shared by every node).
pub const SIGN_IN_PER_MINUTE: i64 = 10;

/// Opens a session for the operator key `presented`; returns the cookie value and the key id.
/// Anything but a live operator key is `Denied`, with one message for every reason.
pub async fn open(
    store: &Store,
    clock: &dyn Clock,
    presented: &str,
) -> CoreResult<(String, String)> {
    let denied = || CoreError::Denied("that is not a live operator key".into());
    // Keys are 256-bit random, yet a form that checks a secret is not an oracle to hammer:
    // attempts are counted per source network on every node, and each refusal is audited.
    let source = crate::audit::origin::current().and_then(|o| o.ip);
    let network = source
        .as_deref()
        .and_then(|ip| ip.parse().ok())
        .map(crate::ratelimit::address_key)
        .unwrap_or_else(|| "unknown".into());
    let bucket = format!("operator-sign-in:{network}");
    if crate::ratelimit::hit(&store.db, clock, &bucket, 60).await? > SIGN_IN_PER_MINUTE {
        return Err(CoreError::Denied(
            "too many sign-in attempts from this network; wait a minute and try again".into(),
        ));
    }
    let key = api_key::authenticate(&store.db, clock, presented.trim())
        .await?
        .filter(|k| k.scope == Scope::Operator);
    let Some(key) = key else {
        let refused = AuditEvent::new(None, "operator_console.sign_in_failed")
            .result("denied")
            .actor("anonymous");
        audit::record(&store.db, clock, refused).await?;
        return Err(denied());
    };
    let cookie = random_token();
    let now = clock.now_us();
    let txn = store.begin().await?;
    sessions::Entity::insert(sessions::ActiveModel {
        id_hash: Set(sha256_hex(&cookie)),
        key_id: Set(key.id.clone()),
        created_at: Set(now),
        expires_at: Set(now + LIFETIME_SECS * MICROS),
        revoked_at: Set(None),
    })
    .exec_without_returning(&txn)
    .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(None, "operator_console.signed_in")
            .actor(format!("operator-key:{}", key.id)),
    )
    .await?;
    txn.commit().await?;
    Ok((cookie, key.id))
}

/// The operator key id of the live session `cookie`, if any (and if its key is still live).
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    cookie: &str,
) -> CoreResult<Option<String>> {
    let now = clock.now_us();
    let Some(s) = sessions::Entity::find_by_id(sha256_hex(cookie))
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(sessions::Column::ExpiresAt.gt(now))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let live_key = api_keys::Entity::find_by_id(s.key_id.clone())
        .filter(api_keys::Column::Kind.eq("operator"))
        .filter(api_keys::Column::RevokedAt.is_null())
        .filter(api_keys::Column::ExpiresAt.gt(now))
        .one(conn)
        .await?
        .is_some();
    Ok(live_key.then_some(s.key_id))
}

/// Ends the session `cookie` (signing out), on every node at once.
pub async fn end(store: &Store, clock: &dyn Clock, cookie: &str) -> CoreResult<()> {
    let txn = store.begin().await?;
    let n = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Some(clock.now_us()).into())
        .filter(sessions::Column::IdHash.eq(sha256_hex(cookie)))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if n > 0 {
        audit::record(
            &txn,
            clock,
            AuditEvent::new(None, "operator_console.signed_out"),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}
