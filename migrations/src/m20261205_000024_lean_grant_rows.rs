//! Fewer index entries and no foreign-key trigger on the rows every grant writes (ADR 0029,
//! issue 15 §1 and issue 14's `client_credentials` target).
//!
//! - `tokens_user` and `tokens_client` go. A token's user and client are always its grant
//!   family's (a token is minted from its family), so "every token of this user" or "of this
//!   client" is found through `grant_families_user` / `grant_families_client` and
//!   `tokens_family`. Each grant wrote two index entries per token that only revocation by user
//!   or by client and the account page's "last used" read.
//! - `grant_families.tenant_id` no longer references `tenants` (PostgreSQL). The check ran a
//!   trigger query and took a `FOR KEY SHARE` lock on the tenant's row for every family
//!   written: every grant of a tenant, on every node, locked the same row. Tenants are never
//!   deleted (removal is a state, `m20261204_000022_removal`), every family is written by code
//!   that has just read its tenant, and `tokens` and `audit_events` never had the reference.
//!   SQLite keeps it: dropping a constraint there means rebuilding the table, and its single
//!   writer has no lock to share.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000024_lean_grant_rows"
    }
}

const PG: &str = r#"
ALTER TABLE grant_families DROP CONSTRAINT IF EXISTS grant_families_tenant_id_fkey;
DROP INDEX IF EXISTS tokens_user;
DROP INDEX IF EXISTS tokens_client;
"#;

const SQLITE: &str = r#"
DROP INDEX IF EXISTS tokens_user;
DROP INDEX IF EXISTS tokens_client;
"#;

const DOWN_INDEXES: &str = r#"
CREATE INDEX tokens_user ON tokens(tenant_id, user_id);
CREATE INDEX tokens_client ON tokens(client_id);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => crate::run_all(manager, PG).await,
            _ => crate::run_all(manager, SQLITE).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_all(manager, DOWN_INDEXES).await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            crate::run_all(
                manager,
                "ALTER TABLE grant_families ADD CONSTRAINT grant_families_tenant_id_fkey \
                 FOREIGN KEY (tenant_id) REFERENCES tenants(id);",
            )
            .await?;
        }
        Ok(())
    }
}
