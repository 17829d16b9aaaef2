//! A resource's catalogue as the operator writes it (`resource.toml`, the operator API's body),
//! its validation (the same for `register` and `update`), and its storage: scopes, tools,
//! `resources/*` and `prompts/*` rules, and the gateway settings.
use std::collections::HashSet;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};

use crate::entities::{resource_rules, resource_scopes, resource_tools, resources};
use crate::error::{CoreError, CoreResult};
use crate::mcp_policy::{ResourceSettings, Rule};
use crate::scope::Tier;

/// `resource.toml` as the operator writes it (see `examples/crm-resource.toml`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    pub uri: String,
    pub display_name: String,
    #[serde(default)]
    pub scopes: Vec<ScopeSpec>,
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    /// `[settings]`: the gateway's per-resource switches.
    #[serde(default)]
    pub settings: ResourceSettings,
    /// `[[resources]]`: scope rules for `resources/read` and `resources/subscribe`, by URI
    /// prefix (`pattern`, alias `uri_prefix`).
    #[serde(default)]
    pub resources: Vec<Rule>,
    /// `[[prompts]]`: scope rules for `prompts/get`, by name (`pattern`, alias `name`; `*`
    /// matches every prompt).
    #[serde(default)]
    pub prompts: Vec<Rule>,
}

#[derive(Debug, Deserialize, Serialize, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ScopeSpec {
    pub name: String,
    pub description: String,
    pub tier: Tier,
}

#[derive(Debug, Default, Deserialize, Serialize, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    pub name: String,
    pub scopes: Vec<String>,
    /// Shown on the consent page under the scopes the tool needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `resource_rules.kind` of a `[[resources]]` rule.
pub(crate) const RULE_RESOURCE: &str = "resource";
/// `resource_rules.kind` of a `[[prompts]]` rule.
pub(crate) const RULE_PROMPT: &str = "prompt";

const MAX_NAME: usize = 200;
const MAX_PATTERN: usize = 1000;
const MAX_DESCRIPTION: usize = 1000;

fn valid_scope_name(s: &str) -> bool {
    // RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Checks a spec as `register` and `update` both do, and returns its URI normalised: every
/// scope name valid and listed once; every tool, rule and scope reference inside the catalogue
/// (no scope implies another, DESIGN §5, so a reference to an unknown scope could never be met).
pub fn validate(spec: &ResourceSpec) -> CoreResult<String> {
    let uri = super::normalize_uri(&spec.uri)?;
    super::require_secure_uri(&uri)?;
    if spec.display_name.trim().is_empty() {
        return Err(CoreError::invalid("display_name must not be empty"));
    }
    if spec.scopes.is_empty() {
        return Err(CoreError::invalid(
            "a resource needs at least one scope in its catalogue",
        ));
    }
    let mut names = HashSet::new();
    for s in &spec.scopes {
        if !valid_scope_name(&s.name) || s.name == crate::scope::OFFLINE_ACCESS {
            return Err(CoreError::invalid(format!(
                "'{}' is not a valid scope name",
                s.name
            )));
        }
        if !names.insert(s.name.as_str()) {
            return Err(CoreError::invalid(format!(
                "scope '{}' is listed twice",
                s.name
            )));
        }
    }
    let known = |what: &str, needs: &[String]| -> CoreResult<()> {
        match needs.iter().find(|s| !names.contains(s.as_str())) {
            Some(s) => Err(CoreError::invalid(format!(
                "{what} needs scope '{s}', which is not in the catalogue"
            ))),
            None => Ok(()),
        }
    };
    let mut tools = HashSet::new();
    for t in &spec.tools {
        if t.name.trim().is_empty() || t.name.len() > MAX_NAME {
            return Err(CoreError::invalid("a tool name must be 1-200 characters"));
        }
        if !tools.insert(t.name.as_str()) {
            return Err(CoreError::invalid(format!(
                "tool '{}' is listed twice",
                t.name
            )));
        }
        if t.description
            .as_ref()
            .is_some_and(|d| d.len() > MAX_DESCRIPTION)
        {
            return Err(CoreError::invalid(format!(
                "the description of tool '{}' is longer than {MAX_DESCRIPTION} characters",
                t.name
            )));
        }
        known(&format!("tool '{}'", t.name), &t.scopes)?;
    }
    for (kind, rules) in [("resources", &spec.resources), ("prompts", &spec.prompts)] {
        let mut seen = HashSet::new();
        for r in rules {
            if r.pattern.is_empty() || r.pattern.len() > MAX_PATTERN {
                return Err(CoreError::invalid(format!(
                    "a [[{kind}]] pattern must be 1-{MAX_PATTERN} characters"
                )));
            }
            if !seen.insert(r.pattern.as_str()) {
                return Err(CoreError::invalid(format!(
                    "[[{kind}]] pattern '{}' is listed twice",
                    r.pattern
                )));
            }
            if r.scopes.is_empty() {
                return Err(CoreError::invalid(format!(
                    "[[{kind}]] rule '{}' lists no scope (leave it out: with no rule, any valid token may)",
                    r.pattern
                )));
            }
            known(&format!("[[{kind}]] rule '{}'", r.pattern), &r.scopes)?;
        }
    }
    Ok(uri)
}

/// Replaces the stored catalogue of resource `id` (scopes, tools, rules) with `spec`'s. The
/// resource row itself (display name, settings, version) is the caller's.
pub(crate) async fn replace_catalogue<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    spec: &ResourceSpec,
) -> CoreResult<()> {
    resource_scopes::Entity::delete_many()
        .filter(resource_scopes::Column::ResourceId.eq(id))
        .exec(conn)
        .await?;
    resource_tools::Entity::delete_many()
        .filter(resource_tools::Column::ResourceId.eq(id))
        .exec(conn)
        .await?;
    resource_rules::Entity::delete_many()
        .filter(resource_rules::Column::ResourceId.eq(id))
        .exec(conn)
        .await?;
    if !spec.scopes.is_empty() {
        resource_scopes::Entity::insert_many(spec.scopes.iter().map(|s| {
            resource_scopes::ActiveModel {
                resource_id: Set(id.to_string()),
                name: Set(s.name.clone()),
                description: Set(s.description.clone()),
                tier: Set(s.tier.as_str().to_string()),
            }
        }))
        .exec_without_returning(conn)
        .await?;
    }
    if !spec.tools.is_empty() {
        resource_tools::Entity::insert_many(spec.tools.iter().map(|t| {
            resource_tools::ActiveModel {
                resource_id: Set(id.to_string()),
                name: Set(t.name.clone()),
                scopes: Set(json_list(&t.scopes)),
                description: Set(t.description.clone()),
            }
        }))
        .exec_without_returning(conn)
        .await?;
    }
    let rules = spec
        .resources
        .iter()
        .map(|r| (RULE_RESOURCE, r))
        .chain(spec.prompts.iter().map(|r| (RULE_PROMPT, r)))
        .map(|(kind, r)| resource_rules::ActiveModel {
            resource_id: Set(id.to_string()),
            kind: Set(kind.to_string()),
            pattern: Set(r.pattern.clone()),
            scopes: Set(json_list(&r.scopes)),
        })
        .collect::<Vec<_>>();
    if !rules.is_empty() {
        resource_rules::Entity::insert_many(rules)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

pub(crate) fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// A stored JSON list; a malformed one (never written by us) reads as empty.
pub(crate) fn parse_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// The stored `settings` column; `{}` (and anything unreadable) is the defaults.
pub(crate) fn parse_settings(s: &str) -> ResourceSettings {
    serde_json::from_str(s).unwrap_or_default()
}

pub(crate) fn settings_json(s: &ResourceSettings) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "{}".into())
}

/// The stored tools of resource `id`, by name.
pub async fn tools<C: ConnectionTrait>(conn: &C, id: &str) -> CoreResult<Vec<ToolSpec>> {
    Ok(resource_tools::Entity::find()
        .filter(resource_tools::Column::ResourceId.eq(id))
        .order_by_asc(resource_tools::Column::Name)
        .all(conn)
        .await?
        .into_iter()
        .map(|t| ToolSpec {
            scopes: parse_list(&t.scopes),
            name: t.name,
            description: t.description,
        })
        .collect())
}

/// The stored `resources/*` and `prompts/*` rules of resource `id`, by pattern.
pub(crate) async fn rules<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> CoreResult<(Vec<Rule>, Vec<Rule>)> {
    let (mut res, mut prompts) = (Vec::new(), Vec::new());
    for r in resource_rules::Entity::find()
        .filter(resource_rules::Column::ResourceId.eq(id))
        .order_by_asc(resource_rules::Column::Pattern)
        .all(conn)
        .await?
    {
        let rule = Rule {
            scopes: parse_list(&r.scopes),
            pattern: r.pattern,
        };
        match r.kind.as_str() {
            RULE_RESOURCE => res.push(rule),
            RULE_PROMPT => prompts.push(rule),
            _ => {}
        }
    }
    Ok((res, prompts))
}

/// The catalogue of resource `id` as stored now, as a spec (scopes and tools by name), with
/// its version: what `resource show` prints and what an update is compared with.
pub async fn stored<C: ConnectionTrait>(conn: &C, id: &str) -> CoreResult<(i64, ResourceSpec)> {
    let r = resources::Entity::find_by_id(id.to_string())
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("resource"))?;
    let mut scopes: Vec<ScopeSpec> = super::catalogue(conn, id)
        .await?
        .into_iter()
        .map(|s| ScopeSpec {
            name: s.name,
            description: s.description,
            tier: s.tier,
        })
        .collect();
    scopes.sort_by(|a, b| a.name.cmp(&b.name));
    let (resources, prompts) = rules(conn, id).await?;
    Ok((
        r.catalogue_version,
        ResourceSpec {
            uri: r.uri,
            display_name: r.display_name,
            scopes,
            tools: tools(conn, id).await?,
            settings: parse_settings(&r.settings),
            resources,
            prompts,
        },
    ))
}
