//! Users, as an admin (console, admin API) or the operator (CLI) acts on them: revoking what a
//! user holds.
pub mod revoke;
