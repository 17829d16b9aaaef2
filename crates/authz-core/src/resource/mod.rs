//! Protected resources (MCP servers), their scope catalogues, tools and the credentials they use
//! at the introspection and audit endpoints. Catalogues change at run time (issue 13 §2):
//! [`update`] compares and applies a new spec, [`spec`] validates and stores one.
pub mod spec;
pub mod update;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use crate::audit::{self, AuditEvent};
use crate::clock::{Clock, MICROS};
use crate::crypto::{hashes_equal, random_hex16, random_token, sha256_hex};
use crate::db::Store;
use crate::entities::{resource_catalogue_versions, resource_scopes, resources};
use crate::error::{CoreError, CoreResult};
use crate::scope::Tier;

pub use spec::{validate, ResourceSpec, ScopeSpec, ToolSpec};

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
    let uri = validate(&spec)?;
    let spec = ResourceSpec {
        uri: uri.clone(),
        display_name: spec.display_name.trim().to_string(),
        ..spec
    };
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
        display_name: Set(spec.display_name.clone()),
        rs_client_id: Set(rs_client_id.clone()),
        rs_secret_hash: Set(sha256_hex(&secret)),
        created_at: Set(now),
        rs_prev_secret_hash: Set(None),
        rs_prev_secret_until: Set(None),
        catalogue_version: Set(1),
        settings: Set(spec::settings_json(&spec.settings)),
    })
    .exec_without_returning(&txn)
    .await?;
    spec::replace_catalogue(&txn, &id, &spec).await?;
    update::store_version(&txn, clock, &id, 1, &spec, "operator", "registered").await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(None, "resource.registered")
            .actor("operator")
            .resource(uri.clone())
            .detail("scopes", spec.scopes.len())
            .detail("tools", spec.tools.len())
            .detail("version", 1),
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

pub(crate) fn to_resource(m: resources::Model) -> Resource {
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

/// Authenticates a resource server (introspection, audit events) with one indexed read: its
/// current secret, or the one a rotation replaced while its overlap lasts (`now_us` before
/// `rs_prev_secret_until`). A revoked resource has an empty hash, which no secret matches. A
/// missing or wrong credential is `None`: the caller answers `invalid_client`.
pub async fn authenticate<C: ConnectionTrait>(
    conn: &C,
    now_us: i64,
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
    Ok(credential_matches(&m, now_us, secret).then(|| to_resource(m)))
}

/// The resource's current secret, or the one its last rotation replaced while the overlap
/// lasts. An empty hash (revoked) matches nothing.
pub(crate) fn credential_matches(m: &resources::Model, now_us: i64, secret: &str) -> bool {
    let presented = sha256_hex(secret);
    let current = !m.rs_secret_hash.is_empty() && hashes_equal(&m.rs_secret_hash, &presented);
    let previous = match (&m.rs_prev_secret_hash, m.rs_prev_secret_until) {
        (Some(h), Some(until)) => now_us < until && hashes_equal(h, &presented),
        _ => false,
    };
    current || previous
}

/// A resource with its scope catalogue.
pub type Catalogue = (Resource, Vec<Scope>);

/// How long a node uses a cached catalogue before it reads the stored version again: a
/// catalogue update reaches every node within this bound (issue 13 §2), and the cost is one
/// indexed read per resource per bound on the paths that use it.
pub const CATALOGUE_REFRESH_SECS: i64 = 2;

/// A catalogue as one node holds it: with its version and when the version was last checked.
#[derive(Clone, Debug)]
pub(crate) struct Cached {
    catalogue: Catalogue,
    version: i64,
    checked_at_us: i64,
}

/// A resource and its catalogue from this node's memory, at most
/// [`CATALOGUE_REFRESH_SECS`] stale: past that, one indexed read of the stored version
/// (`resources.catalogue_version`), and a reload only when it moved. The staleness is harmless
/// where it is used (code exchange, refresh, posted events): the scope *names* a token may
/// carry are re-read fresh from org grants and consents, which an update that removes or raises
/// a scope changes in its own transaction; only tiers (lifetimes) and the display name may lag
/// by the bound. Tokens, grants and revocations are never cached. `conn` is used on a check or
/// a miss (pass the open transaction so a single-connection store cannot wait on itself).
pub async fn with_catalogue<C: ConnectionTrait>(
    store: &crate::Store,
    conn: &C,
    clock: &dyn Clock,
    id: &str,
) -> CoreResult<Catalogue> {
    let now = clock.now_us();
    let held = store
        .catalogues
        .read()
        .expect("catalogue cache")
        .get(id)
        .cloned();
    if let Some(c) = held {
        let age = now - c.checked_at_us;
        if (0..CATALOGUE_REFRESH_SECS * MICROS).contains(&age) {
            return Ok(c.catalogue);
        }
        if crate::mcp_policy::stored_version(conn, id).await? == c.version {
            if let Some(e) = store
                .catalogues
                .write()
                .expect("catalogue cache")
                .get_mut(id)
            {
                if e.version == c.version {
                    e.checked_at_us = now;
                }
            }
            return Ok(c.catalogue);
        }
    }
    // The row first: if an update commits between the two reads, the version held is the older
    // one and the next check reloads again.
    let row = resources::Entity::find_by_id(id.to_string())
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("resource"))?;
    let version = row.catalogue_version;
    let loaded = (to_resource(row), catalogue(conn, id).await?);
    store.catalogues.write().expect("catalogue cache").insert(
        id.to_string(),
        Cached {
            catalogue: loaded.clone(),
            version,
            checked_at_us: now,
        },
    );
    Ok(loaded)
}

/// Drops this node's cached catalogue of `id` (the node that applied an update sees it at once;
/// the others within [`CATALOGUE_REFRESH_SECS`]).
pub fn forget_cached(store: &crate::Store, id: &str) {
    store
        .catalogues
        .write()
        .expect("catalogue cache")
        .remove(id);
}

/// One stored version of a resource's catalogue.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Version {
    pub version: i64,
    pub changed_by: String,
    /// Microseconds since the epoch.
    pub changed_at: i64,
    pub summary: String,
}

/// Every stored version of resource `id`'s catalogue, newest first.
pub async fn versions<C: ConnectionTrait>(conn: &C, id: &str) -> CoreResult<Vec<Version>> {
    use sea_orm::QueryOrder;
    Ok(resource_catalogue_versions::Entity::find()
        .select_only()
        .column(resource_catalogue_versions::Column::Version)
        .column(resource_catalogue_versions::Column::ChangedBy)
        .column(resource_catalogue_versions::Column::ChangedAt)
        .column(resource_catalogue_versions::Column::Summary)
        .filter(resource_catalogue_versions::Column::ResourceId.eq(id))
        .order_by_desc(resource_catalogue_versions::Column::Version)
        .into_tuple::<(i64, String, i64, String)>()
        .all(conn)
        .await?
        .into_iter()
        .map(|(version, changed_by, changed_at, summary)| Version {
            version,
            changed_by,
            changed_at,
            summary,
        })
        .collect())
}

/// A resource by its URI, or else by its id (the CLI and the operator API name it either way).
pub async fn find_by_uri_or_id<C: ConnectionTrait>(conn: &C, key: &str) -> CoreResult<Resource> {
    if key.contains("://") {
        return find_by_uri(conn, key)
            .await?
            .ok_or(CoreError::NotFound("resource"));
    }
    get(conn, key).await
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
