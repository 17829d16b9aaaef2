//! Every credential kind ends in the same grant families and token rows (DESIGN §4b, issue 14):
//! a family records which kind made it (`kind`: `authorization_code`, `api_key`,
//! `jwt_bearer` for ID-JAG, `client_credentials`) and, for DPoP-bound tokens (RFC 9449 §6),
//! the JWK thumbprint of the client's key (`dpop_jkt`). A `client_credentials` family's subject
//! is a tenant service account, not a directory user, so `user_id` no longer references `users`
//! (SQLite cannot drop a constraint: the table is rebuilt there). `used_jtis` is the one
//! cross-node replay store of signed credentials.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000017_credential_kinds"
    }
}

const PG: &str = r#"
ALTER TABLE grant_families DROP CONSTRAINT IF EXISTS grant_families_user_id_fkey;
ALTER TABLE grant_families ADD COLUMN kind TEXT NOT NULL DEFAULT 'authorization_code';
ALTER TABLE grant_families ADD COLUMN dpop_jkt TEXT;
"#;

const SQLITE: &str = r#"
CREATE TABLE grant_families_new (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  user_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  scopes TEXT NOT NULL,
  session_id TEXT NOT NULL,
  auth_time BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT,
  kind TEXT NOT NULL DEFAULT 'authorization_code',
  dpop_jkt TEXT
);
INSERT INTO grant_families_new (id, tenant_id, user_id, client_id, resource_id, scopes,
  session_id, auth_time, created_at, expires_at, revoked_at)
  SELECT id, tenant_id, user_id, client_id, resource_id, scopes, session_id, auth_time,
  created_at, expires_at, revoked_at FROM grant_families;
DROP TABLE grant_families;
ALTER TABLE grant_families_new RENAME TO grant_families;
"#;

const INDEXES: &str = r#"
-- Single-use JWT ids (RFC 7519 §4.1.7) of every signed credential that must not be replayed on
-- any node: ID-JAG assertions, private_key_jwt client assertions, DPoP proofs. `namespace`
-- separates their issuers (e.g. `id_jag:<iss>`, `client_assertion:<client_id>`, `dpop:<jkt>`);
-- a row is kept until the JWT expires.
CREATE TABLE used_jtis (
  namespace TEXT NOT NULL,
  jti TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (namespace, jti)
);
CREATE INDEX used_jtis_expiry ON used_jtis(expires_at);
CREATE INDEX IF NOT EXISTS grant_families_user ON grant_families(tenant_id, user_id);
CREATE INDEX IF NOT EXISTS grant_families_client ON grant_families(client_id);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => crate::run_all(manager, PG).await?,
            _ => {
                // One connection for the whole rebuild: run statement by statement over the pool,
                // the RENAME could reach a connection that had not yet seen the DROP ("there is
                // already another table ... named grant_families").
                use sea_orm_migration::sea_orm::{ConnectionTrait, TransactionTrait};
                let txn = manager.get_connection().begin().await?;
                for stmt in crate::split_statements(SQLITE) {
                    txn.execute_unprepared(&stmt).await?;
                }
                txn.commit().await?;
            }
        }
        crate::run_all(manager, INDEXES).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("not reversible".into()))
    }
}
