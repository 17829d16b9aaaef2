//! sea-orm entities, one module per table: the one way storage code names a table or a column.
//! Columns mirror `migrations/`; `schema_check` tests that they do, on both backends.
mod admin;
mod audit;
mod catalog;
mod directory;
mod keys;
mod oauth;
mod ops;
mod saml;
mod tenancy;
mod upstream;

#[cfg(test)]
mod schema_check;

pub use admin::{admin_invitations, tenant_admins, tenant_client_policy};
pub use audit::{audit_checkpoints, audit_events, audit_seal_mark, audit_seals};
pub use catalog::{
    org_grants, resource_catalogue_versions, resource_rules, resource_scopes, resource_tools,
    resources,
};
pub use directory::{
    scim_group_members, scim_groups, scim_tombstones, scim_user_emails, scim_users,
};
pub use keys::personal_api_keys;
pub use oauth::{
    auth_codes, browser_sessions, clients, consents, grant_families, login_transactions, tokens,
    used_jtis,
};
pub use ops::{
    api_keys, mail_outbox, operator_console_sessions, rate_limits, scim_tokens, service_accounts,
};
pub use saml::{saml_assertions, saml_handles, saml_requests};
pub use tenancy::{connections, tenant_domains, tenants, users};
pub use upstream::upstream_sessions;
