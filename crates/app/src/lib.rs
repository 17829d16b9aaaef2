//! Gatehouse's application layer (ADR 0010): one module per use case. A use case takes the typed
//! [`principal`] that an HTTP extractor (or the CLI) produced, opens its transaction, writes its
//! audit record and returns an outcome — never an HTTP response. This crate knows no actix: the
//! HTTP crates (`issuer`, `admin-api`, `scim`) parse, call one use case and render; the CLI calls
//! the same use cases for the same actions.
pub mod account;
pub mod admin;
pub mod api_keys;
pub mod authorize;
pub mod client;
pub mod connection;
pub mod console;
pub mod gateway;
pub mod manage;
pub mod operator_key;
pub mod principal;
pub mod removal;
pub mod resource;
pub mod resource_events;
pub mod resource_policy;
pub mod scim;
pub mod sign_in;
pub mod tenant;
pub mod token;
pub mod users;

pub use principal::{
    AnonymousBrowser, Operator, ResourceServer, ScimClient, SignedInUser, TenantAdmin,
};
