//! The gatehouse crate's integration tests, one binary: `http` drives the assembled app,
//! `cli` and `scim_guides` run the built `gatehouse` program.
mod catalogue_cli;
mod cli;
mod dev_idp_cli;
mod http;
mod scim_guides;
