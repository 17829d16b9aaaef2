//! The MCP gateway's use cases (issue 13 §1): who holds a bearer token for a resource
//! ([`token::authenticate`], read on every call), whether a user has calls left this minute
//! ([`limits::count_calls`], counted in the shared database through a node-local counter), and the per-call audit records
//! the gateway writes in batches ([`record::record_calls`]). The gateway's HTTP edge (crate
//! `gateway`) decides from the catalogue and calls these; nothing here knows HTTP.
pub mod limits;
pub mod record;
pub mod token;

pub use limits::{count_calls, CallCounter, RateLimited};
pub use record::{record_calls, sanitize_parameters, CallOutcome, GatewayCall};
pub use token::{authenticate, from_introspection, RemoteIntrospection, TokenHolder};
