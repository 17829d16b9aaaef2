//! Catalogue updates (issue 13 §2): what a new spec changes ([`diff`]), and applying it inside
//! the caller's transaction ([`apply`]): the new catalogue, the version bump, the version row,
//! and — for every scope removed or raised to a higher tier — the revocation of every grant
//! family (refresh and access tokens) that carries it, and its removal from org grants and
//! remembered consents. A tenant admin re-grants a raised scope knowingly (a critical one needs
//! the explicit confirmation again); a user consents to it again on the consent page.
use std::collections::{BTreeMap, BTreeSet, HashSet};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;

use super::spec::{self, ResourceSpec};
use super::Resource;
use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::entities::{
    auth_codes, consents, grant_families, org_grants, resource_catalogue_versions, resources,
    tokens,
};
use crate::error::{CoreError, CoreResult};
use crate::scope::{Tier, OFFLINE_ACCESS};
use crate::tenant::TenantId;

/// A scope whose tier changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TierChange {
    pub scope: String,
    pub from: Tier,
    pub to: Tier,
}

/// A gateway setting that changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SettingChange {
    pub setting: &'static str,
    pub from: bool,
    pub to: bool,
}

/// What an applied update took away from the holders of the scopes it withdrew.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Revocation {
    /// Grant families revoked (each with its refresh and access tokens).
    pub grants_revoked: u64,
    pub tokens_revoked: u64,
    pub org_grants_removed: u64,
    /// Remembered consents that lost a scope (or were forgotten when nothing else was left).
    pub consents_changed: u64,
}

/// What a new spec changes in a resource's catalogue. Lists are sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CatalogueDiff {
    /// The resource's URI.
    pub resource: String,
    pub resource_id: String,
    /// The version the diff was computed against.
    pub from_version: i64,
    /// The version applying it makes (`from_version` when nothing changes).
    pub to_version: i64,
    /// Whether the change was applied (false for a dry run, and when nothing changes).
    pub applied: bool,
    /// `[old, new]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<[String; 2]>,
    pub scopes_added: Vec<String>,
    pub scopes_removed: Vec<String>,
    pub tiers_changed: Vec<TierChange>,
    pub descriptions_changed: Vec<String>,
    pub tools_added: Vec<String>,
    pub tools_removed: Vec<String>,
    /// Tools whose scopes or description changed.
    pub tools_changed: Vec<String>,
    /// `resources:<prefix>` and `prompts:<name>` rules.
    pub rules_added: Vec<String>,
    pub rules_removed: Vec<String>,
    pub rules_changed: Vec<String>,
    pub settings_changed: Vec<SettingChange>,
    /// The scopes removed or raised to a higher tier: applying revokes every grant and token
    /// that carries one and removes it from org grants and consents.
    pub revoking: Vec<String>,
    /// What applying revoked (absent until applied).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revocation>,
}

impl CatalogueDiff {
    /// Nothing would change.
    pub fn is_empty(&self) -> bool {
        self.display_name.is_none()
            && self.scopes_added.is_empty()
            && self.scopes_removed.is_empty()
            && self.tiers_changed.is_empty()
            && self.descriptions_changed.is_empty()
            && self.tools_added.is_empty()
            && self.tools_removed.is_empty()
            && self.tools_changed.is_empty()
            && self.rules_added.is_empty()
            && self.rules_removed.is_empty()
            && self.rules_changed.is_empty()
            && self.settings_changed.is_empty()
    }

    /// One line for the version list: the counts of what changed.
    pub fn summary(&self) -> String {
        let parts = [
            ("scopes added", self.scopes_added.len()),
            ("scopes removed", self.scopes_removed.len()),
            ("tiers changed", self.tiers_changed.len()),
            ("descriptions changed", self.descriptions_changed.len()),
            ("tools added", self.tools_added.len()),
            ("tools removed", self.tools_removed.len()),
            ("tools changed", self.tools_changed.len()),
            ("rules added", self.rules_added.len()),
            ("rules removed", self.rules_removed.len()),
            ("rules changed", self.rules_changed.len()),
            ("settings changed", self.settings_changed.len()),
            (
                "display name changed",
                usize::from(self.display_name.is_some()),
            ),
        ];
        let v: Vec<String> = parts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(what, n)| format!("{what}: {n}"))
            .collect();
        if v.is_empty() {
            "no change".into()
        } else {
            v.join(", ")
        }
    }
}

fn set(v: &[String]) -> BTreeSet<&str> {
    v.iter().map(String::as_str).collect()
}

/// Added, removed and changed keys between two maps.
fn compare<T: PartialEq>(
    old: &BTreeMap<String, T>,
    new: &BTreeMap<String, T>,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let added = new.keys().filter(|k| !old.contains_key(*k)).cloned();
    let removed = old.keys().filter(|k| !new.contains_key(*k)).cloned();
    let changed = new
        .iter()
        .filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
        .map(|(k, _)| k.clone());
    (added.collect(), removed.collect(), changed.collect())
}

/// What replacing catalogue `old` with `new` changes (versions and ids are the caller's).
pub fn diff(old: &ResourceSpec, new: &ResourceSpec) -> CatalogueDiff {
    let mut d = CatalogueDiff {
        resource: old.uri.clone(),
        ..Default::default()
    };
    if old.display_name != new.display_name.trim() {
        d.display_name = Some([
            old.display_name.clone(),
            new.display_name.trim().to_string(),
        ]);
    }
    let scopes = |s: &ResourceSpec| -> BTreeMap<String, (Tier, String)> {
        s.scopes
            .iter()
            .map(|x| (x.name.clone(), (x.tier, x.description.clone())))
            .collect()
    };
    let (o, n) = (scopes(old), scopes(new));
    let (added, removed, changed) = compare(&o, &n);
    d.scopes_added = added;
    d.scopes_removed = removed.clone();
    let mut revoking: BTreeSet<String> = removed.into_iter().collect();
    for name in changed {
        let ((from, od), (to, nd)) = (&o[&name], &n[&name]);
        if from != to {
            if to > from {
                revoking.insert(name.clone());
            }
            d.tiers_changed.push(TierChange {
                scope: name.clone(),
                from: *from,
                to: *to,
            });
        }
        if od != nd {
            d.descriptions_changed.push(name);
        }
    }
    d.revoking = revoking.into_iter().collect();
    let tools = |s: &ResourceSpec| -> BTreeMap<String, (BTreeSet<String>, Option<String>)> {
        s.tools
            .iter()
            .map(|t| {
                let scopes = set(&t.scopes).into_iter().map(str::to_string).collect();
                (t.name.clone(), (scopes, t.description.clone()))
            })
            .collect()
    };
    (d.tools_added, d.tools_removed, d.tools_changed) = compare(&tools(old), &tools(new));
    let rules = |s: &ResourceSpec| -> BTreeMap<String, BTreeSet<String>> {
        let of = |kind: &str, r: &crate::mcp_policy::Rule| {
            let scopes = set(&r.scopes).into_iter().map(str::to_string).collect();
            (format!("{kind}:{}", r.pattern), scopes)
        };
        s.resources
            .iter()
            .map(|r| of("resources", r))
            .chain(s.prompts.iter().map(|r| of("prompts", r)))
            .collect()
    };
    (d.rules_added, d.rules_removed, d.rules_changed) = compare(&rules(old), &rules(new));
    let (os, ns) = (&old.settings, &new.settings);
    for (setting, from, to) in [
        (
            "allow_unlisted_tools",
            os.allow_unlisted_tools,
            ns.allow_unlisted_tools,
        ),
        (
            "filter_tools_list",
            os.filter_tools_list,
            ns.filter_tools_list,
        ),
        ("share_identity", os.share_identity, ns.share_identity),
        ("require_dpop", os.require_dpop, ns.require_dpop),
    ] {
        if from != to {
            d.settings_changed.push(SettingChange { setting, from, to });
        }
    }
    d
}

/// Applies `spec` (already validated, its URI the resource's) over version `from_version` of
/// `res`'s catalogue, inside the caller's transaction: bumps the version — refused with
/// `Conflict` if another update bumped it first, so two concurrent updates cannot both apply
/// over the same version — writes the catalogue and the version row, and revokes what carries
/// a scope in `d.revoking`. Returns what was revoked.
pub async fn apply<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    res: &Resource,
    from_version: i64,
    spec: &ResourceSpec,
    d: &CatalogueDiff,
    actor: &str,
) -> CoreResult<Revocation> {
    let to = from_version + 1;
    let bumped = resources::Entity::update_many()
        .col_expr(resources::Column::CatalogueVersion, to.into())
        .col_expr(
            resources::Column::DisplayName,
            spec.display_name.trim().to_string().into(),
        )
        .col_expr(
            resources::Column::Settings,
            spec::settings_json(&spec.settings).into(),
        )
        .filter(resources::Column::Id.eq(res.id.clone()))
        .filter(resources::Column::CatalogueVersion.eq(from_version))
        .exec(conn)
        .await?;
    if bumped.rows_affected != 1 {
        return Err(CoreError::conflict(format!(
            "the catalogue of {} changed since version {from_version}; review the new diff and apply again",
            res.uri
        )));
    }
    spec::replace_catalogue(conn, &res.id, spec).await?;
    let revoked = revoke_scopes(conn, clock, res, &d.revoking, actor).await?;
    store_version(conn, clock, &res.id, to, spec, actor, &d.summary()).await?;
    Ok(revoked)
}

/// Keeps version `version` of a catalogue: its full spec, who made it, when.
pub(crate) async fn store_version<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    resource_id: &str,
    version: i64,
    spec: &ResourceSpec,
    actor: &str,
    summary: &str,
) -> CoreResult<()> {
    let json = serde_json::to_string(spec)
        .map_err(|e| CoreError::Config(format!("cannot encode the catalogue: {e}")))?;
    resource_catalogue_versions::Entity::insert(resource_catalogue_versions::ActiveModel {
        resource_id: Set(resource_id.to_string()),
        version: Set(version),
        spec: Set(json),
        changed_by: Set(actor.to_string()),
        changed_at: Set(clock.now_us()),
        summary: Set(summary.to_string()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Withdraws `scopes` of `res` from everyone who holds them, in every tenant: every live grant
/// family carrying one is revoked with all its tokens (`token::revoke::revoke_family`), the
/// org grants of these scopes are removed, and remembered consents and unused codes lose them.
/// Each tenant's chain records what it lost.
///
/// No token carrying a withdrawn scope is issued after this commits, also on PostgreSQL under
/// concurrency (READ COMMITTED), without any extra read on the exchange or refresh path:
/// - an exchange re-reads grants and consents (`token::standing`) after it burns its code; the
///   unused codes carrying a scope are updated here, so an exchange that burned one first makes
///   this transaction wait for its commit (the row lock), and the families read next include
///   the family it created; one that burns after waits for this commit and reads the grants
///   without the scope;
/// - a refresh marks its refresh token used; revoking the family updates that row too, so it
///   waits for the refresh to commit, and a second pass revokes the tokens the refresh minted.
pub async fn revoke_scopes<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    res: &Resource,
    scopes: &[String],
    actor: &str,
) -> CoreResult<Revocation> {
    let mut out = Revocation::default();
    if scopes.is_empty() {
        return Ok(out);
    }
    let withdrawn: HashSet<&str> = scopes.iter().map(String::as_str).collect();
    let carries = |held: &str| {
        crate::scope::split(held)
            .iter()
            .any(|s| withdrawn.contains(s.as_str()))
    };
    // Org grants first: a grant family created concurrently re-reads them at its exchange.
    let grants = org_grants::Entity::find()
        .filter(org_grants::Column::ResourceId.eq(res.id.clone()))
        .filter(org_grants::Column::Scope.is_in(scopes.iter().cloned()))
        .all(conn)
        .await?;
    if !grants.is_empty() {
        out.org_grants_removed = org_grants::Entity::delete_many()
            .filter(org_grants::Column::Id.is_in(grants.iter().map(|g| g.id.clone())))
            .exec(conn)
            .await?
            .rows_affected;
    }
    let mut by_tenant: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for g in grants {
        by_tenant.entry(g.tenant_id).or_default().insert(g.scope);
    }
    for (tenant, lost) in by_tenant {
        audit::record(
            conn,
            clock,
            AuditEvent::new(Some(&TenantId::from_stored(tenant)), "org_grant.removed")
                .actor(actor)
                .resource(res.uri.clone())
                .scope(lost.into_iter().collect::<Vec<_>>().join(" "))
                .detail("reason", "catalogue_scope_withdrawn"),
        )
        .await?;
    }
    let pending = auth_codes::Entity::find()
        .filter(auth_codes::Column::ResourceId.eq(res.id.clone()))
        .filter(auth_codes::Column::UsedAt.is_null())
        .all(conn)
        .await?;
    for c in pending.into_iter().filter(|c| carries(&c.scopes)) {
        let kept: Vec<String> = crate::scope::split(&c.scopes)
            .into_iter()
            .filter(|s| !withdrawn.contains(s.as_str()))
            .collect();
        auth_codes::Entity::update_many()
            .col_expr(auth_codes::Column::Scopes, kept.join(" ").into())
            .filter(auth_codes::Column::CodeHash.eq(c.code_hash))
            .filter(auth_codes::Column::UsedAt.is_null())
            .exec(conn)
            .await?;
    }
    let families = grant_families::Entity::find()
        .filter(grant_families::Column::ResourceId.eq(res.id.clone()))
        .filter(grant_families::Column::RevokedAt.is_null())
        .all(conn)
        .await?;
    let mut revoked_ids = Vec::new();
    for fam in families.into_iter().filter(|f| carries(&f.scopes)) {
        let n = crate::token::revoke::revoke_family(conn, clock, &fam.id).await?;
        revoked_ids.push(fam.id.clone());
        out.grants_revoked += 1;
        out.tokens_revoked += n;
        let lost: Vec<String> = crate::scope::split(&fam.scopes)
            .into_iter()
            .filter(|s| withdrawn.contains(s.as_str()))
            .collect();
        audit::record(
            conn,
            clock,
            AuditEvent::new(
                Some(&TenantId::from_stored(fam.tenant_id.clone())),
                "grant.revoked",
            )
            .actor(actor)
            .user(fam.user_id.clone())
            .client(fam.client_id.clone())
            .session(fam.session_id.clone())
            .resource(res.uri.clone())
            .scope(fam.scopes.clone())
            .detail("reason", "catalogue_scope_withdrawn")
            .detail("scopes_withdrawn", lost)
            .detail("tokens_revoked", n),
        )
        .await?;
    }
    if !revoked_ids.is_empty() {
        // The second pass: tokens a concurrent refresh of these families minted while the
        // first pass waited for it (a new statement sees its commit).
        out.tokens_revoked += tokens::Entity::update_many()
            .col_expr(tokens::Column::RevokedAt, Some(clock.now_us()).into())
            .filter(tokens::Column::FamilyId.is_in(revoked_ids))
            .filter(tokens::Column::RevokedAt.is_null())
            .exec(conn)
            .await?
            .rows_affected;
    }
    let remembered = consents::Entity::find()
        .filter(consents::Column::ResourceId.eq(res.id.clone()))
        .all(conn)
        .await?;
    for c in remembered.into_iter().filter(|c| carries(&c.scopes)) {
        let kept: Vec<String> = crate::scope::split(&c.scopes)
            .into_iter()
            .filter(|s| !withdrawn.contains(s.as_str()))
            .collect();
        if kept.iter().all(|s| s == OFFLINE_ACCESS) {
            consents::Entity::delete_many()
                .filter(consents::Column::TenantId.eq(c.tenant_id.clone()))
                .filter(consents::Column::UserId.eq(c.user_id.clone()))
                .filter(consents::Column::ClientId.eq(c.client_id.clone()))
                .filter(consents::Column::ResourceId.eq(c.resource_id.clone()))
                .exec(conn)
                .await?;
        } else {
            consents::Entity::update_many()
                .col_expr(consents::Column::Scopes, kept.join(" ").into())
                .filter(consents::Column::TenantId.eq(c.tenant_id.clone()))
                .filter(consents::Column::UserId.eq(c.user_id.clone()))
                .filter(consents::Column::ClientId.eq(c.client_id.clone()))
                .filter(consents::Column::ResourceId.eq(c.resource_id.clone()))
                .exec(conn)
                .await?;
        }
        out.consents_changed += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp_policy::Rule;
    use crate::resource::{ScopeSpec, ToolSpec};

    fn spec() -> ResourceSpec {
        ResourceSpec {
            uri: "https://crm.example.com/mcp".into(),
            display_name: "CRM".into(),
            scopes: vec![
                ScopeSpec {
                    name: "read".into(),
                    description: "Read".into(),
                    tier: Tier::Routine,
                },
                ScopeSpec {
                    name: "write".into(),
                    description: "Write".into(),
                    tier: Tier::Routine,
                },
            ],
            tools: vec![ToolSpec {
                name: "search".into(),
                scopes: vec!["read".into()],
                description: None,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn the_same_spec_is_no_change() {
        let d = diff(&spec(), &spec());
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(d.summary(), "no change");
    }

    #[test]
    fn removed_and_raised_scopes_revoke_lowered_ones_do_not() {
        let old = spec();
        let mut new = spec();
        new.scopes.retain(|s| s.name != "write");
        new.scopes[0].tier = Tier::Sensitive;
        let d = diff(&old, &new);
        assert_eq!(d.scopes_removed, vec!["write".to_string()]);
        assert_eq!(d.tiers_changed.len(), 1);
        assert_eq!(d.revoking, vec!["read".to_string(), "write".to_string()]);
        // And back down: a lowered tier revokes nothing.
        let d = diff(&new, &old);
        assert_eq!(d.scopes_added, vec!["write".to_string()]);
        assert!(d.revoking.is_empty(), "{d:?}");
    }

    #[test]
    fn tools_rules_settings_and_descriptions_are_reported() {
        let old = spec();
        let mut new = spec();
        new.tools[0].description = Some("Search customers".into());
        new.tools.push(ToolSpec {
            name: "update".into(),
            scopes: vec!["write".into()],
            description: None,
        });
        new.prompts.push(Rule {
            pattern: "*".into(),
            scopes: vec!["read".into()],
        });
        new.settings.share_identity = true;
        new.scopes[1].description = "Write records".into();
        let d = diff(&old, &new);
        assert_eq!(d.tools_added, vec!["update".to_string()]);
        assert_eq!(d.tools_changed, vec!["search".to_string()]);
        assert_eq!(d.rules_added, vec!["prompts:*".to_string()]);
        assert_eq!(d.descriptions_changed, vec!["write".to_string()]);
        assert_eq!(d.settings_changed[0].setting, "share_identity");
        assert!(d.revoking.is_empty());
        assert!(!d.is_empty());
    }
}
