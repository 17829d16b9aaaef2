//! Org grants as objects (issue 16 §2): the scopes of one resource granted to every member of
//! the tenant or to one SCIM group's members. Its id is `<resource id>~<group id>` (`*` for
//! every member). Narrowing or removing a grant revokes, in the same transaction, every token
//! family that carries a scope its person is no longer granted (`authz_core::grant::remove_in`),
//! and says how many.
use authz_core::clock::Clock;
use authz_core::grant::{self, EVERYONE};
use authz_core::{CoreError, CoreResult, Store, TenantId};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{finish, time, Impact, Removed};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GrantView {
    /// `<resource id>~<group id>`, `*` for every member.
    pub id: String,
    /// The resource's URI.
    pub resource: String,
    pub resource_id: String,
    /// `null`: every member of the tenant; else the SCIM group's id.
    pub group: Option<String>,
    pub scopes: Vec<String>,
    pub created_at: String,
}

/// The id of the grant of `resource_id` to `group` (`None`: everyone).
pub fn grant_id(resource_id: &str, group: Option<&str>) -> String {
    format!("{resource_id}~{}", group.unwrap_or(EVERYONE))
}

fn parse_id(id: &str) -> CoreResult<(&str, Option<&str>)> {
    match id.split_once('~') {
        Some((r, EVERYONE)) if !r.is_empty() => Ok((r, None)),
        Some((r, g)) if !r.is_empty() && !g.is_empty() => Ok((r, Some(g))),
        _ => Err(CoreError::NotFound("grant")),
    }
}

pub async fn list<C: ConnectionTrait>(conn: &C, tenant: &TenantId) -> CoreResult<Vec<GrantView>> {
    let mut out: Vec<GrantView> = Vec::new();
    for g in grant::list(conn, tenant).await? {
        let id = grant_id(&g.resource_id, g.group.as_deref());
        match out.iter_mut().find(|v| v.id == id) {
            Some(v) => v.scopes.push(g.scope),
            None => out.push(GrantView {
                id,
                resource: g.resource_uri,
                resource_id: g.resource_id,
                group: g.group,
                scopes: vec![g.scope],
                created_at: time(g.created_at),
            }),
        }
    }
    Ok(out)
}

pub async fn show<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    id: &str,
) -> CoreResult<GrantView> {
    parse_id(id)?;
    list(conn, tenant)
        .await?
        .into_iter()
        .find(|g| g.id == id)
        .ok_or(CoreError::NotFound("grant"))
}

/// The grant's new scope set: scopes added are checked against the catalogue (critical ones
/// need `allow_critical`), scopes dropped are withdrawn with the tokens that carry them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantChange {
    pub scopes: Vec<String>,
    #[serde(default)]
    pub allow_critical: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UpdatedGrant {
    #[serde(flatten)]
    pub grant: GrantView,
    /// Token families revoked because they carried a dropped scope.
    pub grants_revoked: u64,
}

pub async fn update(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    change: &GrantChange,
    actor: &str,
) -> CoreResult<UpdatedGrant> {
    if change.scopes.is_empty() {
        return Err(CoreError::invalid(
            "a grant needs at least one scope; remove the grant instead",
        ));
    }
    let (resource_id, group) = parse_id(id)?;
    let txn = store.begin().await?;
    let before = show(&txn, tenant, id).await?;
    let added: Vec<String> = change
        .scopes
        .iter()
        .filter(|s| !before.scopes.contains(s))
        .cloned()
        .collect();
    let dropped: Vec<String> = before
        .scopes
        .iter()
        .filter(|s| !change.scopes.contains(s))
        .cloned()
        .collect();
    if !added.is_empty() {
        let res = authz_core::resource::get(&txn, resource_id).await?;
        let allow = change.allow_critical;
        grant::add_in(&txn, clock, tenant, &res, &added, group, allow, actor).await?;
    }
    let mut revoked = 0;
    if !dropped.is_empty() {
        revoked =
            grant::remove_in(&txn, clock, tenant, resource_id, &dropped, group, actor).await?;
    }
    let after = show(&txn, tenant, id).await?;
    txn.commit().await?;
    Ok(UpdatedGrant {
        grant: after,
        grants_revoked: revoked,
    })
}

/// Withdraws every scope of the grant (`dry_run`: only says what it would revoke).
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    actor: &str,
    dry_run: bool,
) -> CoreResult<Removed<GrantView>> {
    let (resource_id, group) = parse_id(id)?;
    let txn = store.begin().await?;
    let g = show(&txn, tenant, id).await?;
    let n = grant::remove_in(&txn, clock, tenant, resource_id, &g.scopes, group, actor).await?;
    finish(txn, dry_run).await?;
    Ok(Removed {
        removed: g,
        revoked: Impact {
            grants: n,
            ..Impact::default()
        },
    })
}
