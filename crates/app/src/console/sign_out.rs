//! Console sign-out: ends the browser's Gatehouse session, whichever tenant it belongs to, and
//! an invitee's setup-only session, on the server (the edge has verified the sign-out came
//! from the console's own form).
use authz_core::clock::Clock;
use authz_core::{session, CoreResult, Store};

/// Revokes the live session this session cookie names and ends the setup session the setup
/// cookie names, where there are such.
pub async fn sign_out(
    store: &Store,
    clock: &dyn Clock,
    session_cookie: Option<&str>,
    setup_cookie: Option<&str>,
) -> CoreResult<()> {
    if let Some(c) = session_cookie {
        if let Some(s) = session::find_active(&store.db, clock, c).await? {
            session::revoke_one(&store.db, clock, &s.tenant, &s.id).await?;
        }
    }
    if let Some(c) = setup_cookie {
        authz_core::admin::invitation::end_setup_session(store, clock, c).await?;
    }
    Ok(())
}
