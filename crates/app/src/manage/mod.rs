//! Everything a tenant admin creates can be listed, shown, changed and removed (issue 16 §2),
//! on the CLI, the admin API and the console alike: one module per kind, each with the view the
//! three surfaces print (one serde shape, so `--json` and the API agree) and the use cases
//! that change or remove the object. A use case owns its transaction and audit record; a
//! removal returns the [`Impact`] it counted inside that transaction, and a preview
//! (`dry_run`) runs the same removal and rolls it back, so what the confirmation announces is
//! exactly what the removal ends.

pub use crate::removal::Impact;

pub mod admin;
pub mod admin_key;
pub mod domain;
pub mod grant;
pub mod invitation;
pub mod scim_token;
pub mod service_account;
pub mod user_key;

pub use crate::removal::Removed;
pub use authz_core::removal::finish;

/// A stored time (µs) as RFC 3339, seconds precision, as every view shows times.
pub(crate) fn time(us: i64) -> String {
    authz_core::clock::rfc3339(us, chrono::SecondsFormat::Secs)
}
