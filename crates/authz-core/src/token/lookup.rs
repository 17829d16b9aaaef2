//! Introspection's one read, grouped (issue 15 §1, ADR 0025): the calling resource server by its
//! client id, with the token by its hash (a token of a suspended tenant is not found) and the
//! token's grant family. Concurrent introspections of a node are read by one statement
//! ([`Group`]): the pairs asked for become the rows of a `VALUES` list, and each answer row
//! carries the `ord` of the pair it answers. Every read is as fresh as alone: nothing is kept
//! after the statement, so a revocation committed before it is seen by it.
use sea_orm::{DatabaseConnection, DbErr, FromQueryResult, Value};

use crate::db::columns;
use crate::entities::{grant_families, resources, tokens};
use crate::group::{padded_values, read_batch, values_sql, Answers, Group, Texts};

/// What an introspection reads: the caller's client id and the token's hash.
pub(crate) struct Lookup {
    pub client_id: String,
    pub hash: String,
}

/// The caller's resource row (none: no such client id), with the token issued for it and the
/// token's family (none: no such token for this caller, or its tenant is suspended).
pub(crate) type Found = Option<Row>;

/// One answer row: the resource, the token issued for it, the token's family.
pub(crate) type Row = (
    resources::Model,
    Option<tokens::Model>,
    Option<grant_families::Model>,
);

/// A node's introspection reads.
pub(crate) type Lookups = Group<Lookup, Found>;

pub(crate) fn lookups() -> Lookups {
    Group::new(look_up_all, crate::metrics::read_group)
}

fn look_up_all(db: DatabaseConnection, asked: Vec<Lookup>) -> Answers<Found> {
    read_batch(db, asked, statement, decode)
}

/// The statement's texts, one per number of rows.
static TEXTS: Texts<usize> = Texts::new();

fn statement(asked: &[Lookup]) -> (String, Vec<Value>) {
    let rows = asked
        .iter()
        .map(|a| vec![a.client_id.clone().into(), a.hash.clone().into()])
        .collect();
    let (total, values) = padded_values(rows);
    let sql = TEXTS.get(total, || {
        format!(
            "WITH d(cid, h, ord) AS (VALUES {rows}) SELECT d.ord AS ord, {r}, {t}, {f} FROM d \
         JOIN resources r ON r.rs_client_id = d.cid \
         LEFT JOIN tokens t ON t.resource_id = r.id AND t.token_hash = d.h \
           AND t.tenant_id NOT IN (SELECT tn.id FROM tenants tn WHERE tn.suspended_at IS NOT NULL) \
         LEFT JOIN grant_families f ON f.id = t.family_id",
            r = columns::<resources::Entity>("r", "A_"),
            t = columns::<tokens::Entity>("t", "B_"),
            f = columns::<grant_families::Entity>("f", "C_"),
            rows = values_sql(1, 3, total),
        )
    });
    (sql, values)
}

/// The caller's row with the token and its family, as `statement` selects them.
fn decode(row: &sea_orm::QueryResult) -> Result<Row, DbErr> {
    Ok((
        resources::Model::from_query_result(row, "A_")?,
        tokens::Model::from_query_result_optional(row, "B_")?,
        grant_families::Model::from_query_result_optional(row, "C_")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pair_is_a_row_and_the_answer_names_its_row() {
        let ask = |c: &str| Lookup {
            client_id: c.into(),
            hash: "h".into(),
        };
        let (sql, values) = statement(&[ask("a"), ask("b"), ask("c")]);
        assert!(sql.starts_with(
            "WITH d(cid, h, ord) AS (VALUES ($1, $2, $3), ($4, $5, $6), ($7, $8, $9), \
             ($10, $11, $12)) SELECT d.ord AS ord, r.\"id\" AS \"A_id\""
        ));
        assert_eq!(values.len(), 12);
    }
}
