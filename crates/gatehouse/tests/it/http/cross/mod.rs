mod admin_revocation;
mod connection_setup;
mod database_outage;
mod scim_lifecycle;
