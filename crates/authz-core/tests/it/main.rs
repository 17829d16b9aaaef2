//! authz-core's integration tests, one binary (STYLE §9: one link per crate): storage, domain
//! and policy over a real store (SQLite, or PostgreSQL with GATEHOUSE_TEST_DATABASE_URL).
mod account_linking;
mod audit_chain;
mod audit_retention;
mod bearer;
mod code_cutoffs;
mod connection_provenance;
mod incident;
mod leavers;
mod mail_alerts;
mod pool;
mod refresh_grace;
mod scim_tokens;
mod tenant_isolation;
mod token_lifecycle;
