//! Gatehouse assembled: the one HTTP app that `gatehouse serve` runs and every HTTP test
//! drives ([`app`]), and the middleware that wraps all of its surfaces ([`edge`]). The binary
//! (`main.rs`: configuration, the operator CLI, the server and its background jobs) builds
//! the [`Services`] from its configuration and hands them to [`app`]; a test builds them over
//! its own store and clock. Either way the routes, the middleware and their order are the same.
mod assembly;
pub mod edge;
pub mod logging;

pub use assembly::{app, Services};
