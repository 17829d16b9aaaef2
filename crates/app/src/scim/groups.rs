//! SCIM Groups (RFC 7644 §3.3-3.6 for the Group resource of RFC 7643 §4.2): create, replace,
//! patch and delete one group of the client's tenant. Membership changes go to the store as
//! set operations (see `authz_core::directory::groups`), so concurrent PATCHes of one group lose
//! nothing; members who lose a group lose its grants at once. A single request and a Bulk
//! operation (§3.7) run the same function, each in its own transaction.
use authz_core::clock::Clock;
use authz_core::directory::groups::{self as dgroups, DirGroup, Member, MembershipChange};
use authz_core::directory::{Actor, GroupFields};
use authz_core::Store;

use super::{check_version, optimistic, IfMatch, Refused};
use crate::ScimClient;

/// A group as the client sees it: the record and, when asked for, its members, read in the
/// transaction that wrote it. A client may exclude members from the response (RFC 7644
/// §3.4.2.5; Entra does for large groups), and then they are not read.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub group: DirGroup,
    pub members: Option<Vec<Member>>,
}

/// A group as the client sent it: its attributes and its membership change.
#[derive(Debug, Clone)]
pub struct GroupWrite {
    pub fields: GroupFields,
    pub change: MembershipChange,
}

fn actor(client: &ScimClient) -> Actor {
    Actor(client.actor())
}

async fn view<C: sea_orm::ConnectionTrait>(
    conn: &C,
    client: &ScimClient,
    group: DirGroup,
    with_members: bool,
) -> Result<GroupView, Refused> {
    let members = if with_members {
        Some(dgroups::members(conn, client.tenant(), &group.id).await?)
    } else {
        None
    };
    Ok(GroupView { group, members })
}

/// POST /Groups, with its initial members (`change.added`; Okta sends them on POST). The
/// answer lists the members.
pub async fn create(
    store: &Store,
    clock: &dyn Clock,
    client: &ScimClient,
    write: &GroupWrite,
) -> Result<GroupView, Refused> {
    let txn = store.begin().await?;
    let g = dgroups::create(
        &txn,
        clock,
        client.tenant(),
        &write.fields,
        &write.change,
        &actor(client),
    )
    .await?;
    let v = view(&txn, client, g, true).await?;
    txn.commit().await?;
    Ok(v)
}

/// PUT /Groups/{id}: the group becomes exactly `write`, members included (Okta pushes
/// membership so), written only if nobody changed the group meanwhile (else re-read and
/// re-applied, see [`super::optimistic`]).
pub async fn replace(
    store: &Store,
    clock: &dyn Clock,
    client: &ScimClient,
    id: &str,
    write: &GroupWrite,
    if_match: Option<IfMatch<'_>>,
    with_members: bool,
) -> Result<GroupView, Refused> {
    optimistic(if_match, || async move {
        let txn = store.begin().await?;
        let current = dgroups::get(&txn, client.tenant(), id).await?;
        check_version(if_match, current.version)?;
        let written = dgroups::update(
            &txn,
            clock,
            client.tenant(),
            &current,
            Some(&write.fields),
            &write.change,
            &actor(client),
        )
        .await?;
        if let Some(g) = written {
            let v = view(&txn, client, g, with_members).await?;
            txn.commit().await?;
            return Ok(Some(v));
        }
        Ok(None)
    })
    .await
}

/// PATCH /Groups/{id} (RFC 7644 §3.5.2). `edit` applies the operations to the stored group
/// (without its members: the edge's PATCH engine reports membership as deltas, so the stored
/// members are never loaded to apply a change) and answers the attributes and the membership
/// change. Attributes are written only if nobody changed the group meanwhile (else re-read and
/// re-applied); a PATCH that changes nothing writes nothing.
pub async fn patch<E, F>(
    store: &Store,
    clock: &dyn Clock,
    client: &ScimClient,
    id: &str,
    if_match: Option<IfMatch<'_>>,
    with_members: bool,
    edit: F,
) -> Result<GroupView, E>
where
    E: From<Refused>,
    F: Fn(&DirGroup) -> Result<GroupWrite, E>,
{
    let edit = &edit;
    optimistic(if_match, || async move {
        let txn = store.begin().await.map_err(Refused::from)?;
        let current = dgroups::get(&txn, client.tenant(), id)
            .await
            .map_err(Refused::from)?;
        check_version(if_match, current.version)?;
        let GroupWrite { fields, change } = edit(&current)?;
        let attrs_changed = fields.resource != current.resource;
        if !attrs_changed && change.is_empty() {
            let v = view(&txn, client, current, with_members).await?;
            txn.commit().await.map_err(Refused::from)?;
            return Ok(Some(v));
        }
        let written = dgroups::update(
            &txn,
            clock,
            client.tenant(),
            &current,
            attrs_changed.then_some(&fields),
            &change,
            &actor(client),
        )
        .await
        .map_err(Refused::from)?;
        if let Some(g) = written {
            let v = view(&txn, client, g, with_members).await?;
            txn.commit().await.map_err(Refused::from)?;
            return Ok(Some(v));
        }
        Ok(None)
    })
    .await
}

/// DELETE /Groups/{id}: its members lose the grants it carried at once.
pub async fn delete(
    store: &Store,
    clock: &dyn Clock,
    client: &ScimClient,
    id: &str,
    if_match: Option<IfMatch<'_>>,
) -> Result<(), Refused> {
    let txn = store.begin().await?;
    let current = dgroups::get(&txn, client.tenant(), id).await?;
    check_version(if_match, current.version)?;
    dgroups::delete(&txn, clock, client.tenant(), id, &actor(client)).await?;
    txn.commit().await?;
    Ok(())
}
