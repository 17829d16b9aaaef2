//! Apps and grants: each MCP resource with its scopes by tier, who in the organisation may use
//! each (everyone or SCIM groups), granting and withdrawing (critical scopes need an explicit
//! confirmation); and the MCP clients the organisation allows or blocks.
use std::collections::HashMap;

use authz_core::admin::client_policy::{self, Decision};
use authz_core::directory::{filter, groups, ListQuery};
use authz_core::scope::Tier;
use authz_core::{client, grant, resource, token};
use minijinja::context;

use super::{see_other, when, Admin, AdminWrite, Console, ConsoleError, ConsoleResult};

/// The tenant's SCIM groups: id → display name.
async fn group_names(c: &Console) -> Result<Vec<(String, String)>, ConsoleError> {
    let page = groups::list(
        &c.st.store.db,
        &c.tenant.id,
        &ListQuery::all_by(filter::groups(), "displayName", 1000),
    )
    .await?;
    Ok(page
        .items
        .into_iter()
        .map(|g| (g.id, g.display_name))
        .collect())
}

pub async fn page(Admin(c): Admin) -> ConsoleResult {
    let db = &c.st.store.db;
    let groups = group_names(&c).await?;
    let names: HashMap<&str, &str> = groups
        .iter()
        .map(|(i, n)| (i.as_str(), n.as_str()))
        .collect();
    let grants = grant::list(db, &c.tenant.id).await?;
    let mut resources = Vec::new();
    for r in resource::list(db).await? {
        let catalogue = resource::catalogue(db, &r.id).await?;
        let mut tiers = Vec::new();
        for tier in [Tier::Routine, Tier::Sensitive, Tier::Critical] {
            let scopes: Vec<_> = catalogue
                .iter()
                .filter(|s| s.tier == tier)
                .map(|s| {
                    let holders: Vec<_> = grants
                        .iter()
                        .filter(|g| g.resource_uri == r.uri && g.scope == s.name)
                        .map(|g| {
                            let label = match &g.group {
                                None => "Everyone".to_string(),
                                Some(id) => names.get(id.as_str()).map(|n| n.to_string()).unwrap_or_else(|| id.clone()),
                            };
                            context! { label => label, group => g.group, since => when(g.created_at) }
                        })
                        .collect();
                    context! { name => s.name, description => s.description, holders => holders }
                })
                .collect();
            if !scopes.is_empty() {
                tiers.push(context! { tier => tier.as_str(), scopes => scopes });
            }
        }
        resources.push(context! {
            id => r.id, name => r.display_name, uri => r.uri, tiers => tiers,
        });
    }
    let groups: Vec<_> = groups
        .iter()
        .map(|(id, name)| context! { id => id, name => name })
        .collect();
    Ok(c.render(
        "console/apps.html",
        "apps",
        context! { resources => resources, groups => groups },
    ))
}

pub async fn grant(AdminWrite(c, f): AdminWrite) -> ConsoleResult {
    let res = resource::get(&c.st.store.db, f.require("resource_id", "The resource")?).await?;
    let scopes: Vec<String> = f.all("scope").into_iter().map(str::to_string).collect();
    if scopes.is_empty() {
        return Err(ConsoleError::bad_request(
            "Tick at least one scope to grant.",
        ));
    }
    let group = match f.get("group") {
        None | Some("*") => None,
        Some(g) => Some(g),
    };
    let catalogue = resource::catalogue(&c.st.store.db, &res.id).await?;
    let critical = scopes.iter().any(|s| {
        catalogue
            .iter()
            .any(|x| &x.name == s && x.tier == Tier::Critical)
    });
    if critical && !f.checked("confirm_critical") {
        return Err(ConsoleError::bad_request(
            "A critical scope was selected: tick “I understand” to confirm granting it. Each use will still need a fresh sign-in.",
        ));
    }
    grant::add(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        &res,
        &scopes,
        group,
        critical,
        &c.actor(),
    )
    .await?;
    Ok(see_other(c.slug(), &format!("/apps#r-{}", res.id)))
}

pub async fn remove_grant(AdminWrite(c, f): AdminWrite) -> ConsoleResult {
    let res = resource::get(&c.st.store.db, f.require("resource_id", "The resource")?).await?;
    let scope = f.require("scope", "The scope")?.to_string();
    grant::remove(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        &res.id,
        &[scope],
        f.get("group"),
        &c.actor(),
    )
    .await?;
    Ok(see_other(c.slug(), &format!("/apps#r-{}", res.id)))
}

fn redirect_hosts(uris: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = uris
        .iter()
        .map(|u| match url::Url::parse(u) {
            Ok(p) => match p.host_str() {
                Some(h) => h.to_string(),
                None => format!("{}:", p.scheme()),
            },
            Err(_) => u.clone(),
        })
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

pub async fn clients(Admin(c): Admin) -> ConsoleResult {
    let db = &c.st.store.db;
    let decisions: HashMap<String, Decision> = client_policy::list(db, &c.tenant.id)
        .await?
        .into_iter()
        .collect();
    let settings = authz_core::admin::settings::get(db, &c.tenant.id).await?;
    let views: Vec<_> = client::list_for_tenant(db, &c.tenant.id)
        .await?
        .into_iter()
        .map(|cl| {
            let decision = decisions.get(&cl.client_id).map(|d| d.as_str());
            let permitted = match decision {
                Some("allow") => true,
                Some(_) => false,
                None => !settings.allowlist_only(),
            };
            context! {
                id => cl.client_id,
                name => cl.client_name,
                kind => cl.kind.as_str(),
                hosts => redirect_hosts(&cl.redirect_uris),
                decision => decision,
                permitted => permitted,
                last_used => when(cl.last_used_at),
            }
        })
        .collect();
    Ok(c.render(
        "console/clients.html",
        "clients",
        context! { clients => views, allowlist => settings.allowlist_only() },
    ))
}

/// The client is a form field, not a path segment: a metadata-document client's id is a URL.
pub async fn set_policy(AdminWrite(c, f): AdminWrite) -> ConsoleResult {
    let client_id = f.require("client_id", "The client")?.to_string();
    let decision = match f.require("decision", "A decision")? {
        "clear" => None,
        d => Some(Decision::parse(d)?),
    };
    client_policy::set(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        &client_id,
        decision,
        &c.actor(),
    )
    .await?;
    Ok(see_other(c.slug(), "/clients"))
}

pub async fn revoke_client(AdminWrite(c, f): AdminWrite) -> ConsoleResult {
    let client_id = f.require("client_id", "The client")?.to_string();
    if client::get(&c.st.store.db, &client_id).await?.is_none() {
        return Err(ConsoleError::not_found("client"));
    }
    token::revoke::revoke_client_in_tenant(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.tenant.id,
        &client_id,
        &c.actor(),
    )
    .await?;
    Ok(see_other(c.slug(), "/clients"))
}
