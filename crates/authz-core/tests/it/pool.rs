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

/// `serve` splits `--db-max-connections` between its shared pool and a pool per worker
/// thread (ADR 0022) without ever exceeding it; too small a ceiling keeps one shared pool.
#[test]
fn the_ceiling_is_split_between_the_shared_pool_and_the_workers() {
    let timeout = Some(Duration::from_secs(5));
    let cfg = |max| PoolConfig {
        max_connections: max,
        statement_timeout: timeout,
    };
    let (shared, each) = cfg(Some(32)).split_for_workers(2);
    let each = each.expect("worker pools");
    assert_eq!(
        (shared.max_connections, each.max_connections),
        (Some(12), Some(10))
    );
    assert_eq!(
        (shared.statement_timeout, each.statement_timeout),
        (timeout, timeout)
    );
    // The default ceiling (32 on PostgreSQL) on 4 cores: 6 per worker, 8 shared.
    let (shared, each) = cfg(None).split_for_workers(4);
    assert_eq!(
        (shared.max_connections, each.unwrap().max_connections),
        (Some(8), Some(6))
    );
    for (max, workers) in [(5, 2), (3, 1), (40, 7), (1, 1)] {
        let (shared, each) = cfg(Some(max)).split_for_workers(workers);
        let total = shared.max_connections.unwrap()
            + workers * each.map_or(0, |e| e.max_connections.unwrap());
        assert!(total <= max, "{max} over {workers} workers opens {total}");
    }
    let (shared, each) = cfg(Some(5)).split_for_workers(2);
    assert!(
        each.is_none(),
        "1 connection per worker is not worth a pool"
    );
    assert_eq!(shared.max_connections, Some(5));
}
