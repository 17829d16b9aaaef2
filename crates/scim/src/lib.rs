//! SCIM 2.0 server for tenant provisioning (DESIGN §7; RFC 7643, RFC 7644).
//!
//! - [`filter`]: filter parsing and its translation to SQL over allow-listed columns;
//! - [`patch`]: the PATCH engine (PatchOp requests applied to a resource held as JSON, group
//!   membership changes reported as deltas), which also normalises POST and PUT bodies;
//! - [`resource`]: client JSON to `authz_core::directory` records;
//! - [`http`]: the `/scim/v2/{tenant}` endpoints (Users, Groups, Bulk, discovery, `/Me` 501).
//!
//! Filters parse into a protocol-neutral AST (STYLE §5) that the admin search shares, and
//! become a sea-query condition against an allow-list of attributes; they are never evaluated
//! in memory, except PATCH value filters, which select among one resource's values.
pub mod filter;
pub mod http;
pub mod patch;
pub mod resource;

pub use http::{configure, ScimState};

pub use filter::{parse_filter, Filter, FilterError};
