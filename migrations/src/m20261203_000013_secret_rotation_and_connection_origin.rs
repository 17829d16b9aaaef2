//! Resource-server secrets can be rotated with an overlap and revoked (review F11): the
//! previous secret's hash and until when it is still accepted. And who added a connection
//! (review F3): only connections the operator added may reach the operator's private ranges
//! and CA at sign-in; those added in the console use the public fetcher. An existing
//! connection counts as the operator's unless its `connection.created` audit record names
//! another actor (a tenant admin or a setup session); when that record is gone (retention), it
//! keeps working as before.
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000013_secret_rotation_and_connection_origin"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_all(
            manager,
            "ALTER TABLE resources ADD COLUMN rs_prev_secret_hash TEXT;
             ALTER TABLE resources ADD COLUMN rs_prev_secret_until BIGINT;
             ALTER TABLE connections ADD COLUMN operator_added BOOLEAN NOT NULL DEFAULT TRUE;
             UPDATE connections SET operator_added = FALSE WHERE EXISTS (
               SELECT 1 FROM audit_events a
               WHERE a.action = 'connection.created' AND a.actor <> 'operator'
                 AND a.details LIKE '%\"connection_id\":\"' || connections.id || '\"%');",
        )
        .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("not reversible".into()))
    }
}
