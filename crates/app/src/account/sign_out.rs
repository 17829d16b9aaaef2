//! Signing out of this browser's session (review F12: a shared machine must be able to sign
//! out). With `disconnect`, the apps this session connected lose their tokens too; otherwise
//! they keep working until their tokens expire or are revoked. Audited as `user.signed_out`.
use authz_core::clock::Clock;
use authz_core::{session, CoreError, Store};

use crate::SignedInUser;

pub async fn sign_out(
    store: &Store,
    clock: &dyn Clock,
    user: &SignedInUser,
    disconnect: bool,
) -> Result<(), CoreError> {
    // The session as stored (the principal carries only its id); one that ended meanwhile is
    // already signed out.
    let Some(s) = session::find_by_id(&store.db, clock, user.session_id()).await? else {
        return Ok(());
    };
    authz_core::token::revoke::sign_out(store, clock, &s, disconnect).await?;
    Ok(())
}
