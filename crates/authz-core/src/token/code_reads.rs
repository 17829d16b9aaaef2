//! What the one-statement code exchange (`code::exchange_fast`, ADR 0022) reads before it
//! writes, in one round trip instead of six (issue 15 §1), with the node's concurrent exchanges
//! in one statement (ADR 0025): the code, whether its sign-in session is live, the tenant's
//! decision about the client and the tenant's settings (`client_policy::permits`), the
//! consent, and the scopes the org grants the person on the code's resource
//! (`grant::granted_to_user`). PostgreSQL only, like the fast path.
//!
//! The answers are the same as the separate reads', taken at one instant and with nothing kept
//! after the statement; the write that follows still burns the code and re-checks the tenant's
//! suspension and the user's status in its guard.
use sea_orm::{DatabaseConnection, DbErr, FromQueryResult};

use crate::admin::settings::TenantSettings;
use crate::db::columns;
use crate::entities::{auth_codes, consents};
use crate::group::{read_batch, values_sql, Answers, Group, Texts};

/// The reads of a code (see the module documentation).
pub(crate) struct CodeReads {
    pub code: auth_codes::Model,
    /// The code's sign-in session is unrevoked, unexpired and the person's in the tenant
    /// (`session::find_by_id` with the code's tenant and user).
    pub session_live: bool,
    /// The tenant's stored decision about the code's client (`allow`, `block`), if any.
    pub decision: Option<String>,
    /// The tenant's settings, as stored (JSON).
    pub settings: String,
    /// The person's consent for the client and resource, as stored.
    pub consent: Option<consents::Model>,
    pub granted: Vec<String>,
}

impl CodeReads {
    /// The tenant's settings (`admin::settings::get`'s reading of them).
    pub fn settings(&self) -> TenantSettings {
        serde_json::from_str(&self.settings).unwrap_or_default()
    }
}

/// What one exchange reads by: the code's hash, and the time (a session's expiry is compared
/// with it), as a refresh reads by its token's.
pub(crate) use super::refresh_reads::Asked;

/// A node's code exchange reads.
pub(crate) type Reads = Group<Asked, Option<CodeReads>>;

pub(crate) fn reads() -> Reads {
    Group::new(read_all, crate::metrics::read_group)
}

/// The reads of the code with this hash (`None`: no such code, or its tenant is gone), with
/// the node's concurrent exchanges in one statement.
pub(crate) async fn read(
    store: &crate::db::Store,
    hash: &str,
    now: i64,
) -> Result<Option<CodeReads>, DbErr> {
    let asked = Asked::new(hash, now);
    store.queues.code_reads.submit(&store.db, asked).await
}

fn read_all(db: DatabaseConnection, asked: Vec<Asked>) -> Answers<Option<CodeReads>> {
    read_batch(db, asked, statement, decode)
}

/// The statement's texts, one per number of rows.
static TEXTS: Texts<usize> = Texts::new();

fn statement(asked: &[Asked]) -> (String, Vec<sea_orm::Value>) {
    let (total, values) = super::refresh_reads::by_hash_values(asked);
    let sql = TEXTS.get(total, || {
        format!(
            "WITH d(h, now, ord) AS (VALUES {rows}) SELECT d.ord AS ord, {c}, {k}, \
         EXISTS (SELECT 1 FROM browser_sessions s WHERE s.id_hash = c.session_id \
           AND s.revoked_at IS NULL AND s.expires_at > d.now \
           AND s.tenant_id = c.tenant_id AND s.user_id = c.user_id) AS session_live, \
         (SELECT p.decision FROM tenant_client_policy p WHERE p.tenant_id = c.tenant_id \
           AND p.client_id = c.client_id) AS decision, \
         tn.settings AS settings, {granted} AS granted \
         FROM d JOIN auth_codes c ON c.code_hash = d.h JOIN tenants tn ON tn.id = c.tenant_id \
         LEFT JOIN consents k ON k.tenant_id = c.tenant_id AND k.user_id = c.user_id \
           AND k.client_id = c.client_id AND k.resource_id = c.resource_id",
            c = columns::<auth_codes::Entity>("c", "A_"),
            k = columns::<consents::Entity>("k", "B_"),
            granted = crate::grant::granted_sql("c", "$1"),
            rows = values_sql(2, 3, total),
        )
    });
    (sql, values)
}

/// The code with the reads, as `statement` selects them.
fn decode(row: &sea_orm::QueryResult) -> Result<CodeReads, DbErr> {
    Ok(CodeReads {
        code: auth_codes::Model::from_query_result(row, "A_")?,
        consent: consents::Model::from_query_result_optional(row, "B_")?,
        session_live: row.try_get("", "session_live")?,
        decision: row.try_get("", "decision")?,
        settings: row.try_get("", "settings")?,
        granted: crate::grant::granted_of(row.try_get("", "granted")?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_is_a_row_and_the_answer_names_its_row() {
        let ask = |h: &str| Asked::new(h, 1);
        let (sql, values) = statement(&[ask("a"), ask("b")]);
        assert!(sql.starts_with(
            "WITH d(h, now, ord) AS (VALUES ($2, $3, $4), ($5, $6, $7)) \
             SELECT d.ord AS ord, c.\"code_hash\" AS \"A_code_hash\""
        ));
        assert_eq!(values.len(), 7);
    }
}
