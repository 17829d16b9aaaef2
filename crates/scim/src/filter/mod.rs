//! SCIM filters (RFC 7644 §3.4.2.2): the wire grammar ([`parse`]) producing the directory's
//! protocol-neutral [`Filter`] AST, and the SCIM face of its translation ([`sql`]): the AST,
//! the allow-listed [`Schema`] and the SQL translation live in `authz_core::directory::filter`;
//! this module maps their refusals to SCIM's (`invalidFilter`, codes SCIM0001/SCIM0002).
//!
//! A filter is never evaluated in memory: the only output of the translation is a SQL
//! condition, so paging and counting stay in the database and a filter cannot reach a column
//! the schema does not name.
//!
//! ```
//! use scim::filter::{parse_filter, Column, MultiValued, Schema};
//! use sea_orm::sea_query::{Alias, Query, SqliteQueryBuilder};
//!
//! let users = Schema::new("urn:ietf:params:scim:schemas:core:2.0:User", "users", "id")
//!     .attr("userName", Column::ci_string("user_name_lower"))
//!     .attr("active", Column::boolean("active"))
//!     .multi_valued(
//!         "emails",
//!         MultiValued::new("user_emails", "user_id")
//!             .attr("value", Column::ci_string("value_lower"))
//!             .attr("type", Column::ci_string("type_lower")),
//!     );
//! let filter = parse_filter(r#"userName eq "Bjensen" and emails[type eq "work"]"#).unwrap();
//! let condition = users.to_condition(&filter).unwrap();
//! let sql = Query::select()
//!     .column((Alias::new("users"), Alias::new("id")))
//!     .from(Alias::new("users"))
//!     .cond_where(condition)
//!     .to_string(SqliteQueryBuilder);
//! assert!(sql.contains(r#""users"."user_name_lower" = 'bjensen'"#));
//! ```
pub mod parse;
pub mod sql;

pub use authz_core::directory::filter::{AttrPath, CompareOp, Filter, Value};
pub use parse::{parse_attr_path, parse_filter, MAX_DEPTH, MAX_FILTER_LEN};
pub use sql::{fold_case, Column, ColumnType, MultiValued, Schema};

/// Why a filter was refused. Each variant maps to one SCIM `scimType` (RFC 7644 §3.12) and
/// carries a stable, greppable code.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    /// The filter is not well formed, too long or too deep, or compares an attribute with a
    /// value or operator its type does not allow.
    #[error("SCIM0001 INVALID_FILTER: {0}")]
    InvalidFilter(String),
    /// The filter names an attribute this resource does not expose to filtering. RFC 7644
    /// §3.4.2.2 and Table 9 make an unsupported attribute in a filter `invalidFilter`
    /// (`invalidPath` is for PATCH paths); the distinct code keeps the reason greppable.
    #[error("SCIM0002 UNKNOWN_ATTRIBUTE: {0}")]
    UnknownAttribute(String),
}

impl FilterError {
    /// The `scimType` of the 400 response (RFC 7644 §3.12 Table 9).
    pub fn scim_type(&self) -> &'static str {
        match self {
            FilterError::InvalidFilter(_) => "invalidFilter",
            FilterError::UnknownAttribute(_) => "invalidFilter",
        }
    }

    /// The stable code, for logs and audit.
    pub fn code(&self) -> &'static str {
        match self {
            FilterError::InvalidFilter(_) => "SCIM0001",
            FilterError::UnknownAttribute(_) => "SCIM0002",
        }
    }

    /// The message without the code, for the SCIM error `detail`.
    pub fn detail(&self) -> &str {
        match self {
            FilterError::InvalidFilter(m) | FilterError::UnknownAttribute(m) => m,
        }
    }
}

/// The one place the core's translation refusals become SCIM's: same variant, same message.
impl From<authz_core::directory::filter::FilterError> for FilterError {
    fn from(e: authz_core::directory::filter::FilterError) -> Self {
        use authz_core::directory::filter::FilterError as Core;
        match e {
            Core::InvalidFilter(m) => FilterError::InvalidFilter(m),
            Core::UnknownAttribute(m) => FilterError::UnknownAttribute(m),
        }
    }
}
