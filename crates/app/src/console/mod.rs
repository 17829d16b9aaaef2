//! What the admin console's pages show: each `load` gathers, for a [`crate::TenantAdmin`] (or a
//! setup session), everything one page renders, so the page's handler makes one call and only
//! turns the result into its template's values. Writes a page makes beyond its forms (an
//! export's audit record) are here too.
pub mod apps;
pub mod audit;
pub mod overview;
pub mod scim;
pub mod settings;
pub mod sign_out;
pub mod user;
