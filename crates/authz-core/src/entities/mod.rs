//! sea-orm entities, one module per table. Columns mirror `migrations/`.
mod admin;
mod audit;
mod catalog;
mod oauth;
mod ops;
mod saml;
mod tenancy;
mod upstream;

pub use admin::{admin_invitations, tenant_admins, tenant_client_policy};
pub use audit::{audit_checkpoints, audit_events};
pub use catalog::{org_grants, resource_scopes, resource_tools, resources};
pub use oauth::{
    auth_codes, browser_sessions, clients, consents, grant_families, login_transactions, tokens,
};
pub use ops::{api_keys, mail_outbox, rate_limits, scim_tokens};
pub use saml::{saml_assertions, saml_handles, saml_requests};
pub use tenancy::{connections, tenant_domains, tenants, users};
pub use upstream::upstream_sessions;
