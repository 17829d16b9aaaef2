//! SAML 2.0 service provider (DESIGN §6.6). Only signed content is used: responses are reduced
//! to their xmlsec-verified subtree (samael's `ValidateAndMarkNoAncestors`), and every check
//! samael makes only "when present" is made mandatory here, against an injected clock.
//!
//! The HTTP side (SP metadata, ACS, completion) lives in `issuer::saml_sp`; the shared
//! single-use state (request IDs, replay cache, handles) in `authz_core::saml_state`.
pub mod error;
pub mod mapping;
pub mod metadata;
mod precheck;
pub mod request;
pub mod settings;
pub mod sp;
pub mod validate;

pub use error::SamlError;
pub use metadata::IdpMetadata;
pub use settings::SamlSettings;
pub use validate::{Expectations, ValidatedAssertion};
