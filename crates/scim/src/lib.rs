//! SCIM 2.0 server for tenant provisioning (DESIGN §7; RFC 7643, RFC 7644).
//!
//! Status: filter parsing and its translation to SQL ([`filter`]), and the PATCH engine
//! ([`patch`]: parsing PatchOp requests and applying them to a resource held as JSON, with the
//! group membership changes reported as deltas). The Users and Groups endpoints, Bulk, ETags
//! and the discovery resources come next and build on them; they will declare each resource's
//! allow-listed [`filter::Schema`] once its tables exist.
//!
//! Filters parse into a protocol-neutral AST (STYLE §5) that the admin search shares, and
//! become a sea-query condition against an allow-list of attributes; they are never evaluated
//! in memory, except PATCH value filters, which select among one resource's values.
pub mod filter;
pub mod patch;

pub use filter::{parse_filter, Filter, FilterError};
