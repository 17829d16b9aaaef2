//! Hardening (issue 11, review F1): a browser session records whether it began with an
//! unsolicited (IdP-initiated) SAML response. Such a session was not started by the person on a
//! Gatehouse page, so it never authorizes an MCP client silently.
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000011_session_origin"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_all(
            manager,
            r#"
ALTER TABLE browser_sessions ADD COLUMN idp_initiated BOOLEAN NOT NULL DEFAULT FALSE;
"#,
        )
        .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("not reversible".into()))
    }
}
