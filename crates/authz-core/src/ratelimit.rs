//! Fixed-window counters in the shared database, so every node counts against the same limit.
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbErr, Statement};

use crate::clock::{Clock, MICROS};
use crate::error::CoreResult;

/// Adds one hit to `bucket` in the current window and returns the window's count.
pub async fn hit<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    bucket: &str,
    window_secs: i64,
) -> CoreResult<i64> {
    let window = window_start(clock, window_secs);
    let backend = conn.get_database_backend();
    let q = Query::insert()
        .into_table(sea_orm::sea_query::Alias::new("rate_limits"))
        .columns([
            sea_orm::sea_query::Alias::new("bucket"),
            sea_orm::sea_query::Alias::new("window_start"),
            sea_orm::sea_query::Alias::new("hits"),
        ])
        .values_panic([bucket.into(), window.into(), 1i64.into()])
        .on_conflict(
            OnConflict::columns([
                sea_orm::sea_query::Alias::new("bucket"),
                sea_orm::sea_query::Alias::new("window_start"),
            ])
            .value(
                sea_orm::sea_query::Alias::new("hits"),
                Expr::col((
                    sea_orm::sea_query::Alias::new("rate_limits"),
                    sea_orm::sea_query::Alias::new("hits"),
                ))
                .add(1),
            )
            .to_owned(),
        )
        .returning_col(sea_orm::sea_query::Alias::new("hits"))
        .to_owned();
    let stmt: Statement = backend.build(&q);
    let row = conn
        .query_one(stmt)
        .await?
        .ok_or_else(|| DbErr::Custom("rate limit upsert returned no row".into()))?;
    Ok(row.try_get::<i64>("", "hits")?)
}

/// The current window's count for `bucket`, without adding a hit.
pub async fn count<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    bucket: &str,
    window_secs: i64,
) -> CoreResult<i64> {
    use sea_orm::sea_query::Alias;
    let window = window_start(clock, window_secs);
    let q = Query::select()
        .column(Alias::new("hits"))
        .from(Alias::new("rate_limits"))
        .and_where(Expr::col(Alias::new("bucket")).eq(bucket))
        .and_where(Expr::col(Alias::new("window_start")).eq(window))
        .to_owned();
    let stmt = conn.get_database_backend().build(&q);
    Ok(match conn.query_one(stmt).await? {
        Some(r) => r.try_get::<i64>("", "hits")?,
        None => 0,
    })
}

/// The current window, stored by its start in seconds so old windows can be pruned by age.
fn window_start(clock: &dyn Clock, window_secs: i64) -> i64 {
    clock.now_us() / (window_secs * MICROS) * window_secs
}
