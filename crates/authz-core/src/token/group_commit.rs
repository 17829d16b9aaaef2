//! Group commit of the one-statement grant writes (issue 15 §1, ADR 0025).
//!
//! Every grant on PostgreSQL is one statement and one commit ([`super::one_statement`]). Under
//! load, PostgreSQL's time went per statement and per commit, not per row: parse and bind,
//! the executor's start-up, the commit's WAL flush, and, for 64 concurrent grants of one
//! service account, a MultiXact per grant for the share locks on the account and tenant rows.
//! So a node writes the grants that arrive together as one statement:
//!
//! - The statements of a node's grants go through a [`Group`](crate::group::Group): those
//!   that queued while a write was in flight are written together in the next.
//! - Statements of the same shape (the same text: a grant type with the same rows) are merged
//!   into one: their values become the rows of a `VALUES` list `d`, the guard runs once per row
//!   of `d` ([`batched_guard`]), and every insert selects from the rows whose guard held. The
//!   answer names the rows written, so each grant learns its own outcome: a guard that fails
//!   for one grant writes nothing for it and leaves the others alone, exactly as alone.
//! - The list is padded to a power of two with rows of `NULL`s that no guard accepts
//!   ([`crate::group::padded_values`]), so each grant type has a handful of statement texts (1, 2,
//!   4, … 64 rows) that every pooled connection prepares once, and the node builds once
//!   ([`Texts`]).
//! - If the merged statement fails (a deadlock between two writers, a lost connection), nothing
//!   of it was written, and each grant is written alone, as before.
//!
//! Nothing changes for the invariants: a grant's response still leaves after the commit of its
//! rows (with its audit record), and the guards read and lock as before, once per row.
use std::collections::HashSet;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement, Value};

use super::one_statement::OneStatement;
use crate::group::{padded_values, values_sql, Answers, Group, Texts};

/// A node's grant writes: each answer is whether the statement's guard held and its rows are
/// committed ([`OneStatement::run`]).
pub(crate) type Writes = Group<OneStatement, bool>;

pub(crate) fn writes() -> Writes {
    Group::new(write_all, crate::metrics::grant_group)
}

/// Writes one batch: statements of the same shape together, each shape in turn.
fn write_all(db: DatabaseConnection, stmts: Vec<OneStatement>) -> Answers<bool> {
    Box::pin(async move {
        let n = stmts.len();
        let mut answers: Vec<Option<Result<bool, DbErr>>> = (0..n).map(|_| None).collect();
        for group in by_shape(stmts) {
            let (at, stmts): (Vec<usize>, Vec<OneStatement>) = group.into_iter().unzip();
            for (i, a) in at.into_iter().zip(write_group(&db, stmts).await) {
                answers[i] = Some(a);
            }
        }
        answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(DbErr::Custom("unwritten".into()))))
            .collect()
    })
}

/// The statements grouped by shape (the same text), each with its place in the batch, in the
/// order they came.
fn by_shape(stmts: Vec<OneStatement>) -> Vec<Vec<(usize, OneStatement)>> {
    let mut groups: Vec<Vec<(usize, OneStatement)>> = Vec::new();
    for (i, stmt) in stmts.into_iter().enumerate() {
        match groups.iter_mut().find(|g| g[0].1.same_shape(&stmt)) {
            Some(g) => g.push((i, stmt)),
            None => groups.push(vec![(i, stmt)]),
        }
    }
    groups
}

/// Statements of one shape: merged into one when there are several, else (or when the merged
/// one fails: nothing of it was written) each alone.
async fn write_group(
    db: &DatabaseConnection,
    stmts: Vec<OneStatement>,
) -> Vec<Result<bool, DbErr>> {
    if stmts.len() > 1 {
        if let Some(merged) = Merged::of(&stmts) {
            match merged.run(db).await {
                Ok(written) => {
                    return (0..stmts.len())
                        .map(|i| Ok(written.contains(&(i as i32))))
                        .collect()
                }
                Err(e) => {
                    tracing::debug!(error = %e, rows = stmts.len(), "grouped grant write failed; writing each alone");
                }
            }
        }
    }
    let mut answers = Vec::with_capacity(stmts.len());
    for stmt in stmts {
        answers.push(stmt.run(db).await);
    }
    answers
}

/// Several statements of one shape as one: `VALUES` rows `d(p1 … pk, ord)`, the guard per row
/// as `g`, the inserts from `g`, and the answer the `ord` of each row written.
struct Merged {
    sql: String,
    values: Vec<Value>,
}

/// The merged texts, by the statements' own text and the number of rows.
static TEXTS: Texts<(String, usize)> = Texts::new();

impl Merged {
    fn of(stmts: &[OneStatement]) -> Option<Merged> {
        let first = &stmts[0];
        let k = first.values.len();
        let rows = stmts.iter().map(|s| s.values.clone()).collect();
        let (total, values) = padded_values(rows);
        let mut merges = true;
        let sql = TEXTS.get((first.sql(), total), || {
            let Some(guard) = batched_guard(first.guard_sql()) else {
                merges = false;
                return String::new();
            };
            let cols: Vec<String> = (1..=k).map(|p| format!("p{p}")).collect();
            format!(
                "WITH d({}, ord) AS (VALUES {}), g AS ({guard}){} SELECT ord FROM g",
                cols.join(", "),
                values_sql(1, k + 1, total),
                first.inserts_sql("g.p"),
            )
        });
        (merges && !sql.is_empty()).then_some(Merged { sql, values })
    }

    async fn run(self, db: &DatabaseConnection) -> Result<HashSet<i32>, DbErr> {
        let rows = db
            .query_all(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                self.sql,
                self.values,
            ))
            .await?;
        rows.iter().map(|r| r.try_get::<i32>("", "ord")).collect()
    }
}

/// The guard of one statement rewritten to run once per row of `d`, returning the rows of `d`
/// it holds for: a `SELECT` guard becomes `EXISTS (…)` per row; an `UPDATE … WHERE … RETURNING
/// 1` guard updates `FROM d` and returns the rows of `d` that matched (two rows of `d` that
/// would update the same row update it once: only one of them is written, and the other
/// grant takes the transactional path, which sees the row changed, as if it came second).
/// Placeholders `$n` become `d.pn`. `None` for a guard of another form: written alone.
fn batched_guard(guard: &str) -> Option<String> {
    let g = placeholders_to(guard, "d.p");
    if g.starts_with("SELECT ") {
        return Some(format!(
            "SELECT d.* FROM d WHERE d.ord IS NOT NULL AND EXISTS ({g})"
        ));
    }
    let body = g.strip_prefix("UPDATE ")?.strip_suffix(" RETURNING 1")?;
    let (head, cond) = body.split_once(" WHERE ")?;
    Some(format!(
        "UPDATE {head} FROM d WHERE d.ord IS NOT NULL AND {cond} RETURNING d.*"
    ))
}

/// `sql` with every placeholder `$n` written `{prefix}n`.
fn placeholders_to(sql: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push_str(prefix);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_select_guard_runs_per_row_and_an_update_guard_updates_from_the_rows() {
        assert_eq!(
            batched_guard("SELECT 1 FROM sa WHERE sa.id = $1 AND sa.v = $12 FOR SHARE OF sa")
                .as_deref(),
            Some(
                "SELECT d.* FROM d WHERE d.ord IS NOT NULL AND EXISTS \
                 (SELECT 1 FROM sa WHERE sa.id = d.p1 AND sa.v = d.p12 FOR SHARE OF sa)"
            )
        );
        assert_eq!(
            batched_guard(
                "UPDATE tokens SET used_at = $1 WHERE token_hash = $2 AND EXISTS \
                 (SELECT 1 FROM f WHERE f.id = tokens.family_id) RETURNING 1"
            )
            .as_deref(),
            Some(
                "UPDATE tokens SET used_at = d.p1 FROM d WHERE d.ord IS NOT NULL AND \
                 token_hash = d.p2 AND EXISTS (SELECT 1 FROM f WHERE f.id = tokens.family_id) \
                 RETURNING d.*"
            )
        );
        assert_eq!(batched_guard("DELETE FROM x RETURNING 1"), None);
    }

    #[test]
    fn merged_rows_are_padded_to_a_power_of_two_with_rows_no_guard_accepts() {
        let job = |id: &str| {
            let mut w = OneStatement::default();
            let g = format!("SELECT 1 FROM sa WHERE sa.id = {}", w.bind(id.to_string()));
            w.guard(g);
            w.insert(crate::entities::audit_events::ActiveModel {
                tenant_id: sea_orm::Set("t".into()),
                ..Default::default()
            });
            w
        };
        let stmts = vec![job("a"), job("b"), job("c")];
        let m = Merged::of(&stmts).expect("a select guard merges");
        assert!(m.sql.starts_with(
            "WITH d(p1, p2, ord) AS (VALUES ($1, $2, $3), ($4, $5, $6), ($7, $8, $9), \
             ($10, $11, $12)), g AS (SELECT d.* FROM d WHERE d.ord IS NOT NULL AND EXISTS \
             (SELECT 1 FROM sa WHERE sa.id = d.p1))"
        ));
        assert!(m
            .sql
            .ends_with(", i1 AS (INSERT INTO \"audit_events\" (\"tenant_id\") SELECT g.p2 FROM g) SELECT ord FROM g"));
        assert_eq!(m.values.len(), 12);
    }
}
