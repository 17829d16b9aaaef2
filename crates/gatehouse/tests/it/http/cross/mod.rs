mod admin_revocation;
mod connection_setup;
mod scim_lifecycle;
