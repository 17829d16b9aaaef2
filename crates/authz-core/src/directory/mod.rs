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
//! - [`filter`]: the one filter AST of directory searches (SCIM's and the console's), its
//!   translation into SQL, and which attribute lives in which column.
use sea_orm::sea_query::Condition;
use serde_json::Value;

pub mod admission;
pub mod filter;
pub mod groups;
pub mod lifecycle;
pub mod policy;
pub mod users;

pub use policy::Provisioning;

/// The one case folding: shadow columns are written with it, and [`filter`] folds the values
/// compared with them the same way (SCIM's PATCH filters re-export it as `fold_case`).
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// A page of a filtered, sorted list (RFC 7644 §3.4.2.3, §3.4.2.4).
#[derive(Clone, Debug)]
pub struct ListQuery {
    /// The translated filter ([`filter::Schema::to_condition`]; always AND-ed with the tenant).
    pub condition: Condition,
    /// The column to sort on ([`filter::Schema::sort_column`]) and whether ascending; `None`
    /// sorts by creation.
    pub sort: Option<(String, bool)>,
    /// 1-based index of the first result.
    pub start_index: u64,
    /// Most results to return; 0 asks only for the total.
    pub count: u64,
}

impl ListQuery {
    /// Every resource (up to `count`), sorted ascending by the attribute `sort_by` of `schema`
    /// (`displayName`): a console list, with no column name outside the core.
    pub fn all_by(schema: &filter::Schema, sort_by: &str, count: u64) -> ListQuery {
        ListQuery {
            condition: Condition::all(),
            sort: schema.sort_column(sort_by).map(|c| (c.to_string(), true)),
            start_index: 1,
            count,
        }
    }
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
