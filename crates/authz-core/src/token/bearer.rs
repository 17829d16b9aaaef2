//! The gateway's read of a presented access token (issue 13), grouped on PostgreSQL like
//! introspection's (issue 15 §1, ADR 0025 point 6): the token row by its SHA-256 (RFC 7662 §2.2,
//! as introspection reads it), issued for this resource (RFC 8707 audience), an access token,
//! not revoked, not expired, its grant family not revoked, its tenant not suspended: every
//! condition of a live token is in the statement. Concurrent calls of a node are read by one
//! statement ([`Group`]); nothing is kept after it, so a revocation committed at any node before
//! the statement is seen by it (DESIGN §6.3).
use sea_orm::{ConnectionTrait, DbErr, Value};

use crate::db::Store;
use crate::group::{padded_values, read_batch, values_sql, Answers, Group, Texts};
use crate::CoreResult;

/// What the gateway reads of a live access token and its grant family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bearer {
    pub tenant_id: String,
    pub user_id: String,
    pub client_id: String,
    pub session_id: String,
    /// Space-separated, as stored.
    pub scopes: String,
    /// The IdP sign-in behind the token (µs).
    pub auth_time: i64,
    pub family_id: String,
    /// The family's credential kind, as stored (`CredentialKind::parse` reads it).
    pub kind: String,
    /// RFC 9449: the JWK thumbprint a DPoP-bound token is bound to.
    pub dpop_jkt: Option<String>,
}

/// The live access token whose hash is `hash`, issued for resource `resource_id`, as of
/// `now_us`; `None` for anything else (unknown, a refresh token, revoked, expired, another
/// resource's, a revoked family, a suspended tenant).
pub async fn live(
    store: &Store,
    resource_id: &str,
    hash: String,
    now_us: i64,
) -> CoreResult<Option<Bearer>> {
    if store.is_postgres() {
        let asked = Asked {
            resource_id: resource_id.to_string(),
            hash,
            now_us,
        };
        return Ok(store.queues.bearers.submit(&store.db, asked).await?);
    }
    // SQLite: one node, nothing to group with.
    Ok(alone(&store.db, resource_id, hash, now_us).await?)
}

/// One call's question.
pub(crate) struct Asked {
    resource_id: String,
    hash: String,
    now_us: i64,
}

/// A node's gateway token reads.
pub(crate) type Reads = Group<Asked, Option<Bearer>>;

pub(crate) fn reads() -> Reads {
    Group::new(read_all, crate::metrics::read_group)
}

fn read_all(db: sea_orm::DatabaseConnection, asked: Vec<Asked>) -> Answers<Option<Bearer>> {
    read_batch(db, asked, statement, decode)
}

/// The columns [`decode`] reads.
const COLUMNS: &str = "t.tenant_id AS tenant_id, t.user_id AS user_id, t.client_id AS client_id, \
     t.session_id AS session_id, t.scopes AS scopes, f.auth_time AS auth_time, \
     f.id AS family_id, f.kind AS kind, f.dpop_jkt AS dpop_jkt";

/// The token asked for in `d` (`rid`, `h`, `now`), with every condition of a live token: one
/// text for the grouped statement and the read alone, so the two cannot drift apart.
const LIVE_FROM_D: &str = "FROM d JOIN tokens t ON t.token_hash = d.h AND t.resource_id = d.rid \
       AND t.kind = 'access' AND t.revoked_at IS NULL AND t.expires_at > d.now \
     JOIN grant_families f ON f.id = t.family_id AND f.revoked_at IS NULL \
     JOIN tenants tn ON tn.id = t.tenant_id AND tn.suspended_at IS NULL";

/// The statement's texts, one per number of rows.
static TEXTS: Texts<usize> = Texts::new();

fn statement(asked: &[Asked]) -> (String, Vec<Value>) {
    let rows = asked
        .iter()
        .map(|a| {
            vec![
                a.resource_id.clone().into(),
                a.hash.clone().into(),
                a.now_us.into(),
            ]
        })
        .collect();
    let (total, values) = padded_values(rows);
    let sql = TEXTS.get(total, || {
        format!(
            "WITH d(rid, h, now, ord) AS (VALUES {rows}) SELECT d.ord AS ord, {COLUMNS} \
             {LIVE_FROM_D}",
            rows = values_sql(1, 4, total),
        )
    });
    (sql, values)
}

fn decode(row: &sea_orm::QueryResult) -> Result<Bearer, DbErr> {
    Ok(Bearer {
        tenant_id: row.try_get("", "tenant_id")?,
        user_id: row.try_get("", "user_id")?,
        client_id: row.try_get("", "client_id")?,
        session_id: row.try_get("", "session_id")?,
        scopes: row.try_get("", "scopes")?,
        auth_time: row.try_get("", "auth_time")?,
        family_id: row.try_get("", "family_id")?,
        kind: row.try_get("", "kind")?,
        dpop_jkt: row.try_get("", "dpop_jkt")?,
    })
}

/// [`live`]'s read alone (SQLite, one node: nothing to group with): the grouped statement's
/// text for one row.
async fn alone<C: ConnectionTrait>(
    conn: &C,
    resource_id: &str,
    hash: String,
    now_us: i64,
) -> Result<Option<Bearer>, DbErr> {
    let backend = conn.get_database_backend();
    let row = match backend {
        sea_orm::DatabaseBackend::Postgres => "($1, $2, $3)",
        _ => "(?, ?, ?)",
    };
    let sql = format!("WITH d(rid, h, now) AS (VALUES {row}) SELECT {COLUMNS} {LIVE_FROM_D}");
    let values = [resource_id.into(), hash.into(), now_us.into()];
    let stmt = sea_orm::Statement::from_sql_and_values(backend, sql, values);
    conn.query_one(stmt).await?.as_ref().map(decode).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_question_is_a_row_and_every_condition_is_in_the_statement() {
        let ask = |h: &str| Asked {
            resource_id: "r".into(),
            hash: h.into(),
            now_us: 7,
        };
        let (sql, values) = statement(&[ask("a"), ask("b"), ask("c")]);
        assert!(sql.starts_with(
            "WITH d(rid, h, now, ord) AS (VALUES ($1, $2, $3, $4), ($5, $6, $7, $8), \
             ($9, $10, $11, $12), ($13, $14, $15, $16)) SELECT d.ord AS ord, t.tenant_id"
        ));
        for c in [
            "t.kind = 'access'",
            "t.revoked_at IS NULL",
            "t.expires_at > d.now",
            "t.resource_id = d.rid",
            "f.revoked_at IS NULL",
            "tn.suspended_at IS NULL",
        ] {
            assert!(sql.contains(c), "{c} missing from {sql}");
        }
        assert_eq!(values.len(), 16);
    }
}
