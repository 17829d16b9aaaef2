//! Tenants and their verified domains. A domain belongs to at most one tenant and consumer mail
//! domains are refused (DESIGN §6.1): home-realm discovery by email domain relies on both.
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, NotSet, QueryFilter, Set};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::{is_unique_violation, Store};
use crate::entities::{tenant_domains, tenants};
use crate::error::{CoreError, CoreResult};

/// A tenant id: the canonical (lowercase, hyphenated) UUID of a tenant. Every tenant-data
/// function takes one. The field is private: an id comes from the store (a row's tenant
/// column) or through [`TenantId::parse`], which refuses anything that is not a canonical UUID,
/// so a string from a request cannot be passed on as a tenant unchecked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TenantId(String);

impl TenantId {
    /// A tenant id from outside the store (a request body, a CLI argument, a test): only a
    /// canonical UUID (lowercase, hyphenated) is one.
    pub fn parse(s: &str) -> CoreResult<TenantId> {
        match uuid::Uuid::try_parse(s) {
            Ok(u) if u.hyphenated().to_string() == s => Ok(TenantId(s.to_string())),
            _ => Err(CoreError::invalid(
                "a tenant id is a UUID in lowercase hyphenated form",
            )),
        }
    }

    /// A tenant id read from the store's own tenant column, which only ever holds ids this
    /// crate minted (`tenant::create`) or the platform chain's.
    pub(crate) fn from_stored(s: String) -> TenantId {
        TenantId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Mail domains anyone can sign up for; a tenant cannot claim them.
const CONSUMER_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "ymail.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "pm.me",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "mail.com",
    "yandex.com",
    "yandex.ru",
    "zoho.com",
    "qq.com",
    "163.com",
    "126.com",
    "fastmail.com",
    "hey.com",
    "tutanota.com",
    "mail.ru",
];

pub fn normalize_domain(d: &str) -> CoreResult<String> {
    let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
    let valid = !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !valid {
        return Err(CoreError::invalid(format!(
            "'{d}' is not a valid domain name"
        )));
    }
    if CONSUMER_DOMAINS.contains(&d.as_str()) {
        return Err(CoreError::invalid(format!(
            "'{d}' is a consumer mail domain; a tenant can only claim a domain its organisation owns"
        )));
    }
    Ok(d)
}

fn validate_slug(slug: &str) -> CoreResult<()> {
    let ok = (2..=63).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && slug != "platform";
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "slug must be 2-63 characters of a-z, 0-9 and '-' (and not 'platform')",
        ))
    }
}

#[derive(Clone, Debug)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
}

impl From<tenants::Model> for Tenant {
    fn from(m: tenants::Model) -> Self {
        Tenant {
            id: TenantId(m.id),
            slug: m.slug,
            name: m.name,
        }
    }
}

/// Creates a tenant with its domains. Domains added by the operator are verified by fiat
/// (the operator vouches; DNS verification comes with the admin console).
pub async fn create(
    store: &Store,
    clock: &dyn Clock,
    slug: &str,
    name: &str,
    domains: &[String],
) -> CoreResult<Tenant> {
    validate_slug(slug)?;
    if name.trim().is_empty() {
        return Err(CoreError::invalid("name must not be empty"));
    }
    if domains.is_empty() {
        return Err(CoreError::invalid("at least one --domain is required"));
    }
    let domains = domains
        .iter()
        .map(|d| normalize_domain(d))
        .collect::<CoreResult<Vec<_>>>()?;
    let txn = store.begin().await?;
    if tenants::Entity::find()
        .filter(tenants::Column::Slug.eq(slug))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(CoreError::conflict(format!(
            "a tenant with slug '{slug}' already exists"
        )));
    }
    for d in &domains {
        if let Some(owner) = tenant_domains::Entity::find_by_id(d.clone())
            .one(&txn)
            .await?
        {
            let _ = owner;
            return Err(CoreError::conflict(format!(
                "domain '{d}' already belongs to another tenant"
            )));
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let now = clock.now_us();
    tenants::Entity::insert(tenants::ActiveModel {
        suspended_at: Set(None),
        removed_at: Set(None),
        id: Set(id.clone()),
        slug: Set(slug.to_string()),
        name: Set(name.trim().to_string()),
        created_at: Set(now),
        // Column defaults: provisioning, alert recipients, admin group, settings.
        ..Default::default()
    })
    .exec_without_returning(&txn)
    .await?;
    for d in &domains {
        let r = tenant_domains::Entity::insert(tenant_domains::ActiveModel {
            domain: Set(d.clone()),
            tenant_id: Set(id.clone()),
            verified: Set(true),
            created_at: Set(now),
            verification_token: NotSet,
            verified_at: NotSet,
            verified_by: NotSet,
        })
        .exec_without_returning(&txn)
        .await;
        if let Err(e) = r {
            if is_unique_violation(&e) {
                return Err(CoreError::conflict(format!(
                    "domain '{d}' already belongs to another tenant"
                )));
            }
            return Err(e.into());
        }
    }
    let tid = TenantId(id);
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(&tid), "tenant.created")
            .actor("operator")
            .detail("slug", slug)
            .detail("domains", domains.clone()),
    )
    .await?;
    txn.commit().await?;
    Ok(Tenant {
        id: tid,
        slug: slug.to_string(),
        name: name.trim().to_string(),
    })
}

pub async fn find_by_slug<C: ConnectionTrait>(conn: &C, slug: &str) -> CoreResult<Tenant> {
    tenants::Entity::find()
        .filter(tenants::Column::Slug.eq(slug))
        .filter(tenants::Column::RemovedAt.is_null())
        .one(conn)
        .await?
        .map(Tenant::from)
        .ok_or(CoreError::NotFound("tenant"))
}

pub async fn get<C: ConnectionTrait>(conn: &C, id: &TenantId) -> CoreResult<Tenant> {
    tenants::Entity::find_by_id(id.0.clone())
        .one(conn)
        .await?
        .map(Tenant::from)
        .ok_or(CoreError::NotFound("tenant"))
}

/// Home-realm discovery: the tenant owning the email's verified domain.
pub async fn find_by_email_domain<C: ConnectionTrait>(
    conn: &C,
    email: &str,
) -> CoreResult<Option<Tenant>> {
    let Some((_, domain)) = email.trim().rsplit_once('@') else {
        return Ok(None);
    };
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let Some(d) = tenant_domains::Entity::find_by_id(domain)
        .filter(tenant_domains::Column::Verified.eq(true))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(get(conn, &TenantId(d.tenant_id)).await?))
}

/// The verified domains of a tenant (lower case).
pub async fn domains<C: ConnectionTrait>(conn: &C, tenant: &TenantId) -> CoreResult<Vec<String>> {
    Ok(tenant_domains::Entity::find()
        .filter(tenant_domains::Column::TenantId.eq(tenant.0.clone()))
        .filter(tenant_domains::Column::Verified.eq(true))
        .all(conn)
        .await?
        .into_iter()
        .map(|d| d.domain)
        .collect())
}

/// Renames a tenant (its display name; the slug is its URL and stays), audited on its chain.
pub async fn rename(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    name: &str,
    actor: &str,
) -> CoreResult<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(CoreError::invalid("the name must be 1 to 200 characters"));
    }
    let txn = store.begin().await?;
    let before = get(&txn, tenant).await?;
    tenants::Entity::update_many()
        .col_expr(tenants::Column::Name, name.into())
        .filter(tenants::Column::Id.eq(tenant.0.clone()))
        .exec(&txn)
        .await?;
    crate::audit::record(
        &txn,
        clock,
        crate::audit::AuditEvent::new(Some(tenant), "tenant.renamed")
            .actor(actor)
            .detail("previous_name", before.name.as_str())
            .detail("name", name),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Every tenant, by slug (the operator's list).
pub async fn list<C: ConnectionTrait>(conn: &C) -> CoreResult<Vec<Tenant>> {
    use sea_orm::QueryOrder;
    Ok(tenants::Entity::find()
        .filter(tenants::Column::RemovedAt.is_null())
        .order_by_asc(tenants::Column::Slug)
        .all(conn)
        .await?
        .into_iter()
        .map(Tenant::from)
        .collect())
}

#[cfg(test)]
mod tenant_id_tests {
    use super::TenantId;

    #[test]
    fn only_a_canonical_uuid_is_a_tenant_id() {
        let id = "7d0c5a52-0000-4000-8000-000000000001";
        assert_eq!(TenantId::parse(id).unwrap().as_str(), id);
        for bad in [
            "",
            "acme",
            "7D0C5A52-0000-4000-8000-000000000001",
            "7d0c5a5200004000800000000000000 1",
            "7d0c5a52000040008000000000000001",
            "{7d0c5a52-0000-4000-8000-000000000001}",
            " 7d0c5a52-0000-4000-8000-000000000001",
            "7d0c5a52-0000-4000-8000-000000000001\0",
        ] {
            assert_eq!(
                TenantId::parse(bad).unwrap_err().code(),
                "invalid",
                "{bad:?}"
            );
        }
    }
}
