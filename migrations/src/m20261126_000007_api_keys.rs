//! Admin API keys: operator keys (platform-wide) and tenant-admin keys (one tenant), stored as
//! SHA-256 hashes, expiring, revocable.
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000007_api_keys"
    }
}

const SQL: &str = r#"
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  tenant_id TEXT REFERENCES tenants(id),
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT,
  last_used_at BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_all(manager, SQL).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("not reversible".into()))
    }
}
