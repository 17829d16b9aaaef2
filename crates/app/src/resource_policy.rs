//! `GET /resources/v1/policy`: a resource server reads its own catalogue as the MCP gateway
//! enforces it (issue 13 §1, introspection mode: a gateway beside the vendor's server, with no
//! database, loads its policy from a remote Gatehouse with the resource's credentials). The
//! answer is the [`PolicyDocument`]; the gateway turns it back into an [`McpPolicy`] with
//! [`PolicyDocument::into_policy`].
use std::collections::BTreeMap;

use authz_core::mcp_policy::{self, McpPolicy, ResourceSettings, Rule};
use authz_core::resource::{Resource, Scope};
use authz_core::scope::Tier;
use authz_core::{CoreResult, Store};
use serde::{Deserialize, Serialize};

use crate::ResourceServer;

/// One scope of the catalogue with its tier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeDocument {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub tier: Tier,
}

/// The calling resource's policy. `issuer` is Gatehouse's issuer identifier exactly as in its
/// metadata: a gateway in introspection mode derives `authorization_servers` (RFC 9728 §2) and
/// the upstream JWT's `iss` from it, so both match what clients and upstreams see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDocument {
    pub issuer: String,
    /// The resource's id (its introspection answers and audit reports refer to it).
    pub id: String,
    pub uri: String,
    pub display_name: String,
    pub rs_client_id: String,
    /// Bumped by every catalogue update.
    pub version: i64,
    pub scopes: Vec<ScopeDocument>,
    /// Tool name → every scope a call needs.
    pub tools: BTreeMap<String, Vec<String>>,
    pub resource_rules: Vec<Rule>,
    pub prompt_rules: Vec<Rule>,
    pub settings: ResourceSettings,
}

impl PolicyDocument {
    pub fn of(issuer: &str, p: McpPolicy) -> PolicyDocument {
        PolicyDocument {
            issuer: issuer.to_string(),
            id: p.resource.id,
            uri: p.resource.uri,
            display_name: p.resource.display_name,
            rs_client_id: p.resource.rs_client_id,
            version: p.version,
            scopes: p
                .scopes
                .into_iter()
                .map(|s| ScopeDocument {
                    name: s.name,
                    description: s.description,
                    tier: s.tier,
                })
                .collect(),
            tools: p.tools,
            resource_rules: p.resource_rules,
            prompt_rules: p.prompt_rules,
            settings: p.settings,
        }
    }

    pub fn into_policy(self) -> McpPolicy {
        McpPolicy {
            resource: Resource {
                id: self.id,
                uri: self.uri,
                display_name: self.display_name,
                rs_client_id: self.rs_client_id,
            },
            version: self.version,
            scopes: self
                .scopes
                .into_iter()
                .map(|s| Scope {
                    name: s.name,
                    description: s.description,
                    tier: s.tier,
                })
                .collect(),
            tools: self.tools,
            resource_rules: self.resource_rules,
            prompt_rules: self.prompt_rules,
            settings: self.settings,
        }
    }
}

/// The policy of the authenticated resource server's own resource (never another's).
pub async fn policy(
    store: &Store,
    issuer: &str,
    caller: &ResourceServer,
) -> CoreResult<PolicyDocument> {
    let p = mcp_policy::load(&store.db, caller.resource_id()).await?;
    Ok(PolicyDocument::of(issuer, p))
}
