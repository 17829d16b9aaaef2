//! Tenant administration (issue "console"): who is an admin of a tenant ([`role`]), how the
//! first admin is bootstrapped ([`invitation`]), the tenant's settings ([`settings`]), DNS
//! verification of its domains ([`domain`]) and which MCP clients it allows ([`client_policy`]).
//! Every function takes the tenant as an argument (DESIGN §6.1).
pub mod client_policy;
pub mod domain;
pub mod invitation;
pub mod role;
pub mod settings;
