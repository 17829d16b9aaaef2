mod admin_revocation;
mod scim_lifecycle;
