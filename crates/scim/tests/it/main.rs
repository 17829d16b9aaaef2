//! The SCIM crate's integration tests, one binary: the filter language and its SQL on both
//! databases, and the PATCH engine. The SCIM endpoints are tested over the whole app in
//! `crates/gatehouse/tests/it/http/scim`.
mod filters;
mod patch;
