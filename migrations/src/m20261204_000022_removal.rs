//! Removal (issue 16 §2): a removed connection or tenant keeps its row, marked `removed_at`, so
//! that the users who signed in through it and the tenant's audit chain keep what they refer to
//! (ADR 0021). Every lookup skips a removed row: it is gone for sign-in and for every surface.
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000022_removal"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_all(
            manager,
            r#"
ALTER TABLE connections ADD COLUMN removed_at BIGINT;
ALTER TABLE tenants ADD COLUMN removed_at BIGINT;
CREATE TABLE operator_console_sessions (
  id_hash TEXT PRIMARY KEY,
  key_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT
);
"#,
        )
        .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("not reversible".into()))
    }
}
