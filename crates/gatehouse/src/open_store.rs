//! Opening the database for a command or a server. A PostgreSQL server that cannot be reached
//! is reported within seconds in one line, `DB0001: cannot reach the database at
//! postgres://user@host:port/db (connection refused)`, instead of the pool's 30-second wait
//! that ends in "pool timed out while waiting for an open connection" and loses the cause.
//!
//! One direct connection is tried first, bounded by [`CONNECT_TIMEOUT`]; the pool (built by
//! `authz_core::Store`) is opened only once the server has answered. The URL is printed without
//! its password or query (which may carry `password=`).
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use authz_core::db::PoolConfig;
use authz_core::Store;

/// How long the first connection may take before the database counts as unreachable: long
/// enough for a TLS handshake to a remote server, short enough that a typo fails at once.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks that the database answers, runs pending migrations when `migrate`, and opens the pool
/// with the default settings (a CLI command).
pub async fn open(url: &str, migrate: bool) -> Result<Store> {
    open_with(url, migrate, &PoolConfig::default()).await
}

/// [`open`] with a node's pool settings (`serve`, `gateway`).
pub async fn open_with(url: &str, migrate: bool, pool: &PoolConfig) -> Result<Store> {
    reachable(url).await?;
    if migrate {
        Store::migrate(url)
            .await
            .context("database migration failed")?;
    }
    Store::connect_with(url, pool)
        .await
        .context("cannot open the database")
}

/// Runs pending migrations only (`gatehouse migrate`), after the same reachability check.
pub async fn migrate(url: &str) -> Result<()> {
    reachable(url).await?;
    Store::migrate(url)
        .await
        .context("database migration failed")?;
    Ok(())
}

/// One PostgreSQL connection, opened and closed; SQLite is a local file and needs no check.
async fn reachable(url: &str) -> Result<()> {
    use sea_orm::sqlx::postgres::PgConnectOptions;
    use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
    if !(url.starts_with("postgres:") || url.starts_with("postgresql:")) {
        return Ok(());
    }
    let where_ = redacted(url);
    let opts: PgConnectOptions = authz_core::db::loopback_without_tls(url)
        .parse()
        .map_err(|_| anyhow!("DB0002: the database URL {where_} is not a valid PostgreSQL URL"))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, opts.connect()).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(anyhow!(
            "DB0001: cannot reach the database at {where_} ({})",
            reason(&e)
        )),
        Err(_) => Err(anyhow!(
            "DB0001: cannot reach the database at {where_} (no answer within {} s)",
            CONNECT_TIMEOUT.as_secs()
        )),
    }
}

/// The cause, in a few words. The server's own message (a wrong password, a missing database)
/// names the user or database, never the password.
fn reason(e: &sea_orm::sqlx::Error) -> String {
    use sea_orm::sqlx::Error;
    use std::io::ErrorKind;
    match e {
        Error::Io(io) => match io.kind() {
            k @ (ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::TimedOut
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable
            | ErrorKind::PermissionDenied) => k.to_string(),
            _ => io.to_string(),
        },
        Error::Database(db) => db.message().to_string(),
        Error::Tls(t) => format!("TLS: {t}"),
        other => other.to_string(),
    }
}

/// `postgres://user@host:port/db`: no password, no query, no fragment.
pub fn redacted(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return "(an unparsable URL)".into();
    };
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    if u.port().is_none() && u.host().is_some() {
        let _ = u.set_port(Some(5432));
    }
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn the_printed_url_has_no_password() {
        assert_eq!(
            redacted("postgres://gh:s3cret@db.internal/gatehouse?sslmode=require&password=x"),
            "postgres://gh@db.internal:5432/gatehouse"
        );
        assert_eq!(
            redacted("postgresql://127.0.0.1:6432/test"),
            "postgresql://127.0.0.1:6432/test"
        );
        assert!(!redacted("postgres://u:p%40ss@h/d").contains("p%40ss"));
    }
}
