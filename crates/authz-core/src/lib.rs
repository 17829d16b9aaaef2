//! Gatehouse's domain, policy and storage. No HTTP here (STYLE §1): protocol crates call these
//! functions; every function that touches tenant data takes the tenant as an argument (§6.1).
pub mod admin;
pub mod api_key;
pub mod audit;
pub mod client;
pub mod clock;
pub mod connection;
pub mod consent;
pub mod crypto;
pub mod db;
pub mod dev_idp;
pub mod directory;
pub mod dpop;
pub mod entities;
pub mod error;
pub mod grant;
pub mod id_jag;
pub mod incident;
pub mod jose;
pub mod jti;
pub mod login;
pub mod mail;
pub mod maintenance;
pub mod mcp_policy;
pub mod metrics;
pub mod personal_key;
pub mod ratelimit;
pub mod redirect;
pub mod resource;
pub mod resource_secret;
pub mod saml_state;
pub mod scim_token;
pub mod scope;
pub mod service_account;
pub mod session;
pub mod tenant;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod token;
pub mod trace;
pub mod upstream_jwt;
pub mod upstream_session;
pub mod user;

pub use clock::{Clock, SystemClock};
pub use db::Store;
pub use error::{CoreError, CoreResult};
pub use tenant::TenantId;
