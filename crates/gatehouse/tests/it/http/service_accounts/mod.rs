//! Tenant service accounts and the `client_credentials` grant (issue 14 §3): the token
//! endpoint with each authentication method and its refusals, the admin surfaces, and the
//! token at introspection and at the gateway (revocation by disabling, org grant removal).
mod admin;
mod fixture;
mod gateway;
mod token;
