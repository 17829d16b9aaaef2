//! Remove a connection (issue 16 §2): nobody signs in through it again, and what its people
//! hold is revoked at once — their sessions, the grants started from them and every other live
//! grant of theirs — in the transaction that removes it. The preview (`dry_run`) runs the same
//! removal and rolls it back, so the confirmation announces exactly what the removal ends.
use authz_core::clock::Clock;
use authz_core::{CoreResult, Store};

use super::view::ConnectionView;
use super::ConnectionActor;
use crate::removal::{Impact, Removed};

pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    by: &ConnectionActor,
    id: &str,
    dry_run: bool,
) -> CoreResult<Removed<ConnectionView>> {
    let c = authz_core::connection::get(&store.db, by.tenant(), id).await?;
    let counts = authz_core::removal::connection::remove(
        store,
        clock,
        by.tenant(),
        &c.id,
        by.actor(),
        dry_run,
    )
    .await?;
    Ok(Removed {
        removed: ConnectionView::from(&c),
        revoked: Impact::from(counts),
    })
}
