//! Connection and migrations. SQLite (a file in the data dir) is the embedded default;
//! PostgreSQL is the production store shared by several stateless nodes.
use migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, Statement,
};
use std::sync::Arc;
use std::time::Duration;

use sea_orm::{DatabaseTransaction, DbErr, ExecResult, QueryResult, TransactionTrait};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::{CoreError, CoreResult};

/// How long a request waits for a pooled connection before it is answered 503 (ADR 0019). Short,
/// so an outage answers within a few seconds instead of piling up requests; with the ping of
/// [`pg_pool_options`] a pool whose connections died with a restarted PostgreSQL discards them
/// and reconnects by itself, with no node restart.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// The per-worker pools this process opened ([`Store::for_worker`],
/// [`Store::connect_for_worker`]), so that the metrics count every connection of the node.
static WORKER_POOLS: std::sync::Mutex<Vec<sea_orm::sqlx::PgPool>> =
    std::sync::Mutex::new(Vec::new());

/// The per-worker pools of this process (for the metrics' pool gauges).
pub(crate) fn worker_pools() -> Vec<sea_orm::sqlx::PgPool> {
    WORKER_POOLS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// A PostgreSQL connection idle at least this long is pinged before it is handed out.
pub const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// The PostgreSQL pool's options, for the node's pool and the gateway workers' pools.
///
/// sqlx pings every connection when it is returned to the pool (a dead one is closed there).
/// Its `test_before_acquire` pings it again when it is handed out, so every statement outside
/// a transaction cost three round trips instead of one (ADR 0022's measurements). A connection
/// that was just returned has been tested; the ping on acquire only matters for one that sat
/// idle while PostgreSQL went away (a restart, a failover: ADR 0019), so it is pinged only
/// after [`PING_IDLE_AFTER`] idle. A connection that fails its ping is closed and the pool
/// opens another.
pub fn pg_pool_options(
    max_connections: u32,
    min_connections: u32,
) -> sea_orm::sqlx::postgres::PgPoolOptions {
    use sea_orm::sqlx::Connection as _;
    pool_options::<sea_orm::sqlx::Postgres>(max_connections, min_connections)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IDLE_AFTER {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// The target of the event sqlx writes each time a pool hands a connection out, with the time
/// the task waited for it (`aquired_after_secs`, sqlx's spelling). The binary's subscriber turns
/// these events into the pool-wait histogram (`gatehouse_db_pool_acquire_wait_seconds`); they
/// are not logged.
pub const ACQUIRE_EVENT_TARGET: &str = "sqlx::pool::acquire";

/// The field of an [`ACQUIRE_EVENT_TARGET`] event that carries the wait, in seconds.
pub const ACQUIRE_EVENT_FIELD: &str = "aquired_after_secs";

/// The level of the [`ACQUIRE_EVENT_TARGET`] events (below the default log filter's `sqlx=warn`).
pub const ACQUIRE_EVENT_LEVEL: tracing::Level = tracing::Level::DEBUG;

/// A pool's options on either database: its size, the acquire timeout, and an event after each
/// hand-out with the time waited ([`ACQUIRE_EVENT_TARGET`]): sqlx counts no waiters, and this is
/// where a wait for a connection can be seen.
fn pool_options<DB: sea_orm::sqlx::Database>(
    max_connections: u32,
    min_connections: u32,
) -> sea_orm::sqlx::pool::PoolOptions<DB> {
    sea_orm::sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(max_connections.max(1))
        .min_connections(min_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .acquire_time_level(log::LevelFilter::Debug)
}

/// Advisory-lock key that serialises migrations across nodes starting together.
const MIGRATION_LOCK_KEY: i64 = 0x6761_7465_686f_7573; // "gatehous"

#[derive(Clone, Debug)]
pub struct Store {
    pub db: DatabaseConnection,
    /// SQLite allows one writer; a deferred transaction that reads and then writes fails with
    /// SQLITE_BUSY_SNAPSHOT when another writer committed in between. On SQLite (one node by
    /// definition) write transactions therefore queue on this lock; PostgreSQL needs none.
    write_lock: Option<Arc<Mutex<()>>>,
    /// Resources and their scope catalogues, each with the version it was loaded at; a node
    /// re-checks the stored version at most every `resource::CATALOGUE_REFRESH_SECS` (see
    /// `resource::with_catalogue`), so catalogue updates reach every node without a restart.
    pub(crate) catalogues:
        Arc<std::sync::RwLock<std::collections::HashMap<String, crate::resource::Cached>>>,
    /// The statements waiting to be sent together (ADR 0025): one set of queues per store, so
    /// per worker thread in `serve`.
    pub(crate) queues: Queues,
}

/// A store's queues of statements sent together (`crate::group`).
#[derive(Clone, Debug)]
pub(crate) struct Queues {
    /// Grant writes (`token::group_commit`).
    pub writes: Arc<crate::token::group_commit::Writes>,
    /// Introspections' reads (`token::lookup`).
    pub lookups: Arc<crate::token::lookup::Lookups>,
    /// Refreshes' reads (`token::refresh_reads`).
    pub refresh_reads: Arc<crate::token::refresh_reads::Reads>,
    /// Code exchanges' reads (`token::code_reads`).
    pub code_reads: Arc<crate::token::code_reads::Reads>,
    /// Client authentications' reads (`client::lookup`).
    pub clients: Arc<crate::client::lookup::Reads>,
    /// The gateway's token reads (`token::bearer`).
    pub bearers: Arc<crate::token::bearer::Reads>,
}

impl Default for Queues {
    fn default() -> Queues {
        Queues {
            writes: Arc::new(crate::token::group_commit::writes()),
            lookups: Arc::new(crate::token::lookup::lookups()),
            refresh_reads: Arc::new(crate::token::refresh_reads::reads()),
            code_reads: Arc::new(crate::token::code_reads::reads()),
            clients: Arc::new(crate::client::lookup::reads()),
            bearers: Arc::new(crate::token::bearer::reads()),
        }
    }
}

/// `alias.column AS "prefixcolumn"` for every column of `E`, as sea-orm's `select_also` names
/// them (so `Model::from_query_result(row, prefix)` decodes them): the select list of a
/// hand-written statement that reads whole rows.
pub(crate) fn columns<E: sea_orm::EntityTrait>(alias: &str, prefix: &str) -> String {
    use sea_orm::{IdenStatic, Iterable};
    E::Column::iter()
        .map(|c| format!("{alias}.\"{n}\" AS \"{prefix}{n}\"", n = c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A write transaction: on SQLite it also holds the store's writer lock until it ends.
///
/// Dropped without `commit` (an early error return), it is rolled back in a task that keeps the
/// writer lock until the rollback is done: the next writer never meets a half-finished
/// transaction's locks.
pub struct WriteTxn {
    txn: Option<DatabaseTransaction>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl WriteTxn {
    fn inner(&self) -> &DatabaseTransaction {
        self.txn
            .as_ref()
            .expect("transaction is live until commit or drop")
    }

    pub async fn commit(mut self) -> Result<(), DbErr> {
        match self.txn.take() {
            Some(t) => t.commit().await,
            None => Ok(()),
        }
    }

    pub async fn rollback(mut self) -> Result<(), DbErr> {
        match self.txn.take() {
            Some(t) => t.rollback().await,
            None => Ok(()),
        }
    }
}

impl Drop for WriteTxn {
    fn drop(&mut self) {
        let (Some(txn), guard) = (self.txn.take(), self.guard.take()) else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(async move {
                    let _ = txn.rollback().await;
                    drop(guard);
                });
            }
            Err(_) => drop(txn),
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DatabaseBackend {
        self.inner().get_database_backend()
    }
    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.inner().execute(stmt).await
    }
    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.inner().execute_unprepared(sql).await
    }
    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.inner().query_one(stmt).await
    }
    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.inner().query_all(stmt).await
    }
    fn support_returning(&self) -> bool {
        self.inner().support_returning()
    }
    fn is_mock_connection(&self) -> bool {
        false
    }
}

impl Store {
    pub async fn connect(url: &str) -> CoreResult<Store> {
        Store::connect_with(url, &PoolConfig::default()).await
    }

    /// [`Store::connect`] with this node's pool settings (`--db-max-connections`,
    /// `--db-statement-timeout`).
    pub async fn connect_with(url: &str, pool: &PoolConfig) -> CoreResult<Store> {
        let is_sqlite = url.starts_with("sqlite:");
        let db = if is_sqlite {
            pool.connect_sqlite(url).await?
        } else {
            pool.connect_pg(url).await?
        };
        Ok(Store {
            db,
            write_lock: is_sqlite.then(|| Arc::new(Mutex::new(()))),
            catalogues: Default::default(),
            queues: Default::default(),
        })
    }

    /// A PostgreSQL pool for one worker thread of a thread-per-core server (actix-web's
    /// workers each run their own single-threaded runtime). A socket answers on the runtime
    /// that opened it: a pool shared by all workers makes most queries wake a second thread to
    /// read the answer and hand it over. This pool opens its connections lazily, from the
    /// worker that uses it, so they stay on that worker's runtime. `None` for SQLite (one
    /// embedded database: its pool is shared).
    pub fn connect_for_worker(url: &str, max_connections: u32) -> Option<Store> {
        let pool = PoolConfig {
            max_connections: Some(max_connections),
            statement_timeout: None,
        };
        Store::lazy_pg(url, &pool, Default::default())
    }

    /// This store for one worker thread of `serve` (ADR 0022): [`Store::connect_for_worker`]
    /// with `pool`'s ceiling and statement timeout, sharing this store's catalogue cache.
    /// `None` on SQLite.
    pub fn for_worker(&self, url: &str, pool: &PoolConfig) -> Option<Store> {
        Store::lazy_pg(url, pool, self.catalogues.clone())
    }

    fn lazy_pg(
        url: &str,
        pool: &PoolConfig,
        catalogues: Arc<
            std::sync::RwLock<std::collections::HashMap<String, crate::resource::Cached>>,
        >,
    ) -> Option<Store> {
        if url.starts_with("sqlite:") {
            return None;
        }
        let conn = pool.pg_connect_options(url).ok()?;
        let max = pool.max_connections.unwrap_or(8);
        let pg = pg_pool_options(max, 0).connect_lazy_with(conn);
        WORKER_POOLS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pg.clone());
        Some(Store {
            db: sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(pg),
            write_lock: None,
            catalogues,
            queues: Default::default(),
        })
    }

    /// Begins a write transaction (see [`WriteTxn`]).
    pub async fn begin(&self) -> Result<WriteTxn, DbErr> {
        let guard = match &self.write_lock {
            Some(l) => Some(l.clone().lock_owned().await),
            None => None,
        };
        let txn = self.db.begin().await?;
        if guard.is_some() {
            // SQLite: take the database's write lock now, before the transaction reads, as
            // `BEGIN IMMEDIATE` would (a write statement takes it even when it matches no
            // row). The lock above queues this node's transactions, but single-statement
            // writes outside a transaction (a last-use mark, a rate-limit count) do not take
            // it; one that committed between this transaction's first read and its first
            // write failed the write with SQLITE_BUSY ("database is locked"), a 500 under
            // concurrent token requests. Holding the write lock from the start, such a
            // statement waits for the commit (busy timeout) instead.
            txn.execute_unprepared("DELETE FROM seaql_migrations WHERE 0")
                .await?;
        }
        Ok(WriteTxn {
            txn: Some(txn),
            guard,
        })
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    pub fn is_postgres(&self) -> bool {
        self.backend() == DatabaseBackend::Postgres
    }

    /// Runs pending migrations. On PostgreSQL a session advisory lock on one dedicated connection
    /// lets several nodes start at once: one migrates, the others wait and find nothing to do.
    pub async fn migrate(url: &str) -> CoreResult<()> {
        let mut opts = ConnectOptions::new(url.to_string());
        opts.max_connections(1)
            .min_connections(1)
            .sqlx_logging(false);
        let conn = Database::connect(opts).await?;
        let pg = conn.get_database_backend() == DatabaseBackend::Postgres;
        if pg {
            conn.execute(Statement::from_string(
                DatabaseBackend::Postgres,
                format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"),
            ))
            .await?;
        }
        let result = Migrator::up(&conn, None).await;
        if pg {
            conn.execute(Statement::from_string(
                DatabaseBackend::Postgres,
                format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"),
            ))
            .await?;
        }
        conn.close().await?;
        result.map_err(CoreError::from)
    }

    /// Readiness: the database answers and no migration is pending.
    pub async fn ready(&self) -> CoreResult<()> {
        let pending = Migrator::get_pending_migrations(&self.db).await?;
        if pending.is_empty() {
            Ok(())
        } else {
            Err(CoreError::Config(format!(
                "{} migrations pending",
                pending.len()
            )))
        }
    }

    /// A fresh in-memory SQLite store, migrated; for tests.
    pub async fn memory() -> CoreResult<Store> {
        let mut opts = ConnectOptions::new("sqlite::memory:".to_string());
        // One connection: every handle must see the same in-memory database.
        opts.max_connections(1)
            .min_connections(1)
            .sqlx_logging(false);
        let db = Database::connect(opts).await?;
        Migrator::up(&db, None).await?;
        Ok(Store {
            db,
            write_lock: Some(Arc::new(Mutex::new(()))),
            catalogues: Default::default(),
            queues: Default::default(),
        })
    }
}

/// A node's pool settings. Defaults: 32 connections on PostgreSQL (8 on SQLite), no statement
/// timeout. Size it against PostgreSQL's `max_connections` for all nodes (docs/operator-guide.md,
/// "Database connections").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolConfig {
    pub max_connections: Option<u32>,
    /// PostgreSQL's `statement_timeout`, set on every connection of the pool at its start (a
    /// startup parameter: no extra round trip); ignored on SQLite.
    pub statement_timeout: Option<Duration>,
}

impl PoolConfig {
    /// The node's main pool on PostgreSQL: [`pg_pool_options`] with this configuration's size
    /// and statement timeout.
    async fn connect_pg(&self, url: &str) -> Result<DatabaseConnection, DbErr> {
        let max = self.max_connections.unwrap_or(32);
        let pool = pg_pool_options(max, 1)
            .connect_with(self.pg_connect_options(url)?)
            .await
            .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e)))?;
        Ok(sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(
            pool,
        ))
    }

    /// A PostgreSQL connection of this configuration: no statement logging, and the statement
    /// timeout as a startup parameter of every connection (no extra round trip).
    fn pg_connect_options(
        &self,
        url: &str,
    ) -> Result<sea_orm::sqlx::postgres::PgConnectOptions, DbErr> {
        use sea_orm::sqlx::ConnectOptions as _;
        let conn: sea_orm::sqlx::postgres::PgConnectOptions = loopback_without_tls(url)
            .parse()
            .map_err(|e: sea_orm::sqlx::Error| {
                DbErr::Conn(sea_orm::RuntimeErr::Internal(e.to_string()))
            })?;
        let conn = conn.disable_statement_logging();
        Ok(match self.statement_timeout.filter(|t| !t.is_zero()) {
            Some(t) => {
                let ms = t.as_millis().to_string();
                conn.options([("statement_timeout", ms.as_str())])
            }
            None => conn,
        })
    }

    /// Splits this node's ceiling between its shared pool and `workers` per-worker pools
    /// ([`Store::for_worker`]), so that together they never open more than the ceiling
    /// (`--db-max-connections`, default 32 on PostgreSQL): each worker gets an equal share,
    /// the shared pool the rest. Returns the shared pool's configuration and each worker pool's,
    /// or no worker pools when the ceiling is too small to give each worker two connections.
    pub fn split_for_workers(&self, workers: u32) -> (PoolConfig, Option<PoolConfig>) {
        let total = self.max_connections.unwrap_or(32);
        let workers = workers.max(1);
        let each = total / (workers + 1);
        if each < 2 {
            return (self.clone(), None);
        }
        let with = |max| PoolConfig {
            max_connections: Some(max),
            statement_timeout: self.statement_timeout,
        };
        (with(total - each * workers), Some(with(each)))
    }

    /// The node's pool on SQLite (an embedded file: nothing to ping, no statement timeout).
    /// Every connection of the pool gets the same settings: WAL lets readers proceed during a
    /// write; the busy timeout makes concurrent writers wait instead of failing; foreign keys
    /// are off by default in SQLite.
    async fn connect_sqlite(&self, url: &str) -> Result<DatabaseConnection, DbErr> {
        use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
        use sea_orm::sqlx::ConnectOptions as _;
        let conn_err = |e: sea_orm::sqlx::Error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e));
        let conn: SqliteConnectOptions = url.parse().map_err(conn_err)?;
        let conn = conn
            .disable_statement_logging()
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Normal);
        let pool = pool_options::<sea_orm::sqlx::Sqlite>(self.max_connections.unwrap_or(8), 1)
            .connect_with(conn)
            .await
            .map_err(conn_err)?;
        Ok(sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
    }
}

/// A PostgreSQL URL naming a loopback host and no `sslmode` gets `sslmode=disable`: the driver's
/// default (`prefer`) would encrypt every query to a server on the same machine, which protects
/// nothing and costs CPU on both ends of every statement (issue 13's gateway benchmark). Any
/// `sslmode` the operator writes is kept; remote hosts keep the driver's default.
pub fn loopback_without_tls(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return url.to_string();
    };
    let postgres = matches!(parsed.scheme(), "postgres" | "postgresql");
    let loopback = matches!(
        parsed.host_str(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    );
    if !postgres || !loopback || parsed.query_pairs().any(|(k, _)| k == "sslmode") {
        return url.to_string();
    }
    let sep = if parsed.query().is_some() { '&' } else { '?' };
    format!("{url}{sep}sslmode=disable")
}

/// Splits `items` into runs whose lengths are powers of two, none longer than `max`, for
/// multi-row statements. A statement's text depends on its row count, and the driver keeps
/// the statements it prepared per connection (sqlx: up to 100, each with its text and its
/// parameter types; PostgreSQL keeps them too): with one statement per batch size, a batch
/// writer slowly filled every connection's cache with near-identical large statements (the
/// soak's RSS growth, issue 15 §3). Runs of powers of two give at most log2(`max`) + 1
/// shapes, for at most that many round trips per batch.
pub fn pow2_chunks<T>(items: &[T], max: usize) -> Vec<&[T]> {
    let max = max.max(1);
    let mut runs = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let n = rest.len().min(max);
        let run = 1usize << (usize::BITS - 1 - n.leading_zeros());
        let (head, tail) = rest.split_at(run);
        runs.push(head);
        rest = tail;
    }
    runs
}

/// Is a unique-constraint violation (both backends).
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    let s = err.to_string().to_ascii_lowercase();
    s.contains("unique") || s.contains("duplicate key")
}

/// A LIKE pattern matching `text` literally (its `%`, `_` and `\` escaped), as a substring
/// (`contains`) or as a prefix.
pub fn literal_like(text: &str, contains: bool) -> sea_orm::sea_query::LikeExpr {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = if contains {
        format!("%{escaped}%")
    } else {
        format!("{escaped}%")
    };
    sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')
}

#[cfg(test)]
mod tests {
    use super::loopback_without_tls as f;

    #[test]
    fn batches_split_into_a_few_shapes() {
        let items: Vec<u32> = (0..1_300).collect();
        let runs = super::pow2_chunks(&items, 512);
        let lens: Vec<usize> = runs.iter().map(|r| r.len()).collect();
        assert_eq!(lens, [512, 512, 256, 16, 4]);
        assert_eq!(runs.concat(), items, "every item once, in order");
        let lens = |n: usize| -> Vec<usize> {
            super::pow2_chunks(&items[..n], 512)
                .iter()
                .map(|r| r.len())
                .collect()
        };
        assert_eq!(lens(0), Vec::<usize>::new());
        assert_eq!(lens(1), [1]);
        assert_eq!(lens(7), [4, 2, 1]);
        // Every batch size up to the maximum uses only the ten powers of two.
        let shapes: std::collections::BTreeSet<usize> = (1..=512).flat_map(lens).collect();
        assert_eq!(shapes.len(), 10);
    }

    #[test]
    fn only_loopback_postgres_without_sslmode_changes() {
        assert_eq!(
            f("postgres://u@127.0.0.1:5432/d"),
            "postgres://u@127.0.0.1:5432/d?sslmode=disable"
        );
        assert_eq!(
            f("postgres://u@localhost/d?a=b"),
            "postgres://u@localhost/d?a=b&sslmode=disable"
        );
        assert_eq!(
            f("postgres://u@127.0.0.1/d?sslmode=require"),
            "postgres://u@127.0.0.1/d?sslmode=require"
        );
        assert_eq!(
            f("postgres://u@db.internal/d"),
            "postgres://u@db.internal/d"
        );
        assert_eq!(
            f("sqlite:///tmp/x.db?mode=rwc"),
            "sqlite:///tmp/x.db?mode=rwc"
        );
    }
}
