//! SCIM Users (RFC 7644 §3.3-3.6 for the User resource of RFC 7643 §4.1): create, replace,
//! patch and delete one user of the client's tenant. A single request and a Bulk operation
//! (§3.7) run the same function, each in its own transaction.
use authz_core::clock::Clock;
use authz_core::directory::groups::{self as dgroups, Member};
use authz_core::directory::users::{self as dusers, DirUser};
use authz_core::directory::{Actor, UserFields};
use authz_core::Store;

use super::{check_version, optimistic, IfMatch, Refused};
use crate::ScimClient;

/// A user as the client sees it: the record and the groups it is a member of (its read-only
/// `groups` attribute), read in the transaction that wrote it.
#[derive(Debug, Clone)]
pub struct UserView {
    pub user: DirUser,
    pub groups: Vec<Member>,
}

fn actor(client: &ScimClient) -> Actor {
    Actor(client.actor())
}

async fn view<C: sea_orm::ConnectionTrait>(
    conn: &C,
    client: &ScimClient,
    user: DirUser,
) -> Result<UserView, Refused> {
    let groups = dgroups::of_user(conn, client.tenant(), &user.id).await?;
    Ok(UserView { user, groups })
}

/// POST /Users. A new user is in no group yet.
pub async fn create(
    store: &Store,
    clock: &dyn Clock,
    client: &ScimClient,
    fields: &UserFields,
) -> Result<UserView, Refused> {
    let txn = store.begin().await?;
    let user = dusers::create(&txn, clock, client.tenant(), fields, &actor(client)).await?;
    txn.commit().await?;
    Ok(UserView {
        user,
        groups: Vec::new(),
    })
}

/// PUT /Users/{id}: the user becomes exactly `fields`, written only if nobody changed the user
/// meanwhile (else re-read and re-applied, see [`super::optimistic`]).
pub async fn replace(
    store: &Store,
    clock: &dyn Clock,
    client: &ScimClient,
    id: &str,
    fields: &UserFields,
    if_match: Option<IfMatch<'_>>,
) -> Result<UserView, Refused> {
    optimistic(if_match, || async move {
        let txn = store.begin().await?;
        let current = dusers::get(&txn, client.tenant(), id).await?;
        check_version(if_match, current.version)?;
        let written = dusers::replace(
            &txn,
            clock,
            client.tenant(),
            &current,
            fields,
            &actor(client),
        )
        .await?;
        if let Some(u) = written {
            let v = view(&txn, client, u).await?;
            txn.commit().await?;
            return Ok(Some(v));
        }
        Ok(None)
    })
    .await
}

/// PATCH /Users/{id} (RFC 7644 §3.5.2). `edit` applies the operations to the stored user (the
/// edge's PATCH engine works on the representation) and answers the new fields, or `None` when
/// the operations change nothing; the result is written only if nobody changed the user
/// meanwhile (else re-read and re-applied).
pub async fn patch<E, F>(
    store: &Store,
    clock: &dyn Clock,
    client: &ScimClient,
    id: &str,
    if_match: Option<IfMatch<'_>>,
    edit: F,
) -> Result<UserView, E>
where
    E: From<Refused>,
    F: Fn(&UserView) -> Result<Option<UserFields>, E>,
{
    let edit = &edit;
    optimistic(if_match, || async move {
        let txn = store.begin().await.map_err(Refused::from)?;
        let current = dusers::get(&txn, client.tenant(), id)
            .await
            .map_err(Refused::from)?;
        check_version(if_match, current.version)?;
        let current = view(&txn, client, current).await?;
        let Some(fields) = edit(&current)? else {
            let v = view(&txn, client, current.user).await?;
            txn.commit().await.map_err(Refused::from)?;
            return Ok(Some(v));
        };
        let written = dusers::replace(
            &txn,
            clock,
            client.tenant(),
            &current.user,
            &fields,
            &actor(client),
        )
        .await
        .map_err(Refused::from)?;
        if let Some(u) = written {
            let v = view(&txn, client, u).await?;
            txn.commit().await.map_err(Refused::from)?;
            return Ok(Some(v));
        }
        Ok(None)
    })
    .await
}

/// DELETE /Users/{id}: the user, its memberships and (by the directory's lifecycle) the access
/// of the people linked to it.
pub async fn delete(
    store: &Store,
    clock: &dyn Clock,
    client: &ScimClient,
    id: &str,
    if_match: Option<IfMatch<'_>>,
) -> Result<(), Refused> {
    let txn = store.begin().await?;
    let current = dusers::get(&txn, client.tenant(), id).await?;
    check_version(if_match, current.version)?;
    dusers::delete(&txn, clock, client.tenant(), id, &actor(client)).await?;
    txn.commit().await?;
    Ok(())
}
