//! Removing a connection or a tenant (issue 16 §2; ADR 0021). A removal revokes at once what
//! depends on the object, in the transaction that marks it removed, and returns [`Counts`] of
//! exactly what it ended. With `dry_run` the same transaction is rolled back instead of
//! committed, so a preview counts the very rows a removal would end, by the same code.
//!
//! The row stays, marked `removed_at`: the users who signed in through a connection and the
//! tenant's audit chain keep what they refer to; every lookup skips a removed row.
use crate::db::WriteTxn;

use crate::error::CoreResult;

pub mod client;
pub mod connection;
pub mod operator_key;
pub mod resource;
pub mod tenant;

/// What a removal ended (or, in a dry run, would end).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Token families revoked (with their tokens).
    pub grants: u64,
    /// Browser sessions ended.
    pub sessions: u64,
    /// Secrets, keys and tokens that stop working.
    pub credentials: u64,
    /// People who lose the access they had through the object.
    pub users: u64,
    /// Objects removed with it, by kind.
    pub cascades: Vec<(String, u64)>,
}

/// Commits the removal (or change), or rolls it back for a preview: the one place a `dry_run`
/// is decided, for the core's removals and the application layer's alike.
pub async fn finish(txn: WriteTxn, dry_run: bool) -> CoreResult<()> {
    if dry_run {
        txn.rollback().await?;
    } else {
        txn.commit().await?;
    }
    Ok(())
}
