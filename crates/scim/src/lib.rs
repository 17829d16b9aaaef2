//! SCIM 2.0 server for tenant provisioning (DESIGN §7; RFC 7643, RFC 7644).
//!
//! - [`filter`]: the filter grammar, parsed into the directory's filter AST
//!   (`authz_core::directory::filter`), whose translation to SQL lives in the core;
//! - [`patch`]: the PATCH engine (PatchOp requests applied to a resource held as JSON, group
//!   membership changes reported as deltas), which also normalises POST and PUT bodies;
//! - [`resource`]: client JSON to `authz_core::directory` records;
//! - [`http`]: the `/scim/v2/{tenant}` endpoints (Users, Groups, Bulk, discovery, `/Me` 501).
//!
//! Filters parse into the core's protocol-neutral AST (STYLE §5), which the console's user
//! search also builds, and become a sea-query condition against the core's allow-list of
//! attributes; they are never evaluated in memory, except PATCH value filters, which select
//! among one resource's values.
pub mod filter;
pub mod http;
pub mod patch;
pub mod resource;

pub use http::{configure, ScimState};

pub use filter::{parse_filter, Filter, FilterError};
