//! The gatehouse crate's integration tests, one binary: `http` drives the assembled app,
//! `cli`, `operator_errors`, `scim_guides` and `serve_logs` run the built `gatehouse` program.
mod catalogue_cli;
mod cli;
mod cli_objects;
mod dev_idp_cli;
mod http;
mod operator_errors;
mod removal_cli;
mod scim_guides;
mod serve_logs;
