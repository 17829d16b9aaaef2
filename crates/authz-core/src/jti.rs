//! Single use of signed credentials on every node (RFC 7519 §4.1.7 `jti`; RFC 7523 §3 item 7;
//! RFC 9449 §11.1; draft-ietf-oauth-identity-assertion-authz-grant): the first presentation
//! inserts `(namespace, jti)` into the shared store, every later one finds it there. The
//! decision is the database's primary key, not a node's memory, so two nodes cannot both
//! accept one JWT. Rows live until the JWT's own expiry; `maintenance` purges them.
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, Set};

use crate::entities::used_jtis;
use crate::error::CoreResult;

/// The longest a `jti` is remembered: a JWT claiming a later expiry is remembered this long,
/// and its verifier must refuse it past this anyway (every caller bounds `exp`).
pub const MAX_REMEMBER_SECS: i64 = 24 * 3600;

/// Records `jti` in `namespace` until `until_us`. `true`: first use. `false`: seen before (a
/// replay). Safe inside a transaction on PostgreSQL (no failed statement: `ON CONFLICT DO
/// NOTHING`).
pub async fn use_once<C: ConnectionTrait>(
    conn: &C,
    namespace: &str,
    jti: &str,
    until_us: i64,
) -> CoreResult<bool> {
    let row = used_jtis::ActiveModel {
        namespace: Set(namespace.to_string()),
        jti: Set(jti.to_string()),
        expires_at: Set(until_us),
    };
    let n = used_jtis::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([used_jtis::Column::Namespace, used_jtis::Column::Jti])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_jti_is_accepted_once_per_namespace() {
        let store = crate::testkit::store().await;
        assert!(use_once(&store.db, "dpop:k1", "j1", 10).await.unwrap());
        assert!(!use_once(&store.db, "dpop:k1", "j1", 10).await.unwrap());
        assert!(use_once(&store.db, "dpop:k2", "j1", 10).await.unwrap());
    }
}
