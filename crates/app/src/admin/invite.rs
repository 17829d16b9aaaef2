//! Invite an administrator by email (ADR 0007). The invitation email, with its one-time link,
//! goes through the mail outbox in the same transaction as the invitation and its audit record;
//! the link is never returned to whoever invited: it is a credential for the invitee only.
use authz_core::admin::invitation::{self, Invitation};
use authz_core::clock::Clock;
use authz_core::{CoreResult, Store};

use super::AdminActor;

/// Invites `email` to administer the actor's tenant. The admin role itself is granted only when
/// the invitee signs in through the tenant's IdP with that address.
pub async fn invite(
    store: &Store,
    clock: &dyn Clock,
    by: &AdminActor,
    email: &str,
) -> CoreResult<Invitation> {
    let (inv, _link_token) =
        invitation::create(store, clock, by.tenant(), email, by.actor()).await?;
    Ok(inv)
}
