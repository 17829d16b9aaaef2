//! Personal API keys (issue 14 §1) on the one app: the person's `/account` pages (the hand-off
//! page, the form, the key shown once with the IDE snippets, revocation), the tenant's limits,
//! introspection's answer, the admin API and last-use throttling. The gateway's side is in
//! `http::gateway::api_keys`.
mod account;
mod admin;
mod support;
