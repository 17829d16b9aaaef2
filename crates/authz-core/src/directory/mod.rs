//! The SCIM directory (ADR 0006; DESIGN §6.4, §7): users and groups a tenant's IdP provisions,
//! and what their changes do to access. Protocol-neutral: the SCIM crate maps JSON to these
//! records; the admin console will read the same tables.
//!
//! - [`users`] and [`groups`]: storage, tenant-scoped by construction (every statement carries
//!   `tenant_id`). Membership changes are set operations, never read-modify-write of a list.
//! - [`lifecycle`]: deactivation, deletion and group loss revoke access in the caller's
//!   transaction, with audit records.
//! - [`admission`]: the provisioning policy and the SCIM–SSO link applied at sign-in.
//! - [`policy`]: the tenant's provisioning policy (`jit` or `scim`).
use sea_orm::sea_query::{Alias, Condition};
use sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::error::CoreResult;
use crate::tenant::TenantId;

pub mod admission;
pub mod groups;
pub mod lifecycle;
pub mod policy;
pub mod users;

pub use policy::Provisioning;

pub(crate) fn t(n: &str) -> Alias {
    Alias::new(n)
}

pub(crate) async fn exec<C: ConnectionTrait, S: sea_orm::StatementBuilder>(
    conn: &C,
    q: &S,
) -> CoreResult<u64> {
    Ok(conn
        .execute(conn.get_database_backend().build(q))
        .await?
        .rows_affected())
}

/// The one case folding for shadow columns; it must equal `scim::filter::fold_case`, which
/// folds filter values the same way.
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// A page of a filtered, sorted list (RFC 7644 §3.4.2.3, §3.4.2.4).
#[derive(Clone, Debug)]
pub struct ListQuery {
    /// The translated filter (always AND-ed with the tenant).
    pub condition: Condition,
    /// The column to sort on and whether ascending; `None` sorts by creation.
    pub sort: Option<(String, bool)>,
    /// 1-based index of the first result.
    pub start_index: u64,
    /// Most results to return; 0 asks only for the total.
    pub count: u64,
}

/// One page and the number of resources matching the filter.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
}

/// An email value of a user, as filters see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    pub value: String,
    pub kind: Option<String>,
    pub primary: bool,
}

/// What the SCIM layer extracted from a user representation.
#[derive(Clone, Debug, Default)]
pub struct UserFields {
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub title: Option<String>,
    pub user_type: Option<String>,
    pub employee_number: Option<String>,
    pub department: Option<String>,
    pub emails: Vec<Email>,
    /// The whole representation without `id`, `meta` and `groups`, returned as stored.
    pub resource: Value,
}

/// What the SCIM layer extracted from a group representation (members travel separately).
#[derive(Clone, Debug, Default)]
pub struct GroupFields {
    pub display_name: String,
    pub external_id: Option<String>,
    /// The representation without `id`, `meta` and `members`.
    pub resource: Value,
}

/// Who changed the directory, for the audit log (the SCIM token's id, or `operator`).
#[derive(Clone, Debug)]
pub struct Actor(pub String);

pub(crate) fn tenant_cond(table: &str, tenant: &TenantId) -> Condition {
    use sea_orm::sea_query::Expr;
    Condition::all().add(Expr::col((t(table), t("tenant_id"))).eq(tenant.0.clone()))
}
