//! Tenants and their verified domains. A domain belongs to at most one tenant and consumer mail
//! domains are refused (DESIGN §6.1): home-realm discovery by email domain relies on both.
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, NotSet, QueryFilter, Set};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::db::{is_unique_violation, Store};
use crate::entities::{tenant_domains, tenants};
use crate::error::{CoreError, CoreResult};

/// A tenant id obtained from the store. Every tenant-data function takes one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TenantId(pub String);

impl TenantId {
    pub fn as_str(&self) -> &str {
        &self.0
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

/// Every tenant, by slug (the operator's list).
pub async fn list<C: ConnectionTrait>(conn: &C) -> CoreResult<Vec<Tenant>> {
    use sea_orm::QueryOrder;
    Ok(tenants::Entity::find()
        .order_by_asc(tenants::Column::Slug)
        .all(conn)
        .await?
        .into_iter()
        .map(Tenant::from)
        .collect())
}
