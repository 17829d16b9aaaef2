//! What an MCP request needs, read from a resource's catalogue (issue 13): the scopes a
//! `tools/call` of each tool needs, scope rules for `resources/*` and `prompts/*`, and the
//! resource's gateway settings. The gateway asks this module and nothing else; the catalogue's
//! storage, versions and updates live in `resource` (`resource::spec`, `resource::update`).
//!
//! Decisions are pure functions of the policy value, so the gateway's hot path holds one
//! `Arc<McpPolicy>` per resource and refreshes it when the catalogue's version changes.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::resource::{Resource, Scope};
use crate::scope::Tier;

/// A scope rule for `resources/*` (matched on the resource URI by prefix) or `prompts/*`
/// (matched on the prompt name exactly; `*` matches every name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// `resources`: a URI prefix; `prompts`: a prompt name or `*`.
    #[serde(alias = "name", alias = "uri_prefix")]
    pub pattern: String,
    pub scopes: Vec<String>,
}

/// Per-resource gateway settings (`[settings]` in the resource TOML).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceSettings {
    /// A `tools/call` of a tool missing from the catalogue is refused unless this is on.
    pub allow_unlisted_tools: bool,
    /// `tools/list` answers list only the tools the token may call.
    pub filter_tools_list: bool,
    /// Introspection answers and the upstream JWT carry the user's email and name.
    pub share_identity: bool,
    /// Only DPoP-bound tokens (RFC 9449 §7) are accepted; bearer tokens are refused. PRM says
    /// it as `dpop_bound_access_tokens_required` (RFC 9728 §2).
    pub require_dpop: bool,
}

impl Default for ResourceSettings {
    fn default() -> Self {
        ResourceSettings {
            allow_unlisted_tools: false,
            filter_tools_list: true,
            share_identity: false,
            require_dpop: false,
        }
    }
}

/// The gateway's view of one resource's catalogue.
#[derive(Clone, Debug)]
pub struct McpPolicy {
    pub resource: Resource,
    /// Bumped by every catalogue update; a node reloads when the stored version differs.
    pub version: i64,
    pub scopes: Vec<Scope>,
    /// Tool name → every scope a call needs.
    pub tools: BTreeMap<String, Vec<String>>,
    pub resource_rules: Vec<Rule>,
    pub prompt_rules: Vec<Rule>,
    pub settings: ResourceSettings,
}

/// What a request needs before it may reach the upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need {
    /// Any valid token for this resource.
    Token,
    /// All of these scopes (and, where one is critical, a fresh authentication).
    Scopes(Vec<String>),
    /// Not in the catalogue, and the resource does not allow unlisted ones.
    Unlisted,
}

impl McpPolicy {
    /// Every scope in the catalogue, by name (RFC 9728 `scopes_supported`).
    pub fn scopes_supported(&self) -> Vec<String> {
        let mut v: Vec<String> = self.scopes.iter().map(|s| s.name.clone()).collect();
        v.sort();
        v
    }

    pub fn tier(&self, scope: &str) -> Option<Tier> {
        self.scopes.iter().find(|s| s.name == scope).map(|s| s.tier)
    }

    /// The highest tier among `scopes` (routine when empty or unknown).
    pub fn highest_tier<'a>(&self, scopes: impl IntoIterator<Item = &'a String>) -> Tier {
        scopes
            .into_iter()
            .filter_map(|s| self.tier(s))
            .max()
            .unwrap_or(Tier::Routine)
    }

    /// `tools/call` of `tool`.
    pub fn tool(&self, tool: &str) -> Need {
        match self.tools.get(tool) {
            Some(scopes) => Need::Scopes(scopes.clone()),
            None if self.settings.allow_unlisted_tools => Need::Token,
            None => Need::Unlisted,
        }
    }

    /// `resources/read` (and subscribe) of `uri`: the longest matching prefix rule; with no
    /// rule, any valid token.
    pub fn resource(&self, uri: &str) -> Need {
        self.resource_rules
            .iter()
            .filter(|r| uri.starts_with(&r.pattern))
            .max_by_key(|r| r.pattern.len())
            .map_or(Need::Token, |r| Need::Scopes(r.scopes.clone()))
    }

    /// `prompts/get` of `name`: an exact rule, else a `*` rule, else any valid token.
    pub fn prompt(&self, name: &str) -> Need {
        let exact = self.prompt_rules.iter().find(|r| r.pattern == name);
        let any = self.prompt_rules.iter().find(|r| r.pattern == "*");
        exact
            .or(any)
            .map_or(Need::Token, |r| Need::Scopes(r.scopes.clone()))
    }

    /// Whether a token holding `granted` may call `tool` (for filtering `tools/list`).
    pub fn may_call(&self, tool: &str, granted: &[String]) -> bool {
        match self.tool(tool) {
            Need::Token => true,
            Need::Unlisted => false,
            Need::Scopes(s) => s.iter().all(|n| granted.contains(n)),
        }
    }
}

/// The policy of resource `id` as stored now: its scopes, tools, rules and settings, and the
/// version they belong to (read first: if an update commits meanwhile, the version held is the
/// older one and the holder's next [`stored_version`] check reloads).
pub async fn load<C: sea_orm::ConnectionTrait>(conn: &C, id: &str) -> crate::CoreResult<McpPolicy> {
    use crate::entities::resources;
    use crate::resource::spec;
    use sea_orm::EntityTrait;
    let row = resources::Entity::find_by_id(id.to_string())
        .one(conn)
        .await?
        .ok_or(crate::CoreError::NotFound("resource"))?;
    let version = row.catalogue_version;
    let settings = spec::parse_settings(&row.settings);
    let resource = crate::resource::to_resource(row);
    let scopes = crate::resource::catalogue(conn, id).await?;
    let tools = spec::tools(conn, id)
        .await?
        .into_iter()
        .map(|t| (t.name, t.scopes))
        .collect();
    let (resource_rules, prompt_rules) = spec::rules(conn, id).await?;
    Ok(McpPolicy {
        resource,
        version,
        scopes,
        tools,
        resource_rules,
        prompt_rules,
        settings,
    })
}

/// The stored catalogue version of resource `id`: one read by primary key of
/// `resources.catalogue_version`, which every update bumps in its transaction. A node compares
/// it with the version it holds to decide whether to reload.
pub async fn stored_version<C: sea_orm::ConnectionTrait>(
    conn: &C,
    id: &str,
) -> crate::CoreResult<i64> {
    use crate::entities::resources;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    resources::Entity::find()
        .select_only()
        .column(resources::Column::CatalogueVersion)
        .filter(resources::Column::Id.eq(id))
        .into_tuple::<i64>()
        .one(conn)
        .await?
        .ok_or(crate::CoreError::NotFound("resource"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> McpPolicy {
        McpPolicy {
            resource: Resource {
                id: "r".into(),
                uri: "https://crm.example.com/mcp".into(),
                display_name: "CRM".into(),
                rs_client_id: "rs_1".into(),
            },
            version: 1,
            scopes: vec![
                Scope {
                    name: "read".into(),
                    description: String::new(),
                    tier: Tier::Routine,
                },
                Scope {
                    name: "admin".into(),
                    description: String::new(),
                    tier: Tier::Critical,
                },
            ],
            tools: [("search".to_string(), vec!["read".to_string()])].into(),
            resource_rules: vec![Rule {
                pattern: "crm://billing/".into(),
                scopes: vec!["admin".into()],
            }],
            prompt_rules: vec![Rule {
                pattern: "*".into(),
                scopes: vec!["read".into()],
            }],
            settings: ResourceSettings::default(),
        }
    }

    #[test]
    fn listed_tools_need_their_scopes_and_unlisted_ones_are_refused_by_default() {
        let mut p = policy();
        assert_eq!(p.tool("search"), Need::Scopes(vec!["read".into()]));
        assert_eq!(p.tool("drop_tables"), Need::Unlisted);
        assert!(!p.may_call("drop_tables", &["read".into(), "admin".into()]));
        p.settings.allow_unlisted_tools = true;
        assert_eq!(p.tool("drop_tables"), Need::Token);
    }

    #[test]
    fn resource_and_prompt_rules_match_by_prefix_and_name() {
        let p = policy();
        assert_eq!(
            p.resource("crm://billing/invoices/7"),
            Need::Scopes(vec!["admin".into()])
        );
        assert_eq!(p.resource("crm://notes/1"), Need::Token);
        assert_eq!(p.prompt("summarise"), Need::Scopes(vec!["read".into()]));
        assert_eq!(
            p.highest_tier(&["read".into(), "admin".into()]),
            Tier::Critical
        );
    }
}
