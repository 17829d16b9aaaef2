//! Dynamically registered clients that never complete an authorization are what an open
//! registration endpoint costs (security review 2026-12-03 F9, issue 11): each client records
//! the rate-limit key of the address that registered it and when it was first used, so the
//! unused ones can be capped per source and expire. Existing clients count as used.
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000012_dcr_unused_clients"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_all(
            manager,
            "ALTER TABLE clients ADD COLUMN registered_from TEXT;
             ALTER TABLE clients ADD COLUMN first_used_at BIGINT;
             UPDATE clients SET first_used_at = created_at;
             CREATE INDEX clients_unused_by_source ON clients (registered_from, first_used_at);",
        )
        .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("not reversible".into()))
    }
}
