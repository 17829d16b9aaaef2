//! What a POST needs, from the resource's catalogue, and whether a token has it: pure
//! functions of the policy, the parsed body and the token (no I/O), so the rules are tested on
//! their own.
//!
//! - `tools/call`: the tool's scopes (`McpPolicy::tool`); a tool missing from the catalogue is
//!   refused unless the resource allows unlisted tools. `resources/read`, `resources/subscribe`
//!   and `resources/unsubscribe` follow the URI rules, `prompts/get` the prompt rules; every
//!   other message needs only a valid token.
//! - A batch is refused whole when any of its messages is refused: the client learns exactly
//!   what to fix (the scopes to ask for), and no part of a batch runs with another part
//!   refused, which a client could not tell apart from a partial failure upstream.
//! - A scope of the critical tier needs a token whose sign-in lies within the step-up window;
//!   otherwise the answer is `insufficient_scope`, the MCP client re-authorizes, and Gatehouse
//!   forces a fresh IdP sign-in for critical scopes (MCP spec 2025-11-25 "Authorization",
//!   step-up).
use authz_core::mcp_policy::{McpPolicy, Need};
use authz_core::scope::Tier;
use serde_json::Value;

use crate::rpc::{Body, Message};

/// A `tools/call` of the body.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub id: Option<Value>,
    pub tool: String,
    pub arguments: Value,
    /// The scopes the catalogue asks for (empty for an allowed unlisted tool).
    pub scopes: Vec<String>,
    pub tier: Tier,
}

/// What the body needs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub calls: Vec<Call>,
    /// What each message is (a tool, a resource URI, a prompt) and what it needs.
    pub needs: Vec<(String, Need)>,
    /// Ids of the `tools/list` requests (their answers are filtered).
    pub list_ids: Vec<Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// A message's params lack what the rule is looked up by (tool name, URI).
    BadParams(String),
    /// `tools/call` of a tool missing from the catalogue.
    Unlisted(String),
    /// 403 `insufficient_scope` (RFC 6750 §3.1): `scope` is every scope the client should
    /// ask for, the token's plus the ones missing.
    InsufficientScope {
        scope: Vec<String>,
        description: String,
    },
}

fn str_param<'a>(m: &'a Message, key: &str) -> Option<&'a str> {
    m.params.get(key).and_then(Value::as_str)
}

/// The needs of every message of `body`.
pub fn plan(policy: &McpPolicy, body: &Body) -> Result<Plan, Refusal> {
    let mut p = Plan::default();
    for m in &body.messages {
        let method = m.method.as_deref().unwrap_or("");
        let missing = |what: &str| Refusal::BadParams(format!("{method} needs params.{what}"));
        match method {
            "tools/call" => {
                let tool = str_param(m, "name").ok_or_else(|| missing("name"))?;
                let need = policy.tool(tool);
                let scopes = match &need {
                    Need::Scopes(s) => s.clone(),
                    _ => Vec::new(),
                };
                p.calls.push(Call {
                    id: m.id.clone(),
                    tool: tool.to_string(),
                    arguments: m.params.get("arguments").cloned().unwrap_or(Value::Null),
                    tier: policy.highest_tier(&scopes),
                    scopes,
                });
                p.needs.push((format!("tool '{tool}'"), need));
            }
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
                let uri = str_param(m, "uri").ok_or_else(|| missing("uri"))?;
                p.needs.push((format!("resource '{uri}'"), policy.resource(uri)));
            }
            "prompts/get" => {
                let name = str_param(m, "name").ok_or_else(|| missing("name"))?;
                p.needs.push((format!("prompt '{name}'"), policy.prompt(name)));
            }
            "tools/list" => {
                p.list_ids.extend(m.id.clone());
                p.needs.push((method.to_string(), Need::Token));
            }
            _ => p.needs.push((method.to_string(), Need::Token)),
        }
    }
    Ok(p)
}

impl Plan {
    /// Every scope the body needs, in catalogue order of first mention, without duplicates.
    pub fn needed_scopes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, n) in &self.needs {
            if let Need::Scopes(s) = n {
                for x in s {
                    if !out.contains(x) {
                        out.push(x.clone());
                    }
                }
            }
        }
        out
    }

    /// The tier of each call, for the rate limit.
    pub fn tiers(&self) -> Vec<Tier> {
        self.calls.iter().map(|c| c.tier).collect()
    }
}

/// The `scope` of a 401 challenge (MCP spec 2025-11-25 "Authorization", scope selection):
/// what this request needs when it needs scopes (a `tools/call` names its tool's scopes);
/// otherwise the routine scopes of the catalogue, what a client needs to start (list tools,
/// call routine ones) without asking for sensitive or critical access up front.
pub fn challenge_scope(policy: &McpPolicy, plan: Option<&Plan>) -> Vec<String> {
    let needed = plan.map(Plan::needed_scopes).unwrap_or_default();
    if !needed.is_empty() {
        return needed;
    }
    let mut routine: Vec<String> = policy
        .scopes
        .iter()
        .filter(|s| s.tier == Tier::Routine)
        .map(|s| s.name.clone())
        .collect();
    routine.sort();
    routine
}

/// Whether a token holding `granted`, signed in recently (`fresh`) or not, may send the body.
pub fn check(policy: &McpPolicy, plan: &Plan, granted: &[String], fresh: bool) -> Result<(), Refusal> {
    if let Some((what, _)) = plan.needs.iter().find(|(_, n)| *n == Need::Unlisted) {
        return Err(Refusal::Unlisted(what.clone()));
    }
    let needed = plan.needed_scopes();
    let mut all: Vec<String> = granted.to_vec();
    for s in &needed {
        if !all.contains(s) {
            all.push(s.clone());
        }
    }
    let missing: Vec<&String> = needed.iter().filter(|s| !granted.contains(s)).collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        return Err(Refusal::InsufficientScope {
            scope: all,
            description: format!("this request needs the scope {}", names.join(", ")),
        });
    }
    if !fresh {
        if let Some(c) = needed.iter().find(|s| policy.tier(s) == Some(Tier::Critical)) {
            return Err(Refusal::InsufficientScope {
                scope: all.clone(),
                description: format!(
                    "the critical scope {c} needs a recent sign-in; authorize again"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::parse;
    use authz_core::mcp_policy::{ResourceSettings, Rule};
    use authz_core::resource::{Resource, Scope};

    fn scope(name: &str, tier: Tier) -> Scope {
        Scope {
            name: name.into(),
            description: String::new(),
            tier,
        }
    }

    fn policy() -> McpPolicy {
        McpPolicy {
            resource: Resource {
                id: "r".into(),
                uri: "https://crm.example.com/mcp".into(),
                display_name: "CRM".into(),
                rs_client_id: "rs".into(),
            },
            version: 1,
            scopes: vec![
                scope("read", Tier::Routine),
                scope("delete", Tier::Sensitive),
                scope("admin", Tier::Critical),
            ],
            tools: [
                ("search".to_string(), vec!["read".to_string()]),
                ("purge".to_string(), vec!["read".to_string(), "admin".to_string()]),
            ]
            .into(),
            resource_rules: vec![Rule {
                pattern: "crm://billing/".into(),
                scopes: vec!["delete".into()],
            }],
            prompt_rules: vec![],
            settings: ResourceSettings::default(),
        }
    }

    fn body(s: &str) -> Body {
        parse(s.as_bytes()).unwrap()
    }

    fn g(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_call_needs_its_tools_scopes_and_the_answer_names_all_scopes_to_ask_for() {
        let p = policy();
        let b = body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"q":"x"}}}"#);
        let plan = plan(&p, &b).unwrap();
        assert_eq!(plan.calls[0].tool, "search");
        assert_eq!(plan.calls[0].arguments["q"], "x");
        assert_eq!(challenge_scope(&p, Some(&plan)), g(&["read"]));
        assert_eq!(check(&p, &plan, &g(&["read"]), false), Ok(()));
        let b = body(r#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"crm://billing/1"}}"#);
        let plan2 = super::plan(&p, &b).unwrap();
        assert_eq!(
            check(&p, &plan2, &g(&["read"]), true),
            Err(Refusal::InsufficientScope {
                scope: g(&["read", "delete"]),
                description: "this request needs the scope delete".into()
            })
        );
        // Nothing specific needed: the routine scopes.
        let b = body(r#"{"jsonrpc":"2.0","id":3,"method":"initialize","params":{}}"#);
        let plan3 = super::plan(&p, &b).unwrap();
        assert_eq!(challenge_scope(&p, Some(&plan3)), g(&["read"]));
    }

    #[test]
    fn unlisted_tools_critical_scopes_and_batches() {
        let mut p = policy();
        let b = body(r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"drop"}}]"#);
        let pl = plan(&p, &b).unwrap();
        assert_eq!(check(&p, &pl, &g(&["read"]), true), Err(Refusal::Unlisted("tool 'drop'".into())));
        p.settings.allow_unlisted_tools = true;
        assert_eq!(check(&p, &plan(&p, &b).unwrap(), &g(&["read"]), true), Ok(()));
        let b = body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"purge"}}"#);
        let pl = plan(&p, &b).unwrap();
        assert_eq!(pl.tiers(), vec![Tier::Critical]);
        assert_eq!(check(&p, &pl, &g(&["read", "admin"]), true), Ok(()));
        assert!(matches!(
            check(&p, &pl, &g(&["read", "admin"]), false),
            Err(Refusal::InsufficientScope { description, .. }) if description.contains("recent sign-in")
        ));
        let b = body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#);
        assert!(matches!(plan(&p, &b), Err(Refusal::BadParams(_))));
    }
}
