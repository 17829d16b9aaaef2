//! Protected resources (MCP servers), their scope catalogues, tools and the credentials they use
//! at the introspection and audit endpoints.
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Deserialize;

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::crypto::{hashes_equal, random_hex16, random_token, sha256_hex};
use crate::db::Store;
use crate::entities::{resource_scopes, resource_tools, resources};
use crate::error::{CoreError, CoreResult};
use crate::scope::Tier;

/// `resource.toml` as the operator writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    pub uri: String,
    pub display_name: String,
    #[serde(default)]
    pub scopes: Vec<ScopeSpec>,
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ScopeSpec {
    pub name: String,
    pub description: String,
    pub tier: Tier,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    pub name: String,
    pub scopes: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Resource {
    pub id: String,
    pub uri: String,
    pub display_name: String,
    pub rs_client_id: String,
}

#[derive(Clone, Debug)]
pub struct Scope {
    pub name: String,
    pub description: String,
    pub tier: Tier,
}

pub struct Registered {
    pub resource: Resource,
    pub introspection_client_id: String,
    /// Shown once; only its hash is kept.
    pub introspection_client_secret: String,
}

/// RFC 8707 resource URIs are absolute, without fragment; a trailing slash on the path is
/// normalised away so `https://x/mcp/` and `https://x/mcp` name one resource.
pub fn normalize_uri(uri: &str) -> CoreResult<String> {
    let u = url::Url::parse(uri.trim())
        .map_err(|_| CoreError::invalid(format!("'{uri}' is not an absolute URI")))?;
    if u.fragment().is_some() {
        return Err(CoreError::invalid(
            "a resource URI must not contain a fragment (RFC 8707 §2)",
        ));
    }
    if u.scheme() != "https" && u.scheme() != "http" {
        return Err(CoreError::invalid("a resource URI must be http(s)"));
    }
    let mut s = u.to_string();
    if u.query().is_none() && s.ends_with('/') {
        s.pop();
    }
    Ok(s)
}

fn valid_scope_name(s: &str) -> bool {
    // RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// A protected resource is reached over https; plain http only on a loopback address, for
/// development (tokens are bearer credentials: RFC 6750 §5.3, DESIGN §6).
pub fn require_secure_uri(uri: &str) -> CoreResult<()> {
    let u = url::Url::parse(uri)
        .map_err(|_| CoreError::invalid(format!("'{uri}' is not an absolute URI")))?;
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if u.scheme() == "https" || loopback {
        Ok(())
    } else {
        Err(CoreError::invalid(format!(
            "the resource URI '{uri}' must be https (plain http only on a loopback address, for development)"
        )))
    }
}

pub async fn register(
    store: &Store,
    clock: &dyn Clock,
    spec: ResourceSpec,
) -> CoreResult<Registered> {
    let uri = normalize_uri(&spec.uri)?;
    require_secure_uri(&uri)?;
    if spec.display_name.trim().is_empty() {
        return Err(CoreError::invalid("display_name must not be empty"));
    }
    if spec.scopes.is_empty() {
        return Err(CoreError::invalid(
            "a resource needs at least one scope in its catalogue",
        ));
    }
    let mut names = std::collections::HashSet::new();
    for s in &spec.scopes {
        if !valid_scope_name(&s.name) || s.name == crate::scope::OFFLINE_ACCESS {
            return Err(CoreError::invalid(format!(
                "'{}' is not a valid scope name",
                s.name
            )));
        }
        if !names.insert(s.name.clone()) {
            return Err(CoreError::invalid(format!(
                "scope '{}' is listed twice",
                s.name
            )));
        }
    }
    let mut tools = std::collections::HashSet::new();
    for t in &spec.tools {
        if t.name.trim().is_empty() || t.name.len() > 200 {
            return Err(CoreError::invalid("a tool name must be 1-200 characters"));
        }
        if !tools.insert(t.name.clone()) {
            return Err(CoreError::invalid(format!(
                "tool '{}' is listed twice",
                t.name
            )));
        }
        for s in &t.scopes {
            if !names.contains(s) {
                return Err(CoreError::invalid(format!(
                    "tool '{}' needs scope '{s}', which is not in the catalogue",
                    t.name
                )));
            }
        }
    }
    let txn = store.begin().await?;
    if resources::Entity::find()
        .filter(resources::Column::Uri.eq(uri.clone()))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(CoreError::conflict(format!(
            "resource '{uri}' is already registered"
        )));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let rs_client_id = format!("rs_{}", random_hex16());
    let secret = random_token();
    let now = clock.now_us();
    resources::Entity::insert(resources::ActiveModel {
        id: Set(id.clone()),
        uri: Set(uri.clone()),
        display_name: Set(spec.display_name.trim().to_string()),
        rs_client_id: Set(rs_client_id.clone()),
        rs_secret_hash: Set(sha256_hex(&secret)),
        created_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;
    for s in &spec.scopes {
        resource_scopes::Entity::insert(resource_scopes::ActiveModel {
            resource_id: Set(id.clone()),
            name: Set(s.name.clone()),
            description: Set(s.description.clone()),
            tier: Set(s.tier.as_str().to_string()),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    for t in &spec.tools {
        resource_tools::Entity::insert(resource_tools::ActiveModel {
            resource_id: Set(id.clone()),
            name: Set(t.name.clone()),
            scopes: Set(serde_json::to_string(&t.scopes).unwrap_or_default()),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    audit::record(
        &txn,
        clock,
        AuditEvent::new(None, "resource.registered")
            .actor("operator")
            .resource(uri.clone())
            .detail("scopes", spec.scopes.len())
            .detail("tools", spec.tools.len()),
    )
    .await?;
    txn.commit().await?;
    Ok(Registered {
        resource: Resource {
            id,
            uri,
            display_name: spec.display_name,
            rs_client_id: rs_client_id.clone(),
        },
        introspection_client_id: rs_client_id,
        introspection_client_secret: secret,
    })
}

fn to_resource(m: resources::Model) -> Resource {
    Resource {
        id: m.id,
        uri: m.uri,
        display_name: m.display_name,
        rs_client_id: m.rs_client_id,
    }
}

pub async fn find_by_uri<C: ConnectionTrait>(conn: &C, uri: &str) -> CoreResult<Option<Resource>> {
    let Ok(uri) = normalize_uri(uri) else {
        return Ok(None);
    };
    Ok(resources::Entity::find()
        .filter(resources::Column::Uri.eq(uri))
        .one(conn)
        .await?
        .map(to_resource))
}

pub async fn get<C: ConnectionTrait>(conn: &C, id: &str) -> CoreResult<Resource> {
    resources::Entity::find_by_id(id.to_string())
        .one(conn)
        .await?
        .map(to_resource)
        .ok_or(CoreError::NotFound("resource"))
}

pub async fn catalogue<C: ConnectionTrait>(conn: &C, resource_id: &str) -> CoreResult<Vec<Scope>> {
    Ok(resource_scopes::Entity::find()
        .filter(resource_scopes::Column::ResourceId.eq(resource_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| Scope {
            name: m.name,
            description: m.description,
            tier: Tier::parse(&m.tier).unwrap_or(Tier::Critical),
        })
        .collect())
}

pub async fn all_scope_names<C: ConnectionTrait>(conn: &C) -> CoreResult<Vec<String>> {
    let mut v: Vec<String> = resource_scopes::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|m| m.name)
        .collect();
    v.sort();
    v.dedup();
    Ok(v)
}

/// Authenticates a resource server (introspection, audit events). A missing or wrong credential
/// is `None`: the caller answers `invalid_client`.
pub async fn authenticate<C: ConnectionTrait>(
    conn: &C,
    client_id: &str,
    secret: &str,
) -> CoreResult<Option<Resource>> {
    let Some(m) = resources::Entity::find()
        .filter(resources::Column::RsClientId.eq(client_id))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    if hashes_equal(&m.rs_secret_hash, &sha256_hex(secret)) {
        Ok(Some(to_resource(m)))
    } else {
        Ok(None)
    }
}

/// A resource with its scope catalogue.
pub type Catalogue = (Resource, Vec<Scope>);

/// A resource and its catalogue, from this node's memory once loaded: both are fixed at
/// registration (there is no update or delete), so caching them cannot make nodes disagree.
/// Tokens, grants and revocations are never cached. `conn` is used on a miss (pass the open
/// transaction so a single-connection store cannot wait on itself).
pub async fn with_catalogue<C: ConnectionTrait>(
    store: &crate::Store,
    conn: &C,
    id: &str,
) -> CoreResult<Catalogue> {
    if let Some(c) = store.catalogues.read().expect("catalogue cache").get(id) {
        return Ok(c.clone());
    }
    let loaded = (get(conn, id).await?, catalogue(conn, id).await?);
    store
        .catalogues
        .write()
        .expect("catalogue cache")
        .insert(id.to_string(), loaded.clone());
    Ok(loaded)
}

/// Every registered resource (the console's Apps page), by display name.
pub async fn list<C: ConnectionTrait>(conn: &C) -> CoreResult<Vec<Resource>> {
    use sea_orm::QueryOrder;
    Ok(resources::Entity::find()
        .order_by_asc(resources::Column::DisplayName)
        .all(conn)
        .await?
        .into_iter()
        .map(to_resource)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::require_secure_uri;

    #[test]
    fn resource_uris_are_https_or_loopback_http() {
        for ok in [
            "https://crm.example.com/mcp",
            "http://127.0.0.1:8080/mcp",
            "http://localhost:3000/mcp",
            "http://[::1]:9000/mcp",
        ] {
            assert!(require_secure_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://crm.example.com/mcp",
            "http://10.0.0.5/mcp",
            "http://localhost.evil.example/mcp",
        ] {
            assert!(require_secure_uri(bad).is_err(), "{bad}");
        }
    }
}
