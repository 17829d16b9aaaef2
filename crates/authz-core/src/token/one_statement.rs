//! A grant's writes as one PostgreSQL statement (issue 15 §1, ADR 0022).
//!
//! A token grant used to be a transaction of a dozen round trips: `BEGIN`, the checks, the
//! family, the token rows, the audit record, `COMMIT`. On PostgreSQL the writes now go as one
//! statement of data-modifying CTEs (PostgreSQL docs, "Data-Modifying Statements in WITH"),
//! run in autocommit: one round trip and one commit. The first CTE is the *guard*, a
//! conditional `UPDATE … RETURNING` (the code burnt, the refresh token marked used) or a locking
//! `SELECT … FOR SHARE` (the service account still enabled and unchanged). Every insert
//! selects from it, so when the guard matches no row nothing at all is written, and the caller
//! falls back to the transactional path, which decides the case (replay, reuse, a refusal
//! with its audit record) exactly as before.
//!
//! The rows inserted are the entities' own active models (the same columns and values as the
//! portable path), so this module holds no column list. SQLite has no data-modifying CTEs: it
//! keeps the transactional path (`Store::is_postgres`).
use sea_orm::{
    ActiveModelTrait, ActiveValue, ConnectionTrait, DatabaseBackend, DbErr, EntityName,
    EntityTrait, Iterable, Statement, Value,
};

/// One statement being built: the guard, then the inserts that depend on it.
#[derive(Default)]
pub(crate) struct OneStatement {
    guard: String,
    inserts: Vec<Insert>,
    pub(super) values: Vec<Value>,
}

/// One `INSERT … SELECT` of the statement: its table, its quoted column list, and the
/// placeholder number (`$n`) of each column's value.
#[derive(PartialEq, Eq)]
struct Insert {
    table: String,
    cols: String,
    params: Vec<usize>,
}

impl OneStatement {
    /// Binds a value and returns its placeholder (`$n`).
    pub fn bind(&mut self, v: impl Into<Value>) -> String {
        self.values.push(v.into());
        format!("${}", self.values.len())
    }

    /// Sets the guard: SQL (with placeholders from [`Self::bind`]) that returns one row when the
    /// grant may be written, and none otherwise. Call it first.
    pub fn guard(&mut self, sql: String) {
        debug_assert!(self.inserts.is_empty(), "the guard comes first");
        self.guard = sql;
    }

    /// Inserts `row` (its set columns) once per row of the guard.
    pub fn insert<A: ActiveModelTrait>(&mut self, row: A) {
        let table = <A::Entity as Default>::default().table_name().to_owned();
        let mut cols = String::with_capacity(256);
        let mut params = Vec::new();
        for c in <A::Entity as EntityTrait>::Column::iter() {
            if let ActiveValue::Set(v) | ActiveValue::Unchanged(v) = row.get(c) {
                if !cols.is_empty() {
                    cols.push_str(", ");
                }
                cols.push('"');
                cols.push_str(sea_orm::IdenStatic::as_str(&c));
                cols.push('"');
                self.values.push(v);
                params.push(self.values.len());
            }
        }
        self.inserts.push(Insert {
            table,
            cols,
            params,
        });
    }

    /// Runs the statement with the concurrent ones of this node ([`super::group_commit`]):
    /// `true` when the guard matched and everything was written and committed.
    pub async fn run_grouped(self, store: &crate::db::Store) -> Result<bool, DbErr> {
        store.queues.writes.submit(&store.db, self).await
    }

    /// Runs the statement alone; `true` when the guard matched and everything was written
    /// (committed together, as one statement in autocommit).
    pub async fn run<C: ConnectionTrait>(self, conn: &C) -> Result<bool, DbErr> {
        let sql = self.sql();
        let row = conn
            .query_one(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                sql,
                self.values,
            ))
            .await?;
        let n: i64 = match row {
            Some(r) => r.try_get("", "n")?,
            None => 0,
        };
        Ok(n > 0)
    }

    /// The statement's text: also the key under which statements of the same shape are
    /// grouped (the same text has the same placeholders in the same places).
    pub(super) fn sql(&self) -> String {
        format!(
            "WITH g AS ({}){} SELECT count(*) AS n FROM g",
            self.guard,
            self.inserts_sql("$")
        )
    }

    /// The insert CTEs (`, i1 AS (INSERT … SELECT … FROM g)`, …), each value written as
    /// `{param}n` for its placeholder `$n`: `$` here, a column of `g` in a merged statement
    /// (`group_commit`).
    pub(super) fn inserts_sql(&self, param: &str) -> String {
        let mut sql = String::new();
        for (n, i) in self.inserts.iter().enumerate() {
            let params: Vec<String> = i.params.iter().map(|p| format!("{param}{p}")).collect();
            sql.push_str(&format!(
                ", i{} AS (INSERT INTO \"{}\" ({}) SELECT {} FROM g)",
                n + 1,
                i.table,
                i.cols,
                params.join(", ")
            ));
        }
        sql
    }

    pub(super) fn guard_sql(&self) -> &str {
        &self.guard
    }

    /// Whether `other` has the same text as this statement ([`Self::sql`]), compared without
    /// writing either.
    pub(super) fn same_shape(&self, other: &OneStatement) -> bool {
        self.guard == other.guard && self.inserts == other.inserts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::audit_events;
    use sea_orm::{NotSet, Set};

    #[test]
    fn inserts_select_from_the_guard_and_skip_unset_columns() {
        let mut w = OneStatement::default();
        let g = format!(
            "UPDATE auth_codes SET used_at = {} WHERE code_hash = {} AND used_at IS NULL RETURNING 1",
            w.bind(5i64),
            w.bind("h")
        );
        w.guard(g);
        w.insert(audit_events::ActiveModel {
            id: NotSet,
            tenant_id: Set("t".into()),
            occurred_at: Set(5),
            action: Set("a".into()),
            result: Set("success".into()),
            actor: Set(None),
            user_id: Set(None),
            client_id: Set(None),
            session_id: Set(None),
            resource: Set(None),
            scope: Set(None),
            source_ip: Set(None),
            user_agent: Set(None),
            details: Set("{}".into()),
            writer_xact: NotSet,
        });
        let sql = w.sql();
        assert!(
            sql.starts_with("WITH g AS (UPDATE auth_codes SET used_at = $1 WHERE code_hash = $2")
        );
        assert!(sql.contains("i1 AS (INSERT INTO \"audit_events\" (\"tenant_id\", \"occurred_at\""));
        assert!(
            !sql.contains("\"id\"") && !sql.contains("writer_xact"),
            "the unset id and writer are left to the database"
        );
        assert!(sql.contains("SELECT $3, $4,"));
        assert!(sql.ends_with("FROM g) SELECT count(*) AS n FROM g"));
        assert_eq!(w.values.len(), 2 + 13);
    }
}
