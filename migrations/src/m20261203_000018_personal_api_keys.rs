//! Personal API keys for IDE clients (issue 14 §1). A key IS a grant family of kind `api_key`
//! with one `access` token row (the key's SHA-256, its expiry), so the gateway and
//! introspection need no new lookup and every revocation path reaches it. This table holds
//! what the family cannot: the person's name for the key, the IDE it was made for, the prefix
//! shown in lists, when it was last used (written at most once a minute) and whether its
//! expiry has been recorded in the audit log (once per key, by the maintenance sweep).
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000018_personal_api_keys"
    }
}

const SQL: &str = r#"
CREATE TABLE personal_api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  user_id TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  name TEXT NOT NULL,
  client_label TEXT NOT NULL,
  display_prefix TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  last_used_at BIGINT,
  expiry_recorded_at BIGINT
);
CREATE INDEX personal_api_keys_user ON personal_api_keys(tenant_id, user_id);
CREATE INDEX personal_api_keys_expiry ON personal_api_keys(expires_at);
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
