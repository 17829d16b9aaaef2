//! What the one-statement refresh (`refresh::refresh_fast`, ADR 0022) reads before it writes,
//! in one round trip instead of four (issue 15 §1), with the node's concurrent refreshes in one
//! statement (ADR 0025): the refresh token with its grant family,
//! the session's upstream record (the IdP check, `upstream_check`), whether a SCIM token of the
//! tenant is live (the re-authentication cap), and the scopes the org grants the person on the
//! family's resource (`grant::granted_to_user`). PostgreSQL only, like the fast path.
//!
//! The answers are the same as the separate reads', taken at one instant; the write that
//! follows still re-checks everything that can revoke the grant in its guard.
use sea_orm::{DatabaseConnection, DbErr, FromQueryResult};

use crate::db::columns;
use crate::group::{padded_values, read_batch, values_sql, Answers, Group, Texts};

use crate::client::Client;
use crate::clock::Clock;
use crate::entities::upstream_sessions;
use crate::entities::{grant_families, tokens};

/// The reads of a live refresh token (see the module documentation).
pub(crate) struct RefreshReads {
    pub family: grant_families::Model,
    pub upstream: Option<upstream_sessions::Model>,
    pub scim_live: bool,
    pub granted: Vec<String>,
}

/// The reads for the refresh token with this hash, when it is live: a refresh token of
/// `client`, unused, unrevoked and unexpired, of an unrevoked family
/// (`refresh::live_refresh_token`'s rule). `None` for anything else. Read with the node's
/// concurrent refreshes in one statement (ADR 0025).
pub(crate) async fn read(
    store: &crate::db::Store,
    clock: &dyn Clock,
    client: &Client,
    hash: &str,
) -> Result<Option<RefreshReads>, DbErr> {
    let now = clock.now_us();
    let asked = Asked::new(hash, now);
    let Some(row) = store.queues.refresh_reads.submit(&store.db, asked).await? else {
        return Ok(None);
    };
    if !super::refresh::is_live(&row.token, &row.reads.family, client, now) {
        return Ok(None);
    }
    Ok(Some(row.reads))
}

/// What one refresh reads by: the token's hash, and the time (a SCIM token's expiry is
/// compared with it). The code exchange's read (`code_reads`) reads by the same.
pub(crate) struct Asked {
    hash: String,
    now: i64,
}

impl Asked {
    pub(crate) fn new(hash: &str, now: i64) -> Asked {
        Asked {
            hash: hash.to_string(),
            now,
        }
    }
}

/// The token row with the reads, before the liveness check.
pub(crate) struct Found {
    token: tokens::Model,
    reads: RefreshReads,
}

/// A node's refresh reads.
pub(crate) type Reads = Group<Asked, Option<Found>>;

pub(crate) fn reads() -> Reads {
    Group::new(read_all, crate::metrics::read_group)
}

fn read_all(db: DatabaseConnection, asked: Vec<Asked>) -> Answers<Option<Found>> {
    read_batch(db, asked, statement, decode)
}

/// The statement's texts, one per number of rows.
static TEXTS: Texts<usize> = Texts::new();

/// The values of a grouped read by hash and time that also reads the org grants
/// (`grant::granted_sql` with `$1`): `$1` is [`crate::grant::EVERYONE`], then the rows
/// `(hash, now, ord)` from `$2`, padded. Returns the padded number of rows and the values.
/// The code exchange's read (`code_reads`) binds the same way.
pub(super) fn by_hash_values(asked: &[Asked]) -> (usize, Vec<sea_orm::Value>) {
    let rows = asked
        .iter()
        .map(|a| vec![a.hash.clone().into(), a.now.into()])
        .collect();
    let (total, listed) = padded_values(rows);
    let mut values: Vec<sea_orm::Value> = vec![crate::grant::EVERYONE.into()];
    values.extend(listed);
    (total, values)
}

fn statement(asked: &[Asked]) -> (String, Vec<sea_orm::Value>) {
    let (total, values) = by_hash_values(asked);
    let sql = TEXTS.get(total, || {
        format!(
            "WITH d(h, now, ord) AS (VALUES {rows}) SELECT d.ord AS ord, {t}, {f}, {u}, \
         EXISTS (SELECT 1 FROM scim_tokens st WHERE st.tenant_id = f.tenant_id \
           AND st.revoked_at IS NULL AND st.expires_at > d.now) AS scim_live, \
         {granted} AS granted \
         FROM d JOIN tokens t ON t.token_hash = d.h JOIN grant_families f ON f.id = t.family_id \
         LEFT JOIN upstream_sessions us ON us.session_id = f.session_id \
           AND us.tenant_id = f.tenant_id",
            t = columns::<tokens::Entity>("t", "A_"),
            f = columns::<grant_families::Entity>("f", "B_"),
            u = columns::<upstream_sessions::Entity>("us", "C_"),
            granted = crate::grant::granted_sql("f", "$1"),
            rows = values_sql(2, 3, total),
        )
    });
    (sql, values)
}

/// The token with the reads, as `statement` selects them.
fn decode(row: &sea_orm::QueryResult) -> Result<Found, DbErr> {
    let granted: Option<String> = row.try_get("", "granted")?;
    Ok(Found {
        token: tokens::Model::from_query_result(row, "A_")?,
        reads: RefreshReads {
            family: grant_families::Model::from_query_result(row, "B_")?,
            upstream: upstream_sessions::Model::from_query_result_optional(row, "C_")?,
            scim_live: row.try_get("", "scim_live")?,
            granted: crate::grant::granted_of(granted),
        },
    })
}
