//! Console sign-out: ends the browser's Gatehouse session, whichever tenant it belongs to (the
//! edge has verified the sign-out came from the console's own form).
use authz_core::clock::Clock;
use authz_core::{session, CoreResult, Store};

/// Revokes the live session this session cookie names, if there is one.
pub async fn sign_out(store: &Store, clock: &dyn Clock, session_cookie: &str) -> CoreResult<()> {
    if let Some(s) = session::find_active(&store.db, clock, session_cookie).await? {
        session::revoke_one(&store.db, clock, &s.tenant, &s.id).await?;
    }
    Ok(())
}
