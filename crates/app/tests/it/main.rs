//! The application layer's integration tests, one binary (STYLE §9): use cases over a real
//! store (SQLite, or PostgreSQL with GATEHOUSE_TEST_DATABASE_URL).
mod catalogue;
mod sign_in;
