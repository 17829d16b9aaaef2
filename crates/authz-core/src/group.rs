//! Statements that arrive together at a node, sent together (issue 15 §1, ADR 0025).
//!
//! Under load, PostgreSQL's time and much of the node's went per statement and per round trip
//! (the kernel's loopback and scheduler, parse and bind, the executor's start-up, a commit's
//! WAL flush), not per row. A [`Group`] collects requests of one kind (grant writes, token
//! lookups) and answers them with one statement per batch:
//!
//! - A request joins the group's queue. While fewer than [`RUNNERS`] runners are at work, one is
//!   started as a task, so a client that goes away cannot cancel a statement that others wait
//!   for. A runner takes everything queued (at most [`MAX_BATCH`]), runs the group's batch
//!   function on it, answers each request, and goes on until the queue is empty.
//! - No timer: the window is the time the previous statement took. At low load a request is
//!   sent at once, alone; under load the requests that queued while a statement was in flight
//!   go together in the next. No request waits for others that have not come.
//!
//! The queue lives in the [`Store`](crate::db::Store): in `serve` one per worker thread.
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, QueryResult, Statement, Value,
};
use tokio::sync::oneshot;

/// Runners per group at most: while one statement is in flight, the next can be sent.
pub(crate) const RUNNERS: usize = 2;
/// Requests taken together at most.
pub(crate) const MAX_BATCH: usize = 64;

/// What a batch answers: one result per request, in the requests' order.
pub(crate) type Answers<A> = Pin<Box<dyn Future<Output = Vec<Result<A, DbErr>>> + Send>>;

/// Runs one batch of requests (at most [`MAX_BATCH`]).
pub(crate) type Batch<Q, A> = fn(DatabaseConnection, Vec<Q>) -> Answers<A>;

/// One node's queue of requests of one kind.
pub(crate) struct Group<Q, A> {
    state: Mutex<State<Q, A>>,
    batch: Batch<Q, A>,
    /// Observes each batch's size (a metric).
    observe: fn(usize),
}

/// A request with the channel its answer goes back on.
type Queued<Q, A> = (Q, oneshot::Sender<Result<A, DbErr>>);

struct State<Q, A> {
    runners: usize,
    queued: VecDeque<Queued<Q, A>>,
}

impl<Q, A> std::fmt::Debug for Group<Q, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group").finish_non_exhaustive()
    }
}

impl<Q: Send + 'static, A: Send + 'static> Group<Q, A> {
    pub fn new(batch: Batch<Q, A>, observe: fn(usize)) -> Group<Q, A> {
        Group {
            state: Mutex::new(State {
                runners: 0,
                queued: VecDeque::new(),
            }),
            batch,
            observe,
        }
    }

    /// Sends `request` with the requests queued with it and returns its answer.
    pub async fn submit(self: &Arc<Self>, db: &DatabaseConnection, request: Q) -> Result<A, DbErr> {
        let (done, answer) = oneshot::channel();
        let start = {
            let mut s = self.lock();
            s.queued.push_back((request, done));
            let start = s.runners < RUNNERS;
            if start {
                s.runners += 1;
            }
            start
        };
        if start {
            // Counted out by `Leaving` even if the task never runs (its runtime is shutting
            // down): the future owns it, and dropping the future drops it.
            let leaving = Leaving(self.clone(), false);
            tokio::spawn(run(leaving, db.clone()));
        }
        answer
            .await
            .map_err(|_| DbErr::Custom("the statement was cancelled (shutdown)".into()))?
    }

    fn lock(&self) -> MutexGuard<'_, State<Q, A>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next requests, or `None` (and the runner ends, counted out) when none is queued.
    fn next(&self) -> Option<Vec<Queued<Q, A>>> {
        let mut s = self.lock();
        if s.queued.is_empty() {
            s.runners -= 1;
            return None;
        }
        let n = s.queued.len().min(MAX_BATCH);
        Some(s.queued.drain(..n).collect())
    }
}

/// Counts a runner out if its task ends without [`Group::next`] doing so.
struct Leaving<Q: Send + 'static, A: Send + 'static>(Arc<Group<Q, A>>, bool);

impl<Q: Send + 'static, A: Send + 'static> Drop for Leaving<Q, A> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.lock().runners -= 1;
        }
    }
}

async fn run<Q: Send + 'static, A: Send + 'static>(
    mut leaving: Leaving<Q, A>,
    db: DatabaseConnection,
) {
    let group = leaving.0.clone();
    loop {
        let Some(jobs) = group.next() else {
            leaving.1 = true;
            return;
        };
        (group.observe)(jobs.len());
        let (requests, done): (Vec<Q>, Vec<_>) = jobs.into_iter().unzip();
        let mut answers = (group.batch)(db.clone(), requests).await.into_iter();
        for d in done {
            let a = answers
                .next()
                .unwrap_or_else(|| Err(DbErr::Custom("a batch left a request unanswered".into())));
            let _ = d.send(a);
        }
    }
}

/// The batch function of a kind of grouped read ([`Batch`]): one statement for the requests
/// (`statement`), each answer row placed at the request its `ord` names (`decode`,
/// [`read_by_ord`]), and each request alone if that statement fails ([`all_or_each`]).
pub(crate) fn read_batch<Q: Send + Sync + 'static, A: Send + 'static>(
    db: DatabaseConnection,
    asked: Vec<Q>,
    statement: fn(&[Q]) -> (String, Vec<Value>),
    decode: fn(&QueryResult) -> Result<A, DbErr>,
) -> Answers<Option<A>> {
    Box::pin(async move {
        all_or_each(&asked, |some| {
            let (sql, values) = statement(some);
            let (db, n) = (db.clone(), some.len());
            async move { read_by_ord(&db, sql, values, n, decode).await }
        })
        .await
    })
}

/// The answers to `asked` from one statement (`read`, built for the requests it is given); if
/// that statement fails, from one statement per request, so each request gets its own answer or
/// its own error (an outage is still answered 503, a request's own fault stays its own).
async fn all_or_each<Q, A, Fut>(asked: &[Q], read: impl Fn(&[Q]) -> Fut) -> Vec<Result<A, DbErr>>
where
    Fut: Future<Output = Result<Vec<A>, DbErr>>,
{
    match read(asked).await {
        Ok(found) => found.into_iter().map(Ok).collect(),
        Err(e) if asked.len() <= 1 => vec![Err(e)],
        Err(_) => {
            let mut answers = Vec::with_capacity(asked.len());
            for one in asked.chunks(1) {
                let alone = read(one).await.and_then(|f| {
                    f.into_iter()
                        .next()
                        .ok_or_else(|| DbErr::Custom("a read left a request unanswered".into()))
                });
                answers.push(alone);
            }
            answers
        }
    }
}

/// Runs a grouped read of `n` requests and places each answer row at the request its `ord`
/// column names (`decode` reads the row); a request no row answers gets `None`.
async fn read_by_ord<A>(
    db: &DatabaseConnection,
    sql: String,
    values: Vec<Value>,
    n: usize,
    decode: impl Fn(&QueryResult) -> Result<A, DbErr>,
) -> Result<Vec<Option<A>>, DbErr> {
    let stmt = Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values);
    let mut found: Vec<Option<A>> = (0..n).map(|_| None).collect();
    for row in db.query_all(stmt).await? {
        let ord: i32 = row.try_get("", "ord")?;
        if let Some(slot) = usize::try_from(ord).ok().and_then(|i| found.get_mut(i)) {
            *slot = Some(decode(&row)?);
        }
    }
    Ok(found)
}

/// The values of a `VALUES` list of `rows` (each the same number of values, of the same types;
/// moved, not copied), each row followed by its `ord` (its place, from 0). The list is padded
/// to the next power of two with rows of typed `NULL`s whose `ord` is `NULL` too, so no guard
/// or join accepts them, and every value is a placeholder ([`values_sql`]): each kind of
/// statement has a handful of texts (1, 2, 4, … [`MAX_BATCH`] rows) that every pooled
/// connection prepares once and PostgreSQL plans once. Returns the number of rows with the
/// padding and the values in placeholder order.
pub(crate) fn padded_values(rows: Vec<Vec<Value>>) -> (usize, Vec<Value>) {
    let n = rows.len();
    let width = rows.first().map_or(0, Vec::len) + 1;
    let padding: Vec<Value> = rows
        .first()
        .map(|r| r.iter().map(Value::as_null).collect())
        .unwrap_or_default();
    let total = n.next_power_of_two();
    let mut values = Vec::with_capacity(total * width);
    for (i, r) in rows.into_iter().enumerate() {
        values.extend(r);
        values.push(Value::Int(Some(i as i32)));
    }
    for _ in n..total {
        values.extend(padding.iter().cloned());
        values.push(Value::Int(None));
    }
    (total, values)
}

/// The text of a `VALUES` list of [`padded_values`]: `total` rows of `width` placeholders (the
/// `ord` included), numbered from `first`.
pub(crate) fn values_sql(first: usize, width: usize, total: usize) -> String {
    use std::fmt::Write;
    let mut sql = String::with_capacity(total * width * 6);
    let mut next = first;
    for i in 0..total {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for j in 0..width {
            let _ = write!(sql, "{}${next}", if j == 0 { "" } else { ", " });
            next += 1;
        }
        sql.push(')');
    }
    sql
}

/// The statement texts of one kind, built once per process: a kind's texts differ only by
/// their number of rows (and, for merged grant writes, the grant's shape), so building them for
/// every statement only spent the node's CPU (formatting and allocating, a fifth of a node's
/// time under grant load in a profile). Bounded: past [`Texts::MAX`] texts it starts afresh.
pub(crate) struct Texts<K>(std::sync::LazyLock<Mutex<std::collections::HashMap<K, String>>>);

impl<K: std::hash::Hash + Eq> Texts<K> {
    const MAX: usize = 256;

    pub const fn new() -> Texts<K> {
        Texts(std::sync::LazyLock::new(Default::default))
    }

    /// The text under `key`, built by `build` the first time.
    pub fn get(&self, key: K, build: impl FnOnce() -> String) -> String {
        let mut texts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = texts.get(&key) {
            return t.clone();
        }
        if texts.len() >= Self::MAX {
            texts.clear();
        }
        let t = build();
        texts.insert(key, t.clone());
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_padded_to_a_power_of_two_with_typed_nulls_and_every_value_is_a_placeholder() {
        let row = |s: &str| vec![Value::from(s.to_string()), Value::from(7i64)];
        let (total, values) = padded_values(vec![row("a"), row("b"), row("c")]);
        let sql = values_sql(2, 3, total);
        assert_eq!(
            sql,
            "($2, $3, $4), ($5, $6, $7), ($8, $9, $10), ($11, $12, $13)"
        );
        assert_eq!(values.len(), 12);
        assert_eq!(values[2], Value::Int(Some(0)));
        assert_eq!(values[8], Value::Int(Some(2)));
        assert_eq!(
            &values[9..],
            &[Value::String(None), Value::BigInt(None), Value::Int(None)]
        );
        // The text depends only on the padded size.
        let (four, _) = padded_values(vec![row("a"), row("b"), row("c"), row("d")]);
        assert_eq!(four, total);
        assert_eq!(values_sql(2, 3, 1), "($2, $3, $4)");
    }
}
