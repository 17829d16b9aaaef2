//! Operator endpoints for a resource's catalogue (issue 13 §2): read it with its version,
//! change it (a dry run shows the diff; applying revokes what carries a removed or raised
//! scope), and list its versions. The same use cases as `gatehouse resource show|update|versions`.
use actix_web::{get, put, web, HttpResponse};
use authz_core::mcp_policy::{ResourceSettings, Rule};
use authz_core::resource::update::CatalogueDiff;
use authz_core::resource::{ResourceSpec, ScopeSpec, ToolSpec};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ScopeDef, ToolDef};
use crate::auth::Operator;
use crate::error::Problem;
use crate::AdminState;

/// The gateway's per-resource switches.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsDef {
    /// A `tools/call` of a tool missing from the catalogue is refused unless this is on.
    #[serde(default)]
    pub allow_unlisted_tools: bool,
    /// `tools/list` answers list only the tools the token may call (default on).
    #[serde(default = "yes")]
    pub filter_tools_list: bool,
    /// Introspection answers (and the gateway's upstream JWT) carry the user's email and name.
    #[serde(default)]
    pub share_identity: bool,
    /// Only DPoP-bound tokens are accepted at the gateway (RFC 9449); bearer tokens are refused.
    #[serde(default)]
    pub require_dpop: bool,
}

fn yes() -> bool {
    true
}

/// A scope rule: `resources` match a URI prefix, `prompts` a name (or `*`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub pattern: String,
    /// Every scope a matching request needs (each in the catalogue).
    pub scopes: Vec<String>,
}

/// A resource's whole catalogue: the `resource.toml` format as JSON.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogueDef {
    /// The resource's URI; it cannot change.
    pub uri: String,
    pub display_name: String,
    pub scopes: Vec<ScopeDef>,
    #[serde(default)]
    pub tools: Vec<ToolDef>,
    #[serde(default)]
    pub settings: Option<SettingsDef>,
    #[serde(default)]
    pub resources: Vec<RuleDef>,
    #[serde(default)]
    pub prompts: Vec<RuleDef>,
}

impl CatalogueDef {
    pub(crate) fn into_spec(self) -> Result<ResourceSpec, Problem> {
        let scopes = super::scope_specs(self.scopes)?;
        let rules = |v: Vec<RuleDef>| -> Vec<Rule> {
            v.into_iter()
                .map(|r| Rule {
                    pattern: r.pattern,
                    scopes: r.scopes,
                })
                .collect()
        };
        Ok(ResourceSpec {
            uri: self.uri,
            display_name: self.display_name,
            scopes,
            tools: self
                .tools
                .into_iter()
                .map(|t| ToolSpec {
                    name: t.name,
                    scopes: t.scopes,
                    description: t.description,
                })
                .collect(),
            settings: self
                .settings
                .map(|s| ResourceSettings {
                    allow_unlisted_tools: s.allow_unlisted_tools,
                    filter_tools_list: s.filter_tools_list,
                    share_identity: s.share_identity,
                    require_dpop: s.require_dpop,
                })
                .unwrap_or_default(),
            resources: rules(self.resources),
            prompts: rules(self.prompts),
        })
    }

    fn from_spec(s: ResourceSpec) -> Self {
        let rules = |v: Vec<Rule>| -> Vec<RuleDef> {
            v.into_iter()
                .map(|r| RuleDef {
                    pattern: r.pattern,
                    scopes: r.scopes,
                })
                .collect()
        };
        CatalogueDef {
            uri: s.uri,
            display_name: s.display_name,
            scopes: s
                .scopes
                .into_iter()
                .map(|x: ScopeSpec| ScopeDef {
                    name: x.name,
                    description: x.description,
                    tier: x.tier.as_str().into(),
                })
                .collect(),
            tools: s
                .tools
                .into_iter()
                .map(|t| ToolDef {
                    name: t.name,
                    scopes: t.scopes,
                    description: t.description,
                })
                .collect(),
            settings: Some(SettingsDef {
                allow_unlisted_tools: s.settings.allow_unlisted_tools,
                filter_tools_list: s.settings.filter_tools_list,
                share_identity: s.settings.share_identity,
                require_dpop: s.settings.require_dpop,
            }),
            resources: rules(s.resources),
            prompts: rules(s.prompts),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogueOut {
    pub version: i64,
    pub catalogue: CatalogueDef,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TierChangeOut {
    pub scope: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SettingChangeOut {
    pub setting: String,
    pub from: bool,
    pub to: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevocationOut {
    /// Grant families revoked, each with its refresh and access tokens.
    pub grants_revoked: u64,
    pub tokens_revoked: u64,
    pub org_grants_removed: u64,
    pub consents_changed: u64,
}

/// What an update changes (lists sorted by name).
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogueDiffOut {
    pub resource: String,
    pub resource_id: String,
    pub from_version: i64,
    /// The version applying makes (`from_version` when nothing changes).
    pub to_version: i64,
    /// False for a dry run and when nothing changes.
    pub applied: bool,
    /// `[old, new]`, when the display name changes.
    pub display_name: Option<Vec<String>>,
    pub scopes_added: Vec<String>,
    pub scopes_removed: Vec<String>,
    pub tiers_changed: Vec<TierChangeOut>,
    pub descriptions_changed: Vec<String>,
    pub tools_added: Vec<String>,
    pub tools_removed: Vec<String>,
    pub tools_changed: Vec<String>,
    /// `resources:<prefix>` and `prompts:<name>`.
    pub rules_added: Vec<String>,
    pub rules_removed: Vec<String>,
    pub rules_changed: Vec<String>,
    pub settings_changed: Vec<SettingChangeOut>,
    /// Scopes removed or raised to a higher tier: applying revokes every token, org grant and
    /// consent that carries one.
    pub revoking: Vec<String>,
    /// What applying revoked (absent for a dry run).
    pub revoked: Option<RevocationOut>,
}

impl From<CatalogueDiff> for CatalogueDiffOut {
    fn from(d: CatalogueDiff) -> Self {
        CatalogueDiffOut {
            resource: d.resource,
            resource_id: d.resource_id,
            from_version: d.from_version,
            to_version: d.to_version,
            applied: d.applied,
            display_name: d.display_name.map(Vec::from),
            scopes_added: d.scopes_added,
            scopes_removed: d.scopes_removed,
            tiers_changed: d
                .tiers_changed
                .into_iter()
                .map(|t| TierChangeOut {
                    scope: t.scope,
                    from: t.from.as_str().into(),
                    to: t.to.as_str().into(),
                })
                .collect(),
            descriptions_changed: d.descriptions_changed,
            tools_added: d.tools_added,
            tools_removed: d.tools_removed,
            tools_changed: d.tools_changed,
            rules_added: d.rules_added,
            rules_removed: d.rules_removed,
            rules_changed: d.rules_changed,
            settings_changed: d
                .settings_changed
                .into_iter()
                .map(|s| SettingChangeOut {
                    setting: s.setting.into(),
                    from: s.from,
                    to: s.to,
                })
                .collect(),
            revoking: d.revoking,
            revoked: d.revoked.map(|r| RevocationOut {
                grants_revoked: r.grants_revoked,
                tokens_revoked: r.tokens_revoked,
                org_grants_removed: r.org_grants_removed,
                consents_changed: r.consents_changed,
            }),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UpdateQuery {
    /// `true`: only compute the diff, write nothing. Default `false`.
    pub dry_run: Option<bool>,
}

/// A resource's catalogue as stored now, with its version.
#[utoipa::path(
    tag = "operator",
    security(("bearer" = [])),
    params(("resource_id" = String, Path, description = "The resource's id")),
    responses(
        (status = 200, description = "The catalogue", body = CatalogueOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/resources/{resource_id}/catalogue")]
pub async fn get_catalogue(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
) -> Result<web::Json<CatalogueOut>, Problem> {
    let (version, spec) = app::resource::show(&st.store, &op.principal(), &path).await?;
    Ok(web::Json(CatalogueOut {
        version,
        catalogue: CatalogueDef::from_spec(spec),
    }))
}

/// Replaces a resource's catalogue and answers what changed. With `dry_run=true` nothing is
/// written. Applying bumps the version (kept, audited as `resource.catalogue_updated` on the
/// platform chain) and revokes every token, org grant and consent that carries a removed scope
/// or one raised to a higher tier. Every node uses the new catalogue within 2 seconds.
#[utoipa::path(
    tag = "operator",
    security(("bearer" = [])),
    params(("resource_id" = String, Path, description = "The resource's id"), UpdateQuery),
    request_body = CatalogueDef,
    responses(
        (status = 200, description = "The diff (applied unless a dry run)", body = CatalogueDiffOut),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another update came first", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/resources/{resource_id}/catalogue")]
pub async fn update_catalogue(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
    req: actix_web::HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let q: UpdateQuery = crate::error::query(&req)?;
    let body: CatalogueDef = crate::error::json(&body)?;
    let spec = body.into_spec()?;
    let dry_run = q.dry_run.unwrap_or(false);
    let d = app::resource::update(
        &st.store,
        st.clock.as_ref(),
        &op.principal(),
        &path,
        spec,
        dry_run,
    )
    .await?;
    Ok(HttpResponse::Ok().json(CatalogueDiffOut::from(d)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionOut {
    pub version: i64,
    /// `operator` (the CLI) or `operator-key:<id>`.
    pub changed_by: String,
    /// RFC 3339.
    pub changed_at: String,
    pub summary: String,
}

/// The versions of a resource's catalogue, newest first.
#[utoipa::path(
    tag = "operator",
    security(("bearer" = [])),
    params(("resource_id" = String, Path, description = "The resource's id")),
    responses(
        (status = 200, description = "The versions", body = [VersionOut]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/resources/{resource_id}/versions")]
pub async fn list_catalogue_versions(
    op: Operator,
    st: web::Data<AdminState>,
    path: web::Path<String>,
) -> Result<web::Json<Vec<VersionOut>>, Problem> {
    let (_, versions) = app::resource::versions(&st.store, &op.principal(), &path).await?;
    Ok(web::Json(
        versions
            .into_iter()
            .map(|v| VersionOut {
                version: v.version,
                changed_by: v.changed_by,
                changed_at: authz_core::clock::rfc3339(v.changed_at, chrono::SecondsFormat::Secs),
                summary: v.summary,
            })
            .collect(),
    ))
}
