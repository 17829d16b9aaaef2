//! SCIM 2.0 server for tenant provisioning (DESIGN §7; RFC 7643, RFC 7644).
//!
//! Status: filter parsing and its translation to SQL only ([`filter`]). The Users and Groups
//! endpoints, PATCH, Bulk, ETags and the discovery resources come next and build on it; they
//! will declare each resource's allow-listed [`filter::Schema`] once its tables exist.
//!
//! Filters parse into a protocol-neutral AST (STYLE §5) that the admin search shares, and
//! become a sea-query condition against an allow-list of attributes; they are never evaluated
//! in memory.
pub mod filter;

pub use filter::{parse_filter, Filter, FilterError};
