//! Directory queries (STYLE §5; lldap's `UserRequestFilter` shape): one filter AST for every
//! surface that searches the directory, its translation into SQL, and the map from attributes
//! to the directory entities' columns.
//!
//! - [`ast`]: the protocol-neutral [`Filter`]. SCIM parses its wire syntax into it (the `scim`
//!   crate owns RFC 7644 §3.4.2.2's grammar); the console builds it for its user search.
//! - [`sql`]: [`Schema`], the allow-list of filterable attributes of one resource type, and
//!   [`Schema::to_condition`], the only way to apply a filter — there is no in-memory
//!   evaluation, so paging and counting stay in the database and a filter cannot reach a
//!   column the schema does not name.
//! - [`schema`]: the schemas of the directory's users and groups ([`users`], [`groups`]),
//!   written over the `scim_users`/`scim_groups` entities, and of SSO identities
//!   ([`identities`], the admin's user search). No other crate names those columns.
//!
//! ```
//! use authz_core::directory::filter::{users, AttrPath, CompareOp, Filter, Value};
//! use sea_orm::sea_query::{Alias, Query, SqliteQueryBuilder};
//!
//! let filter = Filter::compare(AttrPath::new("userName"), CompareOp::Eq, Value::Str("Bjensen".into()));
//! let sql = Query::select()
//!     .column(Alias::new("id"))
//!     .from(Alias::new("scim_users"))
//!     .cond_where(users().to_condition(&filter).unwrap())
//!     .to_string(SqliteQueryBuilder);
//! assert!(sql.contains(r#""scim_users"."user_name_lower" = 'bjensen'"#));
//! ```
pub mod ast;
pub mod schema;
pub mod sql;

pub use ast::{AttrPath, CompareOp, Filter, Value};
pub use schema::{
    groups, identities, identity_text_search, user_text_search, users, ENTERPRISE_USER_URN,
    GROUP_URN, USER_URN,
};
pub use sql::{Column, ColumnType, MultiValued, Schema};

/// Why a filter cannot be translated. Surfaces map it to their own format in one place (SCIM:
/// `scim::filter::FilterError`, `invalidFilter` with codes SCIM0001/SCIM0002).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    /// The filter compares an attribute with a value or operator its type does not allow, or
    /// nests too deep.
    #[error("invalid filter: {0}")]
    InvalidFilter(String),
    /// The filter names an attribute the schema does not expose to filtering.
    #[error("unknown attribute: {0}")]
    UnknownAttribute(String),
}

impl FilterError {
    /// The human explanation, without a code.
    pub fn detail(&self) -> &str {
        match self {
            FilterError::InvalidFilter(m) | FilterError::UnknownAttribute(m) => m,
        }
    }
}
