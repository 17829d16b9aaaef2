//! A client's read at the token and revocation endpoints, grouped (issue 15 §1, ADR 0025):
//! every grant of a client authenticates it first, and under load that one primary-key read
//! was a round trip of its own per grant (51,534 reads of `clients` in a 20 s refresh phase).
//! Concurrent reads of a node are answered by one statement ([`Group`]); nothing is kept after
//! it, so a client deleted or changed before the statement is seen as it is now.
use sea_orm::{DatabaseConnection, FromQueryResult, Value};

use crate::db::columns;
use crate::entities::clients;
use crate::group::{padded_values, read_batch, values_sql, Answers, Group, Texts};

/// A node's client reads: the client id asked for, the row if there is one.
pub(crate) type Reads = Group<String, Option<clients::Model>>;

pub(crate) fn reads() -> Reads {
    Group::new(read_all, crate::metrics::read_group)
}

fn read_all(db: DatabaseConnection, asked: Vec<String>) -> Answers<Option<clients::Model>> {
    read_batch(db, asked, statement, decode)
}

/// The statement's texts, one per number of rows.
static TEXTS: Texts<usize> = Texts::new();

fn decode(row: &sea_orm::QueryResult) -> Result<clients::Model, sea_orm::DbErr> {
    clients::Model::from_query_result(row, "A_")
}

fn statement(asked: &[String]) -> (String, Vec<Value>) {
    let rows = asked.iter().map(|id| vec![id.clone().into()]).collect();
    let (total, values) = padded_values(rows);
    let sql = TEXTS.get(total, || {
        format!(
            "WITH d(id, ord) AS (VALUES {rows}) SELECT d.ord AS ord, {c} FROM d \
         JOIN clients c ON c.client_id = d.id",
            c = columns::<clients::Entity>("c", "A_"),
            rows = values_sql(1, 2, total),
        )
    });
    (sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_id_is_a_row_and_the_answer_names_its_row() {
        let (sql, values) = statement(&["a".into(), "b".into(), "c".into()]);
        assert!(sql.starts_with(
            "WITH d(id, ord) AS (VALUES ($1, $2), ($3, $4), ($5, $6), ($7, $8)) \
             SELECT d.ord AS ord, c.\"client_id\" AS \"A_client_id\""
        ));
        assert_eq!(values.len(), 8);
    }
}
