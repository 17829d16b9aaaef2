//! What the one-statement refresh (`refresh::refresh_fast`, ADR 0022) reads before it writes,
//! in one round trip instead of four (issue 15 §1): the refresh token with its grant family,
//! the session's upstream record (the IdP check, `upstream_check`), whether a SCIM token of the
//! tenant is live (the re-authentication cap), and the scopes the org grants the person on the
//! family's resource (`grant::granted_to_user`). PostgreSQL only, like the fast path.
//!
//! The answers are the same as the separate reads', taken at one instant; the write that
//! follows still re-checks everything that can revoke the grant in its guard.
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, Statement};

use crate::db::columns;

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
/// (`refresh::live_refresh_token`'s rule). `None` for anything else.
pub(crate) async fn read<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    client: &Client,
    hash: &str,
) -> Result<Option<RefreshReads>, DbErr> {
    let now = clock.now_us();
    let sql = format!(
        "SELECT {t}, {f}, {u}, \
         EXISTS (SELECT 1 FROM scim_tokens st WHERE st.tenant_id = f.tenant_id \
           AND st.revoked_at IS NULL AND st.expires_at > $2) AS scim_live, \
         (SELECT string_agg(DISTINCT og.scope, ' ') FROM org_grants og \
           WHERE og.tenant_id = f.tenant_id AND og.resource_id = f.resource_id \
           AND (og.group_key = $3 OR og.group_key IN (SELECT m.group_id \
             FROM scim_group_members m JOIN users pu ON pu.scim_user_id = m.member_id \
             WHERE pu.id = f.user_id AND pu.tenant_id = f.tenant_id))) AS granted \
         FROM tokens t JOIN grant_families f ON f.id = t.family_id \
         LEFT JOIN upstream_sessions us ON us.session_id = f.session_id \
           AND us.tenant_id = f.tenant_id \
         WHERE t.token_hash = $1",
        t = columns::<tokens::Entity>("t", "A_"),
        f = columns::<grant_families::Entity>("f", "B_"),
        u = columns::<upstream_sessions::Entity>("us", "C_"),
    );
    let stmt = Statement::from_sql_and_values(
        conn.get_database_backend(),
        sql,
        [hash.into(), now.into(), crate::grant::EVERYONE.into()],
    );
    let Some(row) = conn.query_one(stmt).await? else {
        return Ok(None);
    };
    let t = tokens::Model::from_query_result(&row, "A_")?;
    let family = grant_families::Model::from_query_result(&row, "B_")?;
    if !super::refresh::is_live(&t, &family, client, now) {
        return Ok(None);
    }
    let upstream = upstream_sessions::Model::from_query_result_optional(&row, "C_")?;
    let scim_live: bool = row.try_get("", "scim_live")?;
    let granted: Option<String> = row.try_get("", "granted")?;
    Ok(Some(RefreshReads {
        family,
        upstream,
        scim_live,
        granted: granted
            .map(|g| g.split(' ').map(str::to_string).collect())
            .unwrap_or_default(),
    }))
}
