//! SCIM PATCH (RFC 7644 §3.5.2): parsing a request and applying it to a resource held as
//! `serde_json::Value`, against a [`PatchSchema`] that says which attributes exist and how they
//! may change. Pure: no database, no HTTP.
//!
//! ```
//! use scim::patch::{apply, PatchRequest, PatchSchema};
//! use serde_json::json;
//!
//! let mut user = json!({"id": "2819c223", "userName": "bjensen", "active": true});
//! let req = PatchRequest::from_json(&json!({
//!     "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
//!     "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
//! })).unwrap();
//! let outcome = apply(&mut user, &req, &PatchSchema::user()).unwrap();
//! assert!(outcome.changed);
//! assert_eq!(user["active"], json!(false));
//! ```
//!
//! Semantics chosen where RFC 7644 leaves room or real IdPs (Entra ID, Okta) depart from it:
//! - A request applies all its operations or none: the resource is only written on success.
//! - Attribute names, schema URNs, `op` and the body's member names match case-insensitively;
//!   values are written under the schema's spelling (`username` becomes `userName`).
//! - Path-less `add`/`replace` take an object whose keys are paths (`"name.givenName"`,
//!   `"urn:…:enterprise:2.0:User:department"`) or an extension URN holding an object; a
//!   `schemas` key is ignored (the engine maintains `schemas` when it writes an extension).
//! - `add` and `replace` of a single-valued complex attribute merge sub-attributes; `replace`
//!   of a multi-valued attribute replaces the whole list; `add` appends and skips values equal
//!   to one present (group members are equal when their `value` is).
//! - A value path with no matching value: `add`, and `replace` whose filter is only `eq`
//!   comparisons joined by `and` (Entra ID replaces `addresses[type eq "work"].locality` that
//!   was never set), create the value from the filter (`{"type":"work","value":…}`); any
//!   other `replace` is `noTarget`; `remove` does nothing (removal is idempotent).
//! - `remove` needs a path (`noTarget`). `remove` of a multi-valued attribute with a `value`
//!   removes only the listed values (Entra ID's member removal), without one removes all.
//! - Read-only attributes (`id`, `meta`): writing the value they already have is ignored
//!   (Okta sends the whole resource, `id` included); any other write is `mutability`.
//!   Immutable attributes may be written while unassigned or with their current value.
//! - Booleans sent as strings (`"True"`, `"false"`) and integers or decimals sent as strings
//!   are coerced; a bare string for a complex attribute with a `value` sub-attribute becomes
//!   `{"value": …}` (Entra ID's `manager`); `null` sub-attributes (`"$ref": null`) are dropped,
//!   and `null` for an attribute unassigns it (RFC 7643 §2.5).
//! - Unknown attributes are `invalidPath`; unknown sub-attributes inside a value are
//!   `invalidValue`.
//! - At most [`MAX_OPERATIONS`] operations and [`MAX_VALUES_PER_OPERATION`] values per
//!   operation (`invalidValue`). Adding and removing values is linear (hash sets).
//!
//! Group membership is reported as deltas in [`PatchOutcome`] so that the caller can apply it
//! as set operations in SQL without loading the members: the caller may leave `members` out of
//! the resource it passes, and must then store the outcome's deltas, not the `members` array
//! the engine leaves in the resource. Value filters other than `value eq "…"` on `members`
//! can only select members present in the resource.
mod apply;
mod eval;
pub mod request;
pub mod schema;

pub use apply::{apply, PatchOutcome};
pub use request::{OpKind, Operation, PatchPath, PatchRequest, PATCH_OP_URN};
pub use schema::{
    Attr, AttrType, Mutability, PatchSchema, ENTERPRISE_USER_URN, GROUP_URN, USER_URN,
};

/// Most operations accepted in one request.
pub const MAX_OPERATIONS: usize = 1000;
/// Most values accepted in one operation's `value` (e.g. members added at once).
pub const MAX_VALUES_PER_OPERATION: usize = 10_000;

/// Why a PATCH was refused. Each variant is one SCIM `scimType` (RFC 7644 §3.12 Table 9); all
/// are HTTP 400.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PatchError {
    /// The body is not a PATCH request: not JSON, no PatchOp schema, unknown `op`.
    #[error("SCIM0010 INVALID_SYNTAX: {0}")]
    InvalidSyntax(String),
    /// The path is malformed or names an attribute the resource does not have.
    #[error("SCIM0011 INVALID_PATH: {0}")]
    InvalidPath(String),
    /// A value is missing, of the wrong type, or beyond the limits.
    #[error("SCIM0012 INVALID_VALUE: {0}")]
    InvalidValue(String),
    /// The path selects nothing the operation could act on (or `remove` has no path).
    #[error("SCIM0013 NO_TARGET: {0}")]
    NoTarget(String),
    /// The operation would change a read-only or immutable attribute.
    #[error("SCIM0014 MUTABILITY: {0}")]
    Mutability(String),
}

impl PatchError {
    /// The `scimType` of the 400 response.
    pub fn scim_type(&self) -> &'static str {
        match self {
            PatchError::InvalidSyntax(_) => "invalidSyntax",
            PatchError::InvalidPath(_) => "invalidPath",
            PatchError::InvalidValue(_) => "invalidValue",
            PatchError::NoTarget(_) => "noTarget",
            PatchError::Mutability(_) => "mutability",
        }
    }

    /// The stable code, for logs and audit.
    pub fn code(&self) -> &'static str {
        match self {
            PatchError::InvalidSyntax(_) => "SCIM0010",
            PatchError::InvalidPath(_) => "SCIM0011",
            PatchError::InvalidValue(_) => "SCIM0012",
            PatchError::NoTarget(_) => "SCIM0013",
            PatchError::Mutability(_) => "SCIM0014",
        }
    }

    /// The message without the code, for the SCIM error `detail`.
    pub fn detail(&self) -> &str {
        match self {
            PatchError::InvalidSyntax(m)
            | PatchError::InvalidPath(m)
            | PatchError::InvalidValue(m)
            | PatchError::NoTarget(m)
            | PatchError::Mutability(m) => m,
        }
    }

    /// The same error, its message prefixed with the operation's index.
    pub(crate) fn in_operation(self, index: usize) -> PatchError {
        let at = |m: String| format!("Operations[{index}]: {m}");
        match self {
            PatchError::InvalidSyntax(m) => PatchError::InvalidSyntax(at(m)),
            PatchError::InvalidPath(m) => PatchError::InvalidPath(at(m)),
            PatchError::InvalidValue(m) => PatchError::InvalidValue(at(m)),
            PatchError::NoTarget(m) => PatchError::NoTarget(at(m)),
            PatchError::Mutability(m) => PatchError::Mutability(at(m)),
        }
    }
}
