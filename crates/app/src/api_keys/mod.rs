//! Personal API keys for IDE clients (issue 14 §1, ADR 0013): the person's own keys on
//! `/account` ([`mine`]: the hand-off page's offer, create, list, revoke), every key of a tenant
//! for its admin ([`admin`]: list, revoke), and the last-use writer the gateway and
//! introspection share ([`usage`]). The rules (feature on, lifetime, org grant, no critical
//! scope) are the core's (`authz_core::personal_key`); these use cases add who may ask.
pub mod admin;
pub mod mine;
pub mod usage;

pub use usage::UsageRecorder;
