//! Every HTTP test, over the one app `gatehouse serve` runs (`gatehouse::app`): the issuer, the
//! SCIM endpoints, the admin API and console, and the tests that cross surfaces (SCIM
//! deprovisioning and admin revocation reaching the issuer's tokens). scripts/test.sh runs
//! this module again on PostgreSQL.
mod admin;
mod api_keys;
mod cross;
mod gateway;
mod issuer;
mod metrics;
mod scim;
mod service_accounts;
pub mod tls;
pub mod world;
