//! Withdrawing one application: its consent is forgotten and its tokens revoked at once
//! (audited by `authz_core::consent::revoke_app`, the person as actor).
use authz_core::clock::Clock;
use authz_core::{consent, CoreError, Store};

use crate::SignedInUser;

pub async fn revoke(
    store: &Store,
    clock: &dyn Clock,
    user: &SignedInUser,
    client_id: &str,
    resource_id: &str,
) -> Result<(), CoreError> {
    consent::revoke_app(
        store,
        clock,
        user.tenant(),
        user.user_id(),
        client_id,
        resource_id,
        &user.actor(),
    )
    .await?;
    Ok(())
}
