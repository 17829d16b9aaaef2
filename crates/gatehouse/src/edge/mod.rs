//! The app's edge: middleware that wraps every surface at once (ADR 0011). It lives in the
//! assembly, not in a surface crate, because it applies to the issuer, SCIM, the admin API and
//! the console alike; each surface keeps only what is its own (the issuer's `AuditOrigin`
//! needs its trusted-proxy configuration).
mod cors;
mod headers;
pub mod metrics;
mod nul;

pub use cors::Cors;
pub use headers::SecurityHeaders;
pub use metrics::{MetricsEndpoint, RecordHttp};
pub use nul::RejectNul;
