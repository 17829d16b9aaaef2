//! The token endpoint's grants (RFC 6749 §4.1.3, §6; RFC 7523 §2.1 for ID-JAGs). The client is the one the edge
//! authenticated (RFC 6749 §2.3); errors are RFC 6749 §5.2 codes ([`TokenError`]), which the
//! edge renders as OAuth JSON. Each grant's transaction and audit records (replay detection,
//! revocations) are in `authz_core::token`.
pub mod exchange_code;
pub mod jwt_bearer;
pub mod refresh;

pub use authz_core::token::{IssuedTokens, TokenError};
pub use exchange_code::{exchange_code, CodeGrant};
pub use jwt_bearer::{jwt_bearer, Idps, JwtBearerGrant};
pub use refresh::{refresh, RefreshGrant};
pub mod client_credentials;
pub use client_credentials::{client_credentials, ServiceCredentials};
