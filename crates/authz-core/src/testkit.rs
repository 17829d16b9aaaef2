//! Test support: a fresh, migrated store per test. With `GATEHOUSE_TEST_DATABASE_URL` set to a
//! PostgreSQL URL, each store is a new schema on that server (so storage and domain tests
//! run on both backends); otherwise a SQLite file in a temporary directory.
use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement};

use crate::clock::FixedClock;
use crate::crypto::MasterKey;
use crate::db::Store;

pub const TEST_DB_ENV: &str = "GATEHOUSE_TEST_DATABASE_URL";

/// 2026-11-26T00:00:00Z: tests run at a fixed, known instant.
pub const T0_US: i64 = 1_795_651_200_000_000;

pub fn clock() -> FixedClock {
    FixedClock::new(T0_US)
}

pub fn master_key() -> MasterKey {
    MasterKey::parse("k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        .expect("valid test key")
}

pub fn backend_name() -> &'static str {
    match std::env::var(TEST_DB_ENV) {
        Ok(u) if u.starts_with("postgres") => "postgres",
        _ => "sqlite",
    }
}

/// A fresh, migrated store and the URL it was opened with.
pub async fn store_with_url() -> (Store, String) {
    let url = match std::env::var(TEST_DB_ENV) {
        Ok(admin) if admin.starts_with("postgres") => {
            // One schema per test (cheaper than a database); the connection's search_path
            // points at it, so the schema holds every table, trigger and function.
            let name = format!("gh_t_{}", crate::crypto::random_hex16());
            let conn = Database::connect(admin.as_str())
                .await
                .expect("connect to the test PostgreSQL server");
            conn.execute(Statement::from_string(
                DatabaseBackend::Postgres,
                format!("CREATE SCHEMA {name}"),
            ))
            .await
            .expect("create test schema");
            conn.close().await.ok();
            let sep = if admin.contains('?') { '&' } else { '?' };
            format!("{admin}{sep}options=-c%20search_path%3D{name}")
        }
        _ => {
            let dir = std::env::temp_dir().join(format!("gh_t_{}", crate::crypto::random_hex16()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!("sqlite://{}?mode=rwc", dir.join("test.db").display())
        }
    };
    Store::migrate(&url).await.expect("migrate test store");
    (Store::connect(&url).await.expect("open test store"), url)
}

pub async fn store() -> Store {
    store_with_url().await.0
}

pub mod dpop;
pub mod world;
