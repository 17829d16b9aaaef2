//! The node's pool settings (issue 15 §2): the ceiling of `--db-max-connections`, and on
//! PostgreSQL the `statement_timeout` of `--db-statement-timeout` on every connection.
use std::time::Duration;

use authz_core::db::PoolConfig;
use authz_core::testkit;
use authz_core::Store;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

#[tokio::test]
async fn the_pool_takes_its_ceiling_and_statement_timeout() {
    let (_, url) = testkit::store_with_url().await;
    let cfg = PoolConfig {
        max_connections: Some(3),
        statement_timeout: Some(Duration::from_millis(1500)),
    };
    let store = Store::connect_with(&url, &cfg).await.unwrap();
    if !store.is_postgres() {
        let pool = store.db.get_sqlite_connection_pool();
        assert_eq!(pool.options().get_max_connections(), 3);
        return;
    }
    let pool = store.db.get_postgres_connection_pool();
    assert_eq!(pool.options().get_max_connections(), 3);
    let pg = |sql: &str| Statement::from_string(DatabaseBackend::Postgres, sql.to_string());
    // Every connection of the pool, not only the first: hold three at once.
    let (a, b, c) = tokio::join!(
        store.db.query_one(pg(
            "SELECT current_setting('statement_timeout') AS t, pg_sleep(0.1)::text AS s"
        )),
        store.db.query_one(pg(
            "SELECT current_setting('statement_timeout') AS t, pg_sleep(0.1)::text AS s"
        )),
        store.db.query_one(pg(
            "SELECT current_setting('statement_timeout') AS t, pg_sleep(0.1)::text AS s"
        )),
    );
    for row in [a, b, c] {
        let t: String = row.unwrap().unwrap().try_get("", "t").unwrap();
        assert_eq!(t, "1500ms");
    }
    // The URL's own `options` (the test schema's search_path) are kept beside it.
    let row = store
        .db
        .query_one(pg("SELECT current_setting('search_path') AS p"))
        .await
        .unwrap()
        .unwrap();
    let path: String = row.try_get("", "p").unwrap();
    assert!(path.contains("gh_t_"), "{path}");
    let e = store
        .db
        .execute(pg("SELECT pg_sleep(3)"))
        .await
        .expect_err("cancelled by statement_timeout");
    assert!(e.to_string().contains("statement timeout"), "{e}");
    let default = Store::connect(&url).await.unwrap();
    let row = default
        .db
        .query_one(pg("SELECT current_setting('statement_timeout') AS t"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<String>("", "t").unwrap(), "0");
}
