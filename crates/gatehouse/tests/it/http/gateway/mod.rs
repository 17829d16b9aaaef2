//! The MCP gateway (issue 13 §1) in front of a test MCP server, both real HTTP servers on
//! loopback, over the test store (SQLite, or PostgreSQL with GATEHOUSE_TEST_DATABASE_URL). The
//! node that issues and revokes tokens ("node A") is the assembled app on the same store.
mod api_keys;
mod dpop;
mod enforcement;
pub mod fixture;
mod remote;
mod transport;
mod upstream;
